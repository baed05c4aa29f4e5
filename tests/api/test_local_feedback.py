"""Local routes that play what SES and SNS send back (POST /local/ses-events, /local/sms-inbound)."""
from __future__ import annotations

import dataclasses

import pytest

from tests.helpers import (
    DAY,
    contact,
    contact_id,
    email_to,
    events_of,
    eventually,
    links,
    message,
    one_email,
    publish,
    signup,
)


def _sent(api, email: str = "ana@example.com") -> dict:
    publish(api, one_email())
    signup(api, email)
    [mail] = email_to(api, email)
    return mail


@pytest.mark.time_scale(DAY)
def test_playing_ses_feedback_on_a_sent_email(api):
    mail = _sent(api)
    base = mail["html"].split("/t/", 1)[0].rsplit('"', 1)[-1]
    click = base + links(mail["html"])["click"][0]
    for event, extra in (("delivery", {}), ("open", {}), ("click", {"url": click})):
        played = api.post("/local/ses-events", {"message_id": mail["id"], "event": event, **extra})
        assert played.status_code == 202, played.data
    [clicked] = events_of(api, contact_id(api, "ana@example.com"), "email.clicked")
    assert clicked["properties"]["url"] == "https://shop.example.com/offer?a=1&b=2"
    assert [entry["type"] for entry in message(api, "ana@example.com")["events"]] == [
        "sent", "delivered", "opened", "clicked"]
    assert api.post("/local/ses-events", {"message_id": mail["id"], "event": "bounce"}).status_code == 202
    assert contact(api, "ana@example.com")["email_status"] == "hard_bounce"
    [bounce] = events_of(api, contact_id(api, "ana@example.com"), "email.bounced")
    assert bounce["properties"]["bounce_type"] == "Permanent"


@pytest.mark.time_scale(DAY)
def test_a_soft_bounce_and_a_complaint(api):
    mail = _sent(api)
    assert api.post("/local/ses-events", {"message_id": mail["id"], "event": "soft_bounce"}).status_code == 202
    assert contact(api, "ana@example.com")["email_status"] == "soft_bounce"
    assert api.post("/local/ses-events", {"message_id": mail["id"], "event": "complaint"}).status_code == 202
    assert contact(api, "ana@example.com")["email_status"] == "complained"
    assert message(api, "ana@example.com")["status"] == "complained"


def test_playing_an_sms_stop_reply(api):
    api.post("/contacts", {"email": "ana@example.com", "phone": "+33612345678", "consent": {"sms": True}})
    played = api.post("/local/sms-inbound", {"from": "+33 6 12 34 56 78", "text": "STOP"})
    assert played.status_code == 202, played.data
    eventually(lambda: contact(api, "ana@example.com")["sms_opt_out"])
    [event] = events_of(api, contact_id(api, "ana@example.com"), "sms.opted_out")
    assert event["properties"] == {"source": "STOP reply"}


def test_bad_requests_are_explained(api):
    def problems(path: str, body) -> dict:
        response = api.post(path, body)
        assert response.status_code == 422, response.data
        return {item["path"]: item["message"] for item in response.data["error"]["details"]}

    assert "message_id" in problems("/local/ses-events", {"event": "bounce"})
    assert "bounce, soft_bounce" in problems("/local/ses-events", {"message_id": "x", "event": "explode"})["event"]
    assert "url" in problems("/local/ses-events", {"message_id": "x", "event": "click"})
    assert set(problems("/local/sms-inbound", {"from": "nope"})) == {"from", "text"}
    unknown = api.post("/local/ses-events", {"message_id": "not-sent", "event": "bounce"})
    assert unknown.status_code == 404 and unknown.data["error"]["code"] == "not_found"
    assert api.post("/local/sms-inbound", {"from": "+33612345678", "text": "STOP"},
                    key=api.key_for("marketer")).status_code == 403


def test_local_routes_are_404_off_the_local_stack(api, monkeypatch):
    from chalicelib.api import local_feedback
    from chalicelib.config import settings

    remote = dataclasses.replace(settings(), local=False)
    monkeypatch.setattr(local_feedback, "settings", lambda: remote)
    for path in ("/local/ses-events", "/local/sms-inbound"):
        response = api.post(path, {})
        assert response.status_code == 404 and response.data["error"]["code"] == "not_found"
