"""Faults injected at the AWS client, at every call site at once: throttling, 5xx and timeouts on
DynamoDB, Step Functions, SES and SQS, standing for botocore's own retries having run out.

Whichever call meets the fault (ingestion, the automation queue's consumer, the step runner,
feedback), the reference scenarios end with every contact on the right path, each message
sent once, no journey lost or failed and no event lost. A client that gets a 503 posts the
same events again, with their ids, as clients must.
"""
from __future__ import annotations

import time

import pytest

from tests.helpers import (
    CONSENT,
    DAY,
    aws_faults,
    contact,
    contact_id,
    email_to,
    events_of,
    eventually,
    journey,
    journeys,
    message,
    observing,
    one_email,
    outbox,
    provider_id,
    publish,
    publish_to_topic,
    reference,
    scenario,
    sent_steps,
    ses_notification,
)


def _deliver(api, *events: dict) -> None:
    """POST /events as a careful client does: the same ids again until accepted."""
    for _ in range(40):
        response = api.post("/events", {"events": list(events)})
        if response.status_code == 202 and not any(item.get("retry") for item in response.data["rejected"]):
            return
        assert response.status_code in (202, 503), response.data  # "not now", never a 500 or a 422
        time.sleep(0.1)
    raise AssertionError("the events were never accepted")


def _event(event_id: str, event_type: str, email: str, **fields) -> dict:
    return {"id": event_id, "type": event_type, "contact": {"email": email}, **fields}


def _run_references(api) -> None:
    """welcome-series (email, wait, if) for two contacts, zero-waste (email, wait_for resumed by a
    click, exit) for a third: the paths, and one email per step, whatever failed on the way."""
    _deliver(api, _event("ana-signup", "signup", "ana@example.com", consent=CONSENT, traits={"first_name": "Ana"}),
             _event("bob-signup", "signup", "bob@example.com", consent=CONSENT),
             _event("carl-inactive", "segment.entered", "carl@example.com", consent=CONSENT,
                    properties={"segment": "inactive-6-months"}))
    _deliver(api, _event("ana-profile", "profile_saved", "ana@example.com",
                         traits={"attributes": {"profile_completed": True}}))
    with observing():
        eventually(lambda: "last-chance" in sent_steps(api, "carl@example.com"), timeout=120)
    _deliver(api, _event("carl-click", "email.clicked", "carl@example.com",
                         properties={"step": "last-chance", "url": "https://example.com/news"}))
    with observing():
        _check_paths(api)


def _check_paths(api) -> None:
    assert journey(api, "ana@example.com", "welcome-series", status="completed", timeout=180)["path"] == \
        ["welcome", "profile-done", "discover"]
    assert journey(api, "bob@example.com", "welcome-series", status="completed", timeout=180)["path"] == \
        ["welcome", "profile-done", "complete-profile"]
    assert journey(api, "carl@example.com", "zero-waste", status="exited", timeout=180)["path"] == \
        ["last-chance", "react", "kept"]
    for email, count in (("ana@example.com", 2), ("bob@example.com", 2), ("carl@example.com", 1)):
        sent = email_to(api, email, count=count)
        assert len(sent) == count, [item["subject"] for item in sent]  # each step's email once
        assert all(j["status"] != "failed" for j in journeys(api, email))
    assert api.get(f"/contacts/{contact_id(api, 'carl@example.com')}").status_code == 200


CALL_SITES = [
    ("dynamodb", "TransactWriteItems"),  # ingestion stores an event with its contact
    ("dynamodb", "GetItem"),  # everywhere: contacts, enrollments, messages
    ("dynamodb", "UpdateItem"),  # journeys recorded, claims, send ledger, slots
    ("dynamodb", "PutItem"),  # message claims, enrollments, waits
    ("dynamodb", "Query"),  # triggers, waits, history look-backs
    ("sqs", "SendMessageBatch"),  # ingestion hands events to automation
    ("stepfunctions", "StartExecution"),
    ("stepfunctions", "SendTaskSuccess"),
    ("sesv2", "SendEmail"),
]
QUICK = {("sesv2", "SendEmail")}  # in make test; every other case in make test-slow


def _cases():
    for service, operation in CALL_SITES:
        for kind in ("throttle", "5xx", "timeout"):
            quick = (service, operation) in QUICK and kind == "throttle"
            yield pytest.param(service, operation, kind, id=f"{service}.{operation}-{kind}",
                               marks=() if quick else pytest.mark.slow)


@pytest.mark.time_scale(DAY)
@pytest.mark.parametrize(("service", "operation", "kind"), list(_cases()))
def test_reference_scenarios_run_right_through_faults(api, service, operation, kind):
    publish(api, reference("welcome-series"))
    publish(api, reference("zero-waste"))
    with aws_faults({(service, operation): 3}, kind) as left:
        _run_references(api)
    assert left[(service, operation)] == 0  # every fault was met by some call


