"""Faults at the AWS client (standing for botocore's own retries having run out): no journey
takes the wrong path because a hand-off failed once."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest

from tests.helpers import (
    CONSENT,
    DAY,
    contact_id,
    eventually,
    journey,
    journeys,
    one_email,
    post,
    publish,
    reference,
    sent_steps,
    throttled,
)


def _sfn():
    from chalicelib.scenarios import deployer

    return deployer._sfn()


@pytest.mark.time_scale(DAY)
def test_a_throttled_resume_still_resumes_the_wait(api):
    """zero-waste: a contact who clicks is kept. The first SendTaskSuccess is throttled; the event's
    redelivery resumes the wait it claimed, instead of finding it gone and letting the timeout
    delete the contact. (A click stored just before the wait registers is resumed by the step
    runner's look-back instead; a throttle there is retried by the Task's Retry.)"""
    publish(api, reference("zero-waste"))
    post(api, "segment.entered", "ana@example.com", consent=CONSENT, properties={"segment": "inactive-6-months"})
    eventually(lambda: journey(api, "ana@example.com", "zero-waste")["current_step"] == "react")
    with throttled(_sfn(), "SendTaskSuccess", 1) as left:
        post(api, "email.clicked", "ana@example.com",
             properties={"step": "last-chance", "url": "https://example.com/news"})
        done = journey(api, "ana@example.com", "zero-waste", status="exited")
        assert left["refusals"] == 0  # the resume was refused once
    assert done["path"] == ["last-chance", "react", "kept"]
    assert api.get(f"/contacts/{contact_id(api, 'ana@example.com')}").status_code == 200


@pytest.mark.time_scale(DAY)
def test_a_resume_refused_once_from_the_step_runner_is_retried_by_the_task(api):
    """The click is posted as soon as the email is out, often before the wait registers: then the
    wait_for's own look-back finds it and resumes from the step runner. Whichever resumes it, a
    throttled resume is retried (by the Task's Retry, or the queue's redelivery): the contact is kept."""
    publish(api, reference("zero-waste"))
    with throttled(_sfn(), "SendTaskSuccess", 1) as left:
        post(api, "segment.entered", "ana@example.com", consent=CONSENT,
             properties={"segment": "inactive-6-months"})
        eventually(lambda: "last-chance" in sent_steps(api, "ana@example.com"))
        post(api, "email.clicked", "ana@example.com",
             properties={"step": "last-chance", "url": "https://example.com/news"})
        done = journey(api, "ana@example.com", "zero-waste", status="exited")
        assert left["refusals"] == 0
    assert done["path"] == ["last-chance", "react", "kept"]
    assert api.get(f"/contacts/{contact_id(api, 'ana@example.com')}").status_code == 200


def _execution_statuses(scenario_id: str) -> list[str]:
    import boto3

    from chalicelib.scenarios import deployer

    sfn = boto3.client("stepfunctions", region_name="eu-west-3")
    machine = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
                   if m["name"] == deployer.state_machine_name(scenario_id))
    return [e["status"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]]


@pytest.mark.time_scale(600)
def test_a_goal_met_right_after_entry_converts_and_ends_every_execution(api):
    """abandoned-cart, the purchase posted at once after the cart: each journey is converted and no
    email goes, whether the stop finds its execution begun or not."""
    publish(api, reference("abandoned-cart"))
    people = [f"buyer{n}@example.com" for n in range(3)]
    for email in people:
        post(api, "cart_updated", email, consent=CONSENT, properties={"items": 2})
        post(api, "purchase", email, properties={"amount": 40})
    for email in people:
        assert journey(api, email, "abandoned-cart", status="converted")["status"] == "converted"
    eventually(lambda: "RUNNING" not in _execution_statuses("abandoned-cart"))
    assert all(sent_steps(api, email) == [] for email in people)


@pytest.mark.time_scale(600)
def test_a_refused_stop_still_ends_the_journey_as_converted(api):
    """The goal's StopExecution is throttled: the journey is converted all the same, and its
    execution ends at its next step instead of sending the reminder."""
    publish(api, reference("abandoned-cart"))
    post(api, "cart_updated", "ana@example.com", consent=CONSENT, properties={"items": 2})
    eventually(lambda: journey(api, "ana@example.com", "abandoned-cart")["current_step"] == "wait-purchase")
    with throttled(_sfn(), "StopExecution", 1) as left:
        post(api, "purchase", "ana@example.com", properties={"amount": 40})
        assert journey(api, "ana@example.com", "abandoned-cart", status="converted")["status"] == "converted"
        eventually(lambda: left["refusals"] == 0)  # the stop comes right after the conversion
    eventually(lambda: _execution_statuses("abandoned-cart") == ["SUCCEEDED"], timeout=30)
    assert sent_steps(api, "ana@example.com") == []


@pytest.mark.time_scale(DAY)
def test_a_throttled_start_puts_the_event_back_and_the_contact_enters_later(api):
    """StartExecution refuses twice (the token bucket is empty): those events go back on the queue
    with a delay, not to the dead-letter queue, and every contact enters once."""
    publish(api, reference("welcome-series"))
    people = [f"new{n}@example.com" for n in range(4)]
    with throttled(_sfn(), "StartExecution", 2) as left:
        api.post("/events", {"events": [
            {"type": "signup", "contact": {"email": email}, "consent": CONSENT} for email in people]})
        for email in people:
            assert journey(api, email, "welcome-series", status="completed")["path"][0] == "welcome"
        assert left["refusals"] == 0
    for email in people:
        assert sent_steps(api, email).count("welcome") == 1
        assert len(journeys(api, email)) == 1


def test_only_the_failed_records_of_a_batch_come_back(api):
    """The automation function answers SQS with the one record that failed; the others are done."""
    import json

    import app

    publish(api, one_email())
    ids = {}
    for email in ("ana@example.com", "bob@example.com"):
        post(api, "signup", email, consent=CONSENT)
        ids[email] = contact_id(api, email)
    event = {"type": "signup", "timestamp": "2026-11-30T10:00:00.000Z", "properties": {}}
    ana, bob = ({**event, "id": f"c:again-{email}", "contact_id": ids[email]} for email in ids)
    records = [{"messageId": "m-ana", "body": json.dumps(ana)}, {"messageId": "m-broken", "body": "{not json"},
               {"messageId": "m-bob", "body": json.dumps(bob)}]
    answer = app.automation({"Records": [{**r, "receiptHandle": r["messageId"], "eventSource": "aws:sqs",
                                          "attributes": {}, "messageAttributes": {}} for r in records]}, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-broken"}]}


@pytest.mark.time_scale(600)
def test_a_goal_handled_before_its_trigger_still_converts(api):
    """The queue does not keep order: the purchase (a moment after the cart) is handled first. The
    journey the cart starts enters converted, and no reminder goes."""
    from chalicelib import clock

    publish(api, reference("abandoned-cart"))
    now = clock.now()
    post(api, "purchase", "ana@example.com", consent=CONSENT, properties={"amount": 40},
         timestamp=clock.iso(now))
    post(api, "cart_updated", "ana@example.com", properties={"items": 2},
         timestamp=clock.iso(now - timedelta(seconds=30)))
    assert journey(api, "ana@example.com", "abandoned-cart", status="converted")["status"] == "converted"
    time.sleep(8)  # past the hour of wait-purchase at this scale
    assert sent_steps(api, "ana@example.com") == []


@pytest.mark.time_scale(DAY)
def test_sends_keep_to_the_account_send_rate(api, monkeypatch):
    """PARCOURS_EMAIL_RATE=2: eight welcome emails due at once take two slots a second of
    real time, so they reach SES over four seconds at least, and every one goes."""
    from collections import Counter

    from chalicelib import config
    from chalicelib.channels import providers

    monkeypatch.setenv("PARCOURS_EMAIL_RATE", "2")
    config.reload()
    handed: list[float] = []
    client = providers._ses()
    record = lambda **kwargs: handed.append(time.time())  # noqa: E731
    client.meta.events.register("before-call.sesv2.SendEmail", record)
    try:
        publish(api, one_email())
        people = [f"reader{n}@example.com" for n in range(8)]
        api.post("/events", {"events": [{"type": "signup", "contact": {"email": email}, "consent": CONSENT}
                                        for email in people]})
        for email in people:
            assert journey(api, email, "news", status="completed", timeout=120)["path"] == ["mail"]
    finally:
        client.meta.events.unregister("before-call.sesv2.SendEmail", record)
    assert len(handed) == 8
    # A slot is a second of the pace counter; a send granted its second's last slot can reach
    # SES a moment into the next second on a loaded machine, so one second may show rate + 1.
    # Unpaced, the eight go within a second or two.
    assert max(Counter(int(moment) for moment in handed).values()) <= 3
    assert len({int(moment) for moment in handed}) >= 4  # four seconds of slots at least
    assert max(handed) - min(handed) >= 2.0
