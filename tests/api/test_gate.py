"""The send gate through journeys: every reason to skip, frequency caps across scenarios, quiet hours
in the contact's time zone, and sends that never happen twice."""
from __future__ import annotations

import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import (
    DAY,
    contact,
    contact_id,
    email_to,
    events_of,
    eventually,
    journey,
    message,
    messages,
    one_email,
    outbox,
    publish,
    publish_to_topic,
    scenario,
    ses_notification,
)

MAIL = {"id": "mail", "type": "email", "subject": "News", "html": "<p>News</p>"}
TEXT = {"id": "text", "type": "sms", "text": "News"}
AFTER = {"id": "after", "type": "score", "points": 1}


def _enter(api, email: str, *, phone: str | None = None, consent: dict | None = None, event: str = "go") -> None:
    body: dict = {"type": event, "contact": {"email": email}}
    if phone:
        body["traits"] = {"phone": phone}
    if consent is not None:
        body["consent"] = {**consent, "source": "test"}
    response = api.post("/events", body)
    assert response.status_code == 202, response.data


def _outcomes(api, email: str) -> dict[str, str]:
    journey(api, email, "gate", status="completed")
    return {item["step"]: item["status"] if item["status"] != "skipped" else f"skipped:{item['reason']}"
            for item in messages(api, email)}


@pytest.mark.time_scale(DAY)
def test_every_reason_to_skip_is_recorded_and_the_journey_goes_on(api, monkeypatch):
    from chalicelib.channels import providers

    publish(api, scenario("gate", "go", [MAIL, TEXT, AFTER]))
    # suppressed through our records: a hard bounce came back earlier (complaints: test_feedback)
    api.post("/contacts", {"email": "bounced@example.com", "consent": {"email": True}})
    from chalicelib.channels import feedback

    feedback.mark_bounce(contact_id(api, "bounced@example.com"), permanent=True, origin="test-bounce")
    # suppressed through SES's account suppression list (when reachable)
    monkeypatch.setattr(providers, "on_suppression_list", lambda email: email == "listed@example.com")

    _enter(api, "ok@example.com", phone="+33612345678", consent={"email": True, "sms": True})
    _enter(api, "none@example.com", phone="+33612345670")
    _enter(api, "out@example.com", phone="+33612345671", consent={"email": False, "sms": False})
    _enter(api, "bounced@example.com")
    _enter(api, "listed@example.com", consent={"email": True})
    _enter(api, "optout@example.com", phone="+33612345699", consent={"sms": True})  # on moto's opt-out list

    assert _outcomes(api, "ok@example.com") == {"mail": "sent", "text": "sent"}
    assert _outcomes(api, "none@example.com") == {"mail": "skipped:no_consent", "text": "skipped:no_consent"}
    assert _outcomes(api, "out@example.com") == {"mail": "skipped:unsubscribed", "text": "skipped:unsubscribed"}
    assert _outcomes(api, "bounced@example.com") == {"mail": "skipped:suppressed", "text": "skipped:no_address"}
    assert _outcomes(api, "listed@example.com")["mail"] == "skipped:suppressed"
    assert _outcomes(api, "optout@example.com") == {"mail": "skipped:no_consent", "text": "skipped:unsubscribed"}
    for email in ("none@example.com", "out@example.com", "bounced@example.com", "listed@example.com"):
        assert journey(api, email, "gate")["path"] == ["mail", "text", "after"]  # the journey went on
        assert contact(api, email)["score"] == 1
    assert journey(api, "ok@example.com", "gate")["path"] == ["mail", "text", "after"]
    # the SNS opt-out list is remembered on the contact
    assert contact(api, "optout@example.com")["sms_opt_out"] is True
    [opted] = events_of(api, contact_id(api, "optout@example.com"), "sms.opted_out")
    assert opted["properties"] == {"source": "sns opt-out list"}
    # only the allowed messages went out
    assert sorted(item["to"] for item in outbox(api)) == ["+33612345678", "ok@example.com"]


