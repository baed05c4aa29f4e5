"""SES feedback (bounce, complaint, delivery, open, click) and inbound SMS through SNS, as AWS sends them."""
from __future__ import annotations

import json

import pytest

from tests.helpers import (
    DAY,
    contact,
    contact_id,
    email_to,
    events_of,
    eventually,
    fetch_pixel,
    links,
    message,
    one_email,
    provider_id,
    publish,
    publish_to_topic,
    scenario,
    ses_notification,
    signup,
)

SES = "parcours-ses-events"
SMS = "parcours-sms-inbound"


def _sent(api, email: str = "ana@example.com", scenario_id: str = "news") -> str:
    """Send one email through a journey; its SES message id."""
    publish(api, one_email(scenario_id))
    signup(api, email)
    assert message(api, email)["status"] == "sent"
    return provider_id(email)


def _second_send(api, email: str) -> dict:
    """Another marketing email to the contact (scenario `again`, event `visit`)."""
    publish(api, scenario("again", "visit", [{"id": "again", "type": "email", "subject": "Again",
                                               "html": "<p>Again</p>"}]))
    api.post("/events", {"type": "visit", "contact": {"email": email}})
    return message(api, email, "again")


@pytest.mark.time_scale(DAY)
def test_hard_bounce_suppresses_the_address(api):
    ses_id = _sent(api)
    publish_to_topic(SES, ses_notification("Bounce", ses_id, "ana@example.com"))
    publish_to_topic(SES, ses_notification("Bounce", ses_id, "ana@example.com"))  # SNS delivers twice
    [bounce] = events_of(api, contact_id(api, "ana@example.com"), "email.bounced")
    sent = message(api, "ana@example.com")
    assert bounce["properties"] == {"scenario": "news", "step": "mail", "message_id": sent["id"],
                                    "bounce_type": "Permanent", "bounce_subtype": "General", "status": "5.1.1",
                                    "diagnostic": "smtp; 550 5.1.1 user unknown"}
    assert sent["status"] == "bounced"
    assert sent["events"][-1]["type"] == "bounced" and sent["events"][-1]["bounce_type"] == "Permanent"
    assert contact(api, "ana@example.com")["email_status"] == "hard_bounce"
    changed = [e for e in events_of(api, contact_id(api, "ana@example.com"), "contact.updated")
               if "email_status" in e["properties"]["changed"]]
    assert len(changed) == 1
    skipped = _second_send(api, "ana@example.com")
    assert skipped["status"] == "skipped" and skipped["reason"] == "suppressed"


@pytest.mark.time_scale(DAY)
def test_complaint_in_the_notification_format_suppresses(api):
    ses_id = _sent(api)
    publish_to_topic(SES, ses_notification("Complaint", ses_id, "ana@example.com", key="notificationType"))
    [complaint] = events_of(api, contact_id(api, "ana@example.com"), "email.complained")
    assert complaint["properties"]["feedback_type"] == "abuse"
    assert message(api, "ana@example.com")["status"] == "complained"
    assert contact(api, "ana@example.com")["email_status"] == "complained"
    publish_to_topic(SES, ses_notification("Bounce", ses_id, "ana@example.com", bounce_type="Transient"))
    assert contact(api, "ana@example.com")["email_status"] == "complained"  # a later bounce does not undo it
    assert _second_send(api, "ana@example.com")["reason"] == "suppressed"


