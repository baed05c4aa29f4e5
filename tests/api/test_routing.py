"""The routing record (events.routing): an event nothing reads is stored without being queued,
and a reader added (a trigger, a wait_for, a goal, a segment, a score rule) never misses the
events that come after it, even in a function that cached the record before."""
from __future__ import annotations

import time

from tests.helpers import (
    CONSENT,
    contact,
    contact_id,
    events_of,
    eventually,
    journey,
    member_ids,
    post,
    publish,
    scenario,
    segment_ready,
    signup,
)

MAIL = {"id": "mail", "type": "email", "subject": "Hello", "html": "<p>Hello</p>"}


def _an_account_in_use(api) -> None:
    """A live scenario: the routing record is built, so what it does not list is skipped."""
    publish(api, scenario("welcome", "signup", [MAIL]))
    signup(api, "ana@example.com")


def test_an_event_nothing_reads_is_stored_and_a_trigger_published_later_reads_the_next_one(api):
    _an_account_in_use(api)
    post(api, "demo_booked", "ana@example.com", id="first")  # nothing reads it: stored, not queued
    assert [item["id"] for item in events_of(api, contact_id(api, "ana@example.com"), "demo_booked")] == ["c:first"]
    publish(api, scenario("demo", "demo_booked", [MAIL]))
    post(api, "demo_booked", "ana@example.com", id="second", consent=CONSENT)
    assert journey(api, "ana@example.com", "demo", status="completed")["path"] == ["mail"]


def test_a_wait_for_created_just_now_does_not_miss_its_event(api):
    _an_account_in_use(api)
    post(api, "demo_booked", "ana@example.com")  # the record, cached, says nothing reads demo_booked
    publish(api, scenario("trial", "trial_started", [
        {"id": "booked", "type": "wait_for", "event": "demo_booked", "timeout": "P7D",
         "then": [MAIL], "else": []}]))
    post(api, "trial_started", "ana@example.com", consent=CONSENT)
    eventually(lambda: journey(api, "ana@example.com", "trial")["current_step"] == "booked")
    post(api, "demo_booked", "ana@example.com")
    assert journey(api, "ana@example.com", "trial", status="completed")["path"] == ["booked", "mail"]


def test_a_goal_published_just_now_converts_on_its_event(api):
    _an_account_in_use(api)
    post(api, "demo_booked", "ana@example.com")
    publish(api, scenario("nurture", "trial_started", [{"id": "pause", "type": "wait", "duration": "P7D"}, MAIL],
                          goals=[{"event": "demo_booked"}]))
    post(api, "trial_started", "ana@example.com", consent=CONSENT)
    journey(api, "ana@example.com", "nurture", status="running")
    post(api, "demo_booked", "ana@example.com")
    assert journey(api, "ana@example.com", "nurture", status="converted")["status"] == "converted"


def test_a_segment_and_a_score_rule_saved_just_now_read_the_next_event(api):
    _an_account_in_use(api)
    post(api, "webinar_attended", "ana@example.com")
    before = contact(api, "ana@example.com")["score"]
    created = api.post("/segments", {"id": "attendees", "name": "Attendees",
                                     "criteria": {"event": "webinar_attended", "count": {"gte": 2}}})
    assert created.status_code == 201, created.data
    segment_ready(api, "attendees")
    scoring = api.put("/settings/scoring", {"rules": [{"event": "webinar_attended", "points": 7}]})
    assert scoring.status_code == 200, scoring.data
    eventually(lambda: api.get("/settings/scoring").data.get("rescore", {}).get("status") in (None, "done"))
    post(api, "webinar_attended", "ana@example.com")
    ana = contact_id(api, "ana@example.com")
    eventually(lambda: ana in member_ids(api, "attendees"))
    eventually(lambda: (contact(api, "ana@example.com")["score"] or 0) >= (before or 0) + 7)


def test_a_reader_takes_effect_only_once_every_copy_cached_before_has_expired(api, monkeypatch):
    """As on AWS, where each function has its own copy of the record: publishing waits the cache
    time after writing it, so a copy taken before the publish knows the trigger by the time the
    scenario is live."""
    from chalicelib import config
    from chalicelib.events import routing

    _an_account_in_use(api)
    another_function = routing.Cache()
    assert "trigger:demo_booked" not in another_function.facts()
    monkeypatch.setenv("PARCOURS_ROUTING_CACHE_SECONDS", "0.6")
    monkeypatch.setenv("PARCOURS_LOCAL", "0")  # other processes may hold copies: wait for them
    config.reload()
    try:
        assert "trigger:demo_booked" not in another_function.facts()  # cached from now on
        started = time.monotonic()
        created = api.post("/scenarios", scenario("demo", "demo_booked", [MAIL]))
        assert created.status_code == 201, created.data
        published = api.post("/scenarios/demo/publish")
        assert published.status_code == 200, published.data
        assert time.monotonic() - started >= 0.6
        assert "trigger:demo_booked" in another_function.facts()
        started = time.monotonic()
        assert api.put("/settings/scoring", {"rules": [{"event": "demo_booked", "points": 5}]}).status_code == 200
        assert time.monotonic() - started >= 0.6
        assert "score:demo_booked" in another_function.facts()
        started = time.monotonic()
        created = api.post("/segments", {"id": "demoed", "name": "Demoed", "criteria": {"event": "demo_booked"}})
        assert created.status_code == 201, created.data
        assert time.monotonic() - started >= 0.6
        assert "segment-dep:event:demo_booked" in another_function.facts()
        time.sleep(0.6)
        started = time.monotonic()  # what every copy knows already takes effect at once
        created = api.post("/segments", {"id": "demoed-twice", "name": "Demoed twice",
                                         "criteria": {"event": "demo_booked", "count": {"gte": 2}}})
        assert created.status_code == 201, created.data
        assert time.monotonic() - started < 0.6
    finally:
        monkeypatch.undo()
        config.reload()
