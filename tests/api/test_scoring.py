"""Lead scoring through the HTTP API: rules, decay, stages and their events, rescoring, bad input."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib import clock
from chalicelib.scoring import rules
from tests.helpers import contact, error_paths, events_of, eventually, journey, post, publish, run_schedule, wait_event

PURCHASES = {"rules": [{"event": "purchase", "points": 20},
                       {"event": "page_view", "where": {"field": "properties.url", "op": "starts_with",
                                                        "value": "/pricing"}, "points": 5}],
             "half_life": "P10D", "stages": {"lead": 1, "MQL": 25, "SQL": 60}}


def _put(api, body: dict) -> dict:
    response = api.put("/settings/scoring", body)
    assert response.status_code == 200, response.data
    return response.data


def _score(api, email: str) -> tuple[float, str]:
    found = contact(api, email)
    return found["score"], found["stage"]


def test_defaults_and_settings_round_trip(api):
    defaults = api.get("/settings/scoring").data
    assert defaults["half_life"] == "P30D" and defaults["stages"] == {"lead": 1, "MQL": 25, "SQL": 60}
    assert {"event": "purchase", "points": 20} in defaults["rules"]
    stored = _put(api, PURCHASES)
    assert stored["rules"] == PURCHASES["rules"] and stored["rescore"]["kind"] == "rescore"
    assert api.get("/settings/scoring").data["half_life"] == "P10D"


def test_event_points_decay_with_the_half_life_and_move_the_stage(api):
    _put(api, PURCHASES)
    ten_days_ago = clock.iso(clock.now() - timedelta(days=10))
    post(api, "purchase", "ana@example.com", id="p-old", timestamp=ten_days_ago)
    eventually(lambda: _score(api, "ana@example.com")[0] > 0)
    assert _score(api, "ana@example.com") == (10.0, "lead")  # 20 points, one half-life ago
    ana = contact(api, "ana@example.com")["id"]
    post(api, "page_view", "ana@example.com", id="v-pricing", properties={"url": "/pricing/team"})
    post(api, "page_view", "ana@example.com", id="v-blog", properties={"url": "/blog"})  # no rule matches
    eventually(lambda: _score(api, "ana@example.com")[0] >= 15)
    post(api, "purchase", "ana@example.com", id="p-new")
    eventually(lambda: _score(api, "ana@example.com")[1] == "MQL")
    score, _ = _score(api, "ana@example.com")
    expected = rules.score(PURCHASES, [(clock.parse_iso(ten_days_ago), 20), (clock.now(), 5), (clock.now(), 20)], 0)
    assert score == pytest.approx(expected, abs=0.05) and score == pytest.approx(35, abs=0.05)
    stage = wait_event(api, ana, "stage.changed", stage="MQL")
    assert stage["properties"]["previous"] == "lead"
    changes = events_of(api, ana, "score.changed")
    assert sorted(event["properties"]["by"] for event in changes) == ["c:p-new", "c:p-old", "c:v-pricing"]

    clock.advance(timedelta(days=20))  # two half-lives: 35 -> about 8.75
    run_schedule("audience_daily")
    eventually(lambda: _score(api, "ana@example.com")[1] == "lead")
    assert _score(api, "ana@example.com")[0] == pytest.approx(expected / 4, abs=0.05)
    wait_event(api, ana, "stage.changed", stage="lead", previous="MQL")


def test_a_redelivered_event_scores_once(api):
    from chalicelib.audience import react

    _put(api, PURCHASES)
    post(api, "purchase", "ana@example.com", id="p-1")
    eventually(lambda: _score(api, "ana@example.com")[0] == 20)
    stored = next(event for event in events_of(api, contact(api, "ana@example.com")["id"], "purchase"))
    react.on_event(stored)  # SQS delivers at least once
    assert _score(api, "ana@example.com")[0] == 20


def test_profile_points_follow_field_changes(api):
    _put(api, {"rules": [{"criteria": {"field": "attributes.plan", "op": "eq", "value": "pro"}, "points": 30}],
               "half_life": None})
    api.post("/contacts", {"email": "ana@example.com"})
    ana = contact(api, "ana@example.com")["id"]
    api.patch(f"/contacts/{ana}", {"attributes": {"plan": "pro"}})
    eventually(lambda: _score(api, "ana@example.com") == (30, "MQL"))
    api.patch(f"/contacts/{ana}", {"attributes": {"plan": "free"}})
    eventually(lambda: _score(api, "ana@example.com") == (0, "visitor"))
    wait_event(api, ana, "stage.changed", stage="visitor", previous="MQL")


def test_a_stage_change_starts_a_scenario(api):
    _put(api, PURCHASES)
    publish(api, {"id": "mql-alert", "name": "MQL follow-up",
                  "trigger": {"event": "stage.changed", "where": {"field": "properties.stage", "op": "eq",
                                                                   "value": "MQL"}},
                  "steps": [{"id": "call-me", "type": "email", "subject": "Shall we talk?",
                             "html": "<p>Hello</p>"}]})
    post(api, "purchase", "ana@example.com", consent={"email": True, "source": "test"})
    post(api, "purchase", "ana@example.com")
    assert journey(api, "ana@example.com", "mql-alert", status="completed")["path"] == ["call-me"]


def test_step_points_are_added_once_and_decay_like_event_points(api):
    from chalicelib.audience import react

    api.post("/contacts", {"email": "ana@example.com"})
    ana = contact(api, "ana@example.com")["id"]
    reason = {"scenario": "loyal-customers", "step": "loyal-points"}
    assert react.add_points(ana, 30, reason=reason, event_id="enr-1/loyal-points") is True
    assert react.add_points(ana, 30, reason=reason, event_id="enr-1/loyal-points") is False
    assert _score(api, "ana@example.com") == (30, "MQL")
    changed = wait_event(api, ana, "score.changed", scenario="loyal-customers")
    assert changed["properties"]["points"] == 30


def test_new_rules_rescore_every_contact_from_its_history(api):
    post(api, "download", "ana@example.com")
    post(api, "download", "ana@example.com")
    eventually(lambda: len(events_of(api, contact(api, "ana@example.com")["id"], "download")) == 2)
    assert _score(api, "ana@example.com")[0] == 0
    body = _put(api, {"rules": [{"event": "download", "points": 15}], "half_life": None})
    job = body["rescore"]["id"]
    eventually(lambda: api.get("/settings/scoring").data["rescore"]["status"] == "done")
    assert api.get("/settings/scoring").data["rescore"]["id"] == job
    assert _score(api, "ana@example.com") == (30, "MQL")


def test_bad_settings_are_refused_with_paths(api):
    bad = api.put("/settings/scoring", {
        "rules": [{"event": "purchase", "points": "many"}, {"event": "score.changed", "points": 1},
                  {"criteria": {"field": "score", "op": "gt", "value": 3}, "points": 1}],
        "half_life": "a month", "stages": {"lead": 10, "MQL": 5}, "colour": "red"})
    assert bad.status_code == 422
    assert sorted(error_paths(bad)) == sorted(["colour", "rules[0].points", "rules[2].criteria.field", "half_life",
                                               "stages.MQL", "rules[1].event"])
    assert api.put("/settings/scoring", raw="nope").status_code == 400
    assert api.put("/settings/scoring", ["rules"]).status_code == 422
    analyst = api.key_for("analyst")
    assert api.put("/settings/scoring", PURCHASES, key=analyst).status_code == 403
    assert api.get("/settings/scoring", key=analyst).status_code == 200


def test_events_delivered_around_a_rescore_count_once(api):
    from chalicelib.audience import react
    from chalicelib.events import service as events

    api.post("/contacts", {"email": "ana@example.com"})
    ana = contact(api, "ana@example.com")["id"]
    early = events.record(ana, "download", {}, event_id="d-early")  # stored, not yet delivered
    _put(api, {"rules": [{"event": "download", "points": 15}], "half_life": None})
    eventually(lambda: api.get("/settings/scoring").data["rescore"]["status"] == "done")
    assert _score(api, "ana@example.com")[0] == 15  # the rescore counted it from history
    react.on_event(early)  # its late delivery adds nothing
    assert _score(api, "ana@example.com")[0] == 15
    late = events.record(ana, "download", {}, event_id="d-late")
    react.on_event(late)
    react.on_event(late)
    assert _score(api, "ana@example.com") == (30, "MQL")