@pytest.mark.time_scale(DAY)
def test_transactional_steps_skip_consent_and_caps_but_never_suppression(api, monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("PARCOURS_MAX_PER_DAY", "1")
    config.reload()
    publish(api, scenario("gate", "go", [{**MAIL, "transactional": True}, {**MAIL, "id": "mail2"},
                                         {**MAIL, "id": "mail3", "transactional": True}]))
    _enter(api, "ana@example.com", consent={"email": True})
    _enter(api, "bob@example.com")
    publish_to_topic("parcours-ses-events", ses_notification("Bounce", "unknown", "bob@example.com"))
    assert _outcomes(api, "ana@example.com") == {"mail": "sent", "mail2": "sent", "mail3": "sent"}
    # Bob gave no consent (transactional mail goes), then hard-bounced (nothing goes any more)
    outcomes = _outcomes(api, "bob@example.com")
    assert outcomes["mail2"] in ("skipped:no_consent", "skipped:suppressed")
    assert outcomes["mail3"] == "skipped:suppressed"


@pytest.mark.time_scale(DAY)
def test_frequency_cap_across_two_scenarios(api, monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("PARCOURS_MAX_PER_DAY", "1")
    monkeypatch.setenv("PARCOURS_MAX_PER_WEEK", "3")
    config.reload()
    # two scenarios on the same event: their sends race; the cap holds all the same
    publish(api, one_email("first", "signup", subject="First", html="<p>1</p>"))
    publish(api, one_email("second", "signup", subject="Second", html="<p>2</p>"))
    publish(api, scenario("receipt", "signup", [{"id": "receipt", "type": "email", "subject": "Receipt",
                                                 "text": "Thanks", "transactional": True}]))
    for email in ("ana@example.com", "bob@example.com", "cy@example.com"):
        _enter(api, email, consent={"email": True}, event="signup")
    for email in ("ana@example.com", "bob@example.com", "cy@example.com"):
        for name in ("first", "second", "receipt"):
            journey(api, email, name, status="completed")
        statuses = sorted(f"{item['scenario']}:{item['status']}:{item['reason']}" for item in messages(api, email))
        assert statuses in (["first:sent:None", "receipt:sent:None", "second:skipped:capped"],
                            ["first:skipped:capped", "receipt:sent:None", "second:sent:None"]), statuses
        assert len(email_to(api, email, count=2)) == 2  # one marketing email and the receipt


def test_caps_count_a_rolling_day_and_week(api, monkeypatch):
    from chalicelib import clock
    from chalicelib.channels import caps
    from chalicelib.channels.gate import Caps

    limits = Caps(per_day=2, per_week=3)
    assert caps.reserve("c-1", "m-1", limits) and caps.reserve("c-1", "m-2", limits)
    assert not caps.reserve("c-1", "m-3", limits)  # two today
    assert caps.reserve("c-1", "m-2", limits)  # a retried send keeps its place
    clock.advance(timedelta(hours=25))
    assert caps.reserve("c-1", "m-3", limits)
    assert not caps.reserve("c-1", "m-4", limits)  # three this week
    caps.release("c-1", "m-3")  # a send that did not go out gives its place back
    assert caps.reserve("c-1", "m-4", limits)
    assert caps.recent("c-1") == (1, 3)
    # past the week: a send exactly seven days old still counts, to the millisecond the ledger keeps,
    # and with the local stack's direct calls less than a millisecond can pass between two lines here
    clock.advance(timedelta(days=7, seconds=1))
    assert caps.recent("c-1") == (0, 0) and caps.reserve("c-1", "m-5", limits)
    assert caps.reserve("c-1", "m-6", Caps())  # no caps, no ledger


@pytest.mark.time_scale(3600)  # one hour of the domain lasts one second
def test_quiet_hours_hold_a_send_until_morning_in_the_contacts_time_zone(api):
    from chalicelib import clock

    publish(api, scenario("gate", "go", [MAIL], settings={"quiet_hours": {"from": "21:00", "to": "08:00"},
                                                           "timezone": "Europe/Paris"}))
    tokyo = ZoneInfo("Asia/Tokyo")
    local = clock.now().astimezone(tokyo)
    four = local.replace(hour=4, minute=0, second=0, microsecond=0)
    if four <= local:
        four += timedelta(days=1)
    clock.advance(four - local)  # 04:00 in Tokyo: quiet for four more hours; 14:00 or 15:00 in New York
    api.post("/contacts", {"email": "tokyo@example.com", "timezone": "Asia/Tokyo", "consent": {"email": True}})
    api.post("/contacts", {"email": "ny@example.com", "timezone": "America/New_York", "consent": {"email": True}})
    posted = clock.now()
    _enter(api, "tokyo@example.com")
    _enter(api, "ny@example.com")
    ny = message(api, "ny@example.com")
    assert ny["status"] == "sent"
    tokyo_sent = message(api, "tokyo@example.com", timeout=30)
    assert tokyo_sent["status"] == "sent"
    # held until 08:00 in Tokyo: four hours of domain time, about four seconds here; New York,
    # mid-afternoon, was not held
    waited = clock.parse_iso(tokyo_sent["sent_at"]) - posted
    assert waited >= timedelta(seconds=2), waited
    assert tokyo_sent["sent_at"] > ny["sent_at"]
    assert journey(api, "tokyo@example.com", "gate", status="completed")["path"] == ["mail"]


@pytest.mark.time_scale(DAY)
def test_a_retried_step_never_sends_twice(api):
    import app as app_module
    from chalicelib.channels import messages as channel_messages
    from chalicelib.contacts import service
    from chalicelib.scenarios import journeys

    publish(api, scenario("gate", "go", [{"id": "hold", "type": "wait", "duration": "P30D"}, MAIL]))
    _enter(api, "ana@example.com", consent={"email": True})
    running = journey(api, "ana@example.com", "gate")
    enrollment = journeys.get(contact_id(api, "ana@example.com"), f"gate#{'once'}")
    assert running["status"] == "running" and enrollment is not None
    payload = {"action": "step", "step": "mail", "next": None, "last": False,
               **journeys.payload(enrollment, {})}
    payload.pop("timeouts")
    assert app_module.step_runner(payload, None) == {"result": "sent"}
    assert app_module.step_runner(payload, None) == {"result": "done"}  # the same Task, retried
    # even below the runner (the path not recorded yet when the Lambda died), the message is claimed once
    stored = service.get(enrollment.contact_id)
    assert channel_messages.send_step(MAIL, stored, journeys.get(enrollment.contact_id, enrollment.key),
                                      {"id": "gate"}) == "sent"
    assert len(email_to(api, "ana@example.com")) == 1
    time.sleep(0.2)
    assert len([item for item in outbox(api) if item["channel"] == "email"]) == 1
    assert len(events_of(api, contact_id(api, "ana@example.com"), "email.sent")) == 1
    assert [item["status"] for item in messages(api, "ana@example.com")] == ["sent"]


@pytest.mark.time_scale(DAY)
def test_a_throttled_send_is_retried_and_sent_once(api, monkeypatch):
    from chalicelib import config
    from chalicelib.channels import messages as channel_messages
    from chalicelib.channels import providers
    from chalicelib.contacts import service
    from chalicelib.scenarios.errors import Throttled
    from chalicelib.store.models import Enrollment

    monkeypatch.setenv("PARCOURS_MAX_PER_DAY", "1")
    config.reload()
    api.post("/contacts", {"email": "ana@example.com", "consent": {"email": True}})
    stored = service.find(service.Identity(email="ana@example.com"))
    enrollment = Enrollment(stored.id, "manual#once", id="manual-1", scenario_id="manual", trigger={})
    real = providers.send_email
    calls = []

    def flaky(message, to=None):
        calls.append(to)
        if len(calls) == 1:
            raise Throttled("slow down")
        return real(message, to=to)

    monkeypatch.setattr(providers, "send_email", flaky)
    with pytest.raises(Throttled):
        channel_messages.send_step(MAIL, stored, enrollment, {"id": "manual"})
    assert messages(api, "ana@example.com") == []  # the claim is given back for the retry
    assert channel_messages.send_step(MAIL, stored, enrollment, {"id": "manual"}) == "sent"  # not capped
    assert channel_messages.send_step(MAIL, stored, enrollment, {"id": "manual"}) == "sent"
    assert len(calls) == 2 and len(email_to(api, "ana@example.com")) == 1
    eventually(lambda: len(events_of(api, contact_id(api, "ana@example.com"), "email.sent")) == 1)