@pytest.mark.time_scale(DAY)
def test_a_system_event_whose_write_failed_after_its_id_was_claimed_is_stored_once(api):
    """A system event is two writes (its id claimed, then the event): the events table refusing
    the second leaves the id claimed, and the retry stores the event there, once."""
    publish(api, one_email())
    with aws_faults({("dynamodb", "PutItem"): 3}, table="events") as left:
        _deliver(api, _event("ana-signup", "signup", "ana@example.com", consent=CONSENT))
        assert journey(api, "ana@example.com", "news", status="completed", timeout=60)["path"] == ["mail"]
        eventually(lambda: left[("dynamodb", "PutItem")] == 0)
    assert len(email_to(api, "ana@example.com", count=1)) == 1
    ana = contact_id(api, "ana@example.com")
    for event_type in ("journey.entered", "email.sent", "journey.completed"):
        assert len(eventually(lambda kind=event_type: events_of(api, ana, kind))) == 1, event_type


@pytest.mark.slow
@pytest.mark.time_scale(DAY)
def test_the_same_events_many_times_and_out_of_order_give_the_same_result(api):
    publish(api, reference("welcome-series"))
    publish(api, reference("zero-waste"))
    signups = [_event("ana-signup", "signup", "ana@example.com", consent=CONSENT, traits={"first_name": "Ana"}),
               _event("bob-signup", "signup", "bob@example.com", consent=CONSENT)]
    profile = _event("ana-profile", "profile_saved", "ana@example.com",
                     traits={"attributes": {"profile_completed": True}})
    for _ in range(3):
        _deliver(api, profile, *reversed(signups))
    _deliver(api, *signups, profile)
    assert journey(api, "ana@example.com", "welcome-series", status="completed")["path"][-1] == "discover"
    assert journey(api, "bob@example.com", "welcome-series", status="completed")["path"][-1] == "complete-profile"
    assert len(email_to(api, "ana@example.com", count=2)) == 2
    assert len(email_to(api, "bob@example.com", count=2)) == 2
    assert len(journeys(api, "ana@example.com")) == 1


@pytest.mark.time_scale(DAY)
@pytest.mark.parametrize("kind", ["throttle", pytest.param("5xx", marks=pytest.mark.slow),
                                  pytest.param("timeout", marks=pytest.mark.slow)])
def test_text_messages_go_once_through_sns_faults(api, kind):
    publish(api, scenario("texts", "visit", [{"id": "text", "type": "sms", "text": "Promo !"}]))
    phones = {"ana@example.com": "+33612345678", "bob@example.com": "+33611111111"}
    with aws_faults({("sns", "Publish"): 2}, kind) as left:
        _deliver(api, *(_event(f"visit-{email}", "visit", email, traits={"phone": phone},
                               consent={"sms": True, "source": "form"}) for email, phone in phones.items()))
        with observing():
            for email in phones:
                assert journey(api, email, "texts", status="completed", timeout=120)["path"] == ["text"]
    assert left[("sns", "Publish")] == 0
    texts = [item["to"] for item in outbox(api, limit=500) if item["channel"] == "sms"]
    assert sorted(texts) == sorted(phones.values())  # one each


@pytest.mark.time_scale(DAY)
@pytest.mark.parametrize(("service", "operation"), [("dynamodb", "UpdateItem"),
                                                    pytest.param("dynamodb", "GetItem", marks=pytest.mark.slow),
                                                    pytest.param("dynamodb", "Query", marks=pytest.mark.slow)])
def test_ses_feedback_counts_once_through_faults(api, service, operation):
    """A hard bounce delivered by SNS while DynamoDB refuses: Lambda's retries of the asynchronous
    call apply it once (SNS delivers it twice, too)."""
    publish(api, one_email())
    _deliver(api, _event("ana-signup", "signup", "ana@example.com", consent=CONSENT))
    assert message(api, "ana@example.com")["status"] == "sent"
    ses_id = provider_id("ana@example.com")
    with aws_faults({(service, operation): 2}) as left:
        publish_to_topic("parcours-ses-events", ses_notification("Bounce", ses_id, "ana@example.com"))
        publish_to_topic("parcours-ses-events", ses_notification("Bounce", ses_id, "ana@example.com"))
        eventually(lambda: left[(service, operation)] == 0)
    assert eventually(lambda: contact(api, "ana@example.com")["email_status"] == "hard_bounce", timeout=20)
    assert len(events_of(api, contact_id(api, "ana@example.com"), "email.bounced")) == 1
    bounced = message(api, "ana@example.com", status="bounced")  # Lambda's retry comes a moment later
    assert [entry["type"] for entry in bounced["events"]].count("bounced") == 1
