"""GDPR through the HTTP API: the export bundle, erasure, and what an erased address may come back as."""
from __future__ import annotations

import pytest

from tests.helpers import DAY, contact, eventually, journey, post, publish, wait_event

FORM_CONSENT = {"email": True, "source": "signup form"}
LONG_JOURNEY = {"id": "nurture", "name": "Nurture",
                "trigger": {"event": "signup"},
                "steps": [{"id": "hello", "type": "email", "subject": "Hello", "html": "<p>Hello</p>"},
                          {"id": "later", "type": "wait", "duration": "P30D"},
                          {"id": "again", "type": "email", "subject": "Again", "html": "<p>Again</p>"}]}


def _import(api, body: str, query: str = "kind=contacts"):
    return api.post(f"/imports?{query}", raw=body.encode(), headers={"Content-Type": "text/csv"})


@pytest.mark.time_scale(DAY)
def test_export_bundles_fields_consent_events_messages_and_journeys(api):
    publish(api, LONG_JOURNEY)
    api.post("/lists", {"id": "vip", "name": "VIP"})
    post(api, "signup", "ana@example.com", consent=FORM_CONSENT, traits={"first_name": "Ana",
                                                                    "attributes": {"plan": "pro"}})
    ana = contact(api, "ana@example.com")["id"]
    api.post("/lists/vip/members", {"contact_id": ana})
    eventually(lambda: journey(api, "ana@example.com", "nurture")["path"][:1] == ["hello"])
    bundle = api.get(f"/contacts/{ana}/export")
    assert bundle.status_code == 200
    data = bundle.data
    assert data["contact"]["email"] == "ana@example.com" and data["contact"]["attributes"] == {"plan": "pro"}
    assert data["consent"]["email"] == {**data["consent"]["email"], "granted": True, "source": "signup form"}
    assert {"kind": "list", "id": "vip"}.items() <= data["memberships"][0].items()
    types = {event["type"] for event in data["events"]}
    assert {"signup", "contact.created", "list.joined", "journey.entered", "email.sent"} <= types
    assert [message["step"] for message in data["messages"]] == ["hello"]
    assert data["messages"][0]["to"] == "ana@example.com"
    assert [item["scenario"] for item in data["journeys"]] == ["nurture"]
    assert api.get("/contacts/nope/export").status_code == 404


@pytest.mark.time_scale(DAY)
def test_erasure_stops_journeys_and_forgets_everything(api):
    from chalicelib.scenarios import deployer
    from chalicelib.store.audience import Suppression
    from chalicelib.store.models import ContactKey, Enrollment, Event, Message

    publish(api, LONG_JOURNEY)
    api.post("/lists", {"id": "vip", "name": "VIP"})
    api.post("/segments", {"id": "pro", "name": "Pro", "criteria": {"field": "attributes.plan", "op": "eq",
                                                                    "value": "pro"}})
    post(api, "signup", "ana@example.com", consent=FORM_CONSENT, traits={"phone": "+33612345678",
                                                                    "attributes": {"plan": "pro"}})
    ana = contact(api, "ana@example.com")["id"]
    api.post("/lists/vip/members", {"contact_id": ana})
    wait_event(api, ana, "segment.entered", segment="pro")
    running = eventually(lambda: (lambda j: j if j["path"][:1] == ["hello"] else None)(
        journey(api, "ana@example.com", "nurture")))
    assert running["status"] == "running"
    execution_arn = Enrollment.get(ana, "nurture#once").execution_arn

    erased = api.delete(f"/contacts/{ana}")
    assert erased.status_code == 200 and erased.data["erased"] is True
    assert api.get(f"/contacts/{ana}").status_code == 404
    assert api.delete(f"/contacts/{ana}").status_code == 404
    assert api.get("/contacts?email=ana@example.com").data["items"] == []
    assert list(Event.query(ana)) == [] and list(Message.query(ana)) == [] and list(Enrollment.query(ana)) == []
    assert ContactKey.count("email:ana@example.com") == 0
    assert api.get("/lists/vip").data["count"] == 0 and api.get("/segments/pro").data["count"] == 0
    # moto's interpreter reflects a stop once the state it is in returns (on AWS, at once)
    assert eventually(lambda: deployer._sfn().describe_execution(executionArn=execution_arn)["status"] == "ABORTED")
    stored = [item.attribute_values for item in Suppression.scan()]
    assert len(stored) == 2 and {item["kind"] for item in stored} == {"email", "phone"}
    assert not any("ana@example.com" in str(item) or "612345678" in str(item) for item in stored)


def test_erasure_then_reimport_does_not_resubscribe(api):
    api.post("/contacts", {"email": "ana@example.com", "first_name": "Ana", "consent": FORM_CONSENT})
    ana = contact(api, "ana@example.com")["id"]
    assert api.delete(f"/contacts/{ana}").status_code == 200

    report = _import(api, "email;first_name;consent_email\nana@example.com;Ana;yes\nbob@example.com;Bob;yes\n").data
    assert [line["outcome"] for line in report["lines"]] == ["created", "created"]
    assert "erased" in report["lines"][0]["note"] and "note" not in report["lines"][1]
    back = contact(api, "ana@example.com")
    assert back["id"] != ana and back["first_name"] == "Ana" and back["consent"]["email"] is None
    assert contact(api, "bob@example.com")["consent"]["email"]["granted"] is True
    again = _import(api, "email;consent_email\nana@example.com;yes\n").data  # an update may not either
    assert again["lines"][0]["outcome"] == "skipped"
    assert contact(api, "ana@example.com")["consent"]["email"] is None

    post(api, "page_view", "ana@example.com")  # an event without consent leaves it so
    assert contact(api, "ana@example.com")["consent"]["email"] is None
    fresh = api.post("/contacts", {"email": "ana@example.com", "consent": {"email": True, "source": "new form"}})
    assert fresh.status_code == 200
    assert fresh.data["consent"]["email"] == {**fresh.data["consent"]["email"], "granted": True, "source": "new form"}


def test_a_new_signup_after_erasure_with_fresh_consent_is_recorded(api):
    post(api, "signup", "ana@example.com", consent=FORM_CONSENT)
    ana = contact(api, "ana@example.com")["id"]
    assert api.delete(f"/contacts/{ana}").status_code == 200
    post(api, "signup", "ana@example.com", consent={"email": True, "source": "came back"})
    back = contact(api, "ana@example.com")
    assert back["id"] != ana and back["consent"]["email"]["granted"] is True


def test_erasure_needs_a_writer(api):
    api.post("/contacts", {"email": "ana@example.com"})
    ana = contact(api, "ana@example.com")["id"]
    analyst = api.key_for("analyst")
    assert api.delete(f"/contacts/{ana}", key=analyst).status_code == 403
    assert api.get(f"/contacts/{ana}/export", key=analyst).status_code == 200
    ingest = api.key_for("ingest")
    assert api.get(f"/contacts/{ana}/export", key=ingest).status_code == 403
    assert api.delete("/contacts/nope").status_code == 404