@pytest.mark.time_scale(DAY)
def test_delivery_then_open_and_click_from_ses_count_with_our_own_tracking(api):
    ses_id = _sent(api)
    publish_to_topic(SES, ses_notification("Delivery", ses_id, "ana@example.com"))
    [delivered] = events_of(api, contact_id(api, "ana@example.com"), "email.delivered")
    assert delivered["properties"]["step"] == "mail"
    assert message(api, "ana@example.com")["status"] == "delivered"
    [item] = email_to(api, "ana@example.com")
    found = links(item["html"])
    fetch_pixel(api, found["open"][0])
    publish_to_topic(SES, ses_notification("Open", ses_id, "ana@example.com"))  # SES's own open tracking
    assert len(events_of(api, contact_id(api, "ana@example.com"), "email.opened")) == 1
    tracked = "http://127.0.0.1:8000" + found["click"][0]  # SES reports the link as it was in the message
    publish_to_topic(SES, ses_notification("Click", ses_id, "ana@example.com", link=tracked))
    api.get(found["click"][0], key="")
    [click] = events_of(api, contact_id(api, "ana@example.com"), "email.clicked")
    assert click["properties"]["url"] == "https://shop.example.com/offer?a=1&b=2"
    sent = message(api, "ana@example.com")
    assert sent["status"] == "clicked"
    assert [entry["type"] for entry in sent["events"]] == ["sent", "delivered", "opened", "clicked"]
    publish_to_topic(SES, ses_notification("Delivery", ses_id, "ana@example.com"))
    assert message(api, "ana@example.com")["status"] == "clicked"  # a late notification never lowers it


@pytest.mark.time_scale(DAY)
def test_soft_bounces_in_a_row_make_the_address_hard_and_a_delivery_resets_them(api, monkeypatch):
    from chalicelib import config
    from chalicelib.store.models import Contact

    monkeypatch.setenv("PARCOURS_SOFT_BOUNCE_LIMIT", "2")
    config.reload()
    ses_id = _sent(api)

    def soft(n: int) -> None:
        publish_to_topic(SES, ses_notification("Bounce", f"{ses_id}-{n}", "ana@example.com",
                                               bounce_type="Transient"))

    def stored():
        return Contact.get(contact(api, "ana@example.com")["id"])

    soft(1)
    assert (stored().soft_bounces, stored().email_status) == (1, "soft_bounce")
    publish_to_topic(SES, ses_notification("Delivery", ses_id, "ana@example.com"))
    assert (stored().soft_bounces, stored().email_status) == (0, "valid")
    soft(2)
    soft(2)  # the same notification again: counted once
    assert stored().soft_bounces == 1
    soft(3)
    assert (stored().soft_bounces, stored().email_status) == (2, "hard_bounce")
    # without a known message, the bounce lands on the contact that has the address
    assert len(events_of(api, contact_id(api, "ana@example.com"), "email.bounced")) == 3
    assert _second_send(api, "ana@example.com")["reason"] == "suppressed"


def test_notifications_for_unknown_messages_or_garbage_change_nothing(api):
    import app as app_module
    from chalicelib.local.stack import sns_event

    api.post("/contacts", {"email": "ana@example.com"})
    arn = "arn:aws:sns:eu-west-3:123456789012:parcours-ses-events"
    for body in ("not json", "[]", json.dumps({"eventType": "Send", "mail": {"messageId": "x"}}),
                 json.dumps({"eventType": "Bounce"}), json.dumps({"eventType": "Bounce", "mail": {"messageId": "x"},
                                                                   "bounce": {"bouncedRecipients": "nope"}}),
                 json.dumps(ses_notification("Complaint", "unknown-id", "nobody@example.com"))):
        app_module.ses_events(sns_event(arn, "m-1", body), None)  # the documented SNS -> Lambda event
    assert contact(api, "ana@example.com")["email_status"] == "valid"
    report = app_module.ses_events(sns_event(arn, "m-2", json.dumps(
        ses_notification("Bounce", "unknown-id", "ANA@example.com"))), None)
    assert report == {"recorded": 1, "duplicates": 0, "ignored": 0}
    assert contact(api, "ana@example.com")["email_status"] == "hard_bounce"


def _inbound(number: str, body: str, inbound_id: str) -> dict:
    """The JSON SNS publishes for an inbound SMS (two-way SMS)."""
    return {"originationNumber": number, "destinationNumber": "+33700000000", "messageKeyword": "KEYWORD_123",
            "messageBody": body, "inboundMessageId": inbound_id, "previousPublishedMessageId": "unknown"}


@pytest.mark.time_scale(DAY)
def test_inbound_stop_reply_opts_out_of_sms(api):
    publish(api, scenario("texts", "visit", [{"id": "text", "type": "sms", "text": "Promo !"}]))
    api.post("/events", {"type": "signup", "contact": {"email": "ana@example.com"},
                         "traits": {"phone": "+33612345678"}, "consent": {"sms": True, "source": "form"}})
    api.post("/contacts", {"email": "other@example.com", "phone": "+33 6 12 34 56 78"})
    api.post("/contacts", {"email": "bob@example.com", "phone": "+33611111111"})
    publish_to_topic(SMS, _inbound("+33612345678", "Bonjour, c'est qui ?", "in-1"))
    assert contact(api, "ana@example.com")["sms_opt_out"] is False
    publish_to_topic(SMS, _inbound("+33612345678", "  Stop.", "in-2"))
    publish_to_topic(SMS, _inbound("+33612345678", "STOP", "in-3"))  # again: nothing more
    assert contact(api, "ana@example.com")["sms_opt_out"] is True
    assert contact(api, "other@example.com")["sms_opt_out"] is True  # every contact with the number
    assert contact(api, "bob@example.com")["sms_opt_out"] is False
    [event] = events_of(api, contact_id(api, "ana@example.com"), "sms.opted_out")
    assert event["properties"] == {"source": "STOP reply"}
    api.post("/events", {"type": "visit", "contact": {"email": "ana@example.com"}})
    skipped = message(api, "ana@example.com", "text")
    assert skipped["status"] == "skipped" and skipped["reason"] == "unsubscribed"
    publish_to_topic(SMS, "garbage")  # ignored, nothing breaks
    publish_to_topic(SMS, _inbound("not a number", "STOP", "in-4"))
    eventually(lambda: contact(api, "ana@example.com")["sms_opt_out"])


@pytest.mark.time_scale(DAY)
def test_posted_feedback_events_count_as_ses_and_sns_feedback(api):
    """History from another tool: an admin or marketer posting a bounce, a complaint or an SMS
    opt-out changes the contact as SES's or SNS's own feedback would, once per event id."""
    marketer = api.key_for("marketer")
    for name, phone in (("ana", "+33611111111"), ("bob", "+33622222222"), ("cy", "+33633333333"),
                        ("dan", "+33644444444")):
        api.post("/contacts", {"email": f"{name}@example.com", "phone": phone,
                               "consent": {"email": True, "sms": True}})

    def posted(event_type: str, email: str, key: str | None = None, **properties) -> None:
        body = {"id": f"{event_type}-{email}", "type": event_type, "contact": {"email": email},
                "properties": properties}
        assert api.post("/events", body, key=key).status_code == 202

    posted("email.bounced", "ana@example.com", marketer, bounce_type="Permanent")
    posted("email.complained", "bob@example.com")
    posted("sms.opted_out", "cy@example.com", marketer, source="old tool")
    posted("email.bounced", "dan@example.com", bounce_type="Transient")
    posted("email.bounced", "dan@example.com", bounce_type="Transient")  # the same event again: once
    eventually(lambda: contact(api, "ana@example.com")["email_status"] == "hard_bounce")
    eventually(lambda: contact(api, "bob@example.com")["email_status"] == "complained")
    eventually(lambda: contact(api, "cy@example.com")["sms_opt_out"] is True)
    eventually(lambda: contact(api, "dan@example.com")["email_status"] == "soft_bounce")
    from chalicelib.store.models import Contact

    assert Contact.get(contact(api, "dan@example.com")["id"]).soft_bounces == 1
    publish(api, scenario("both", "visit", [{"id": "mail", "type": "email", "subject": "Hi", "html": "<p>Hi</p>"},
                                            {"id": "text", "type": "sms", "text": "Hi"}]))
    for name in ("ana", "bob", "cy"):
        api.post("/events", {"type": "visit", "contact": {"email": f"{name}@example.com"}})
    assert message(api, "ana@example.com", "mail")["reason"] == "suppressed"
    assert message(api, "bob@example.com", "mail")["reason"] == "suppressed"
    assert message(api, "cy@example.com", "text")["reason"] == "unsubscribed"
    assert message(api, "cy@example.com", "mail")["status"] == "sent"
