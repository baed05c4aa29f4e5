"""Faults at the AWS client (standing for botocore's own retries having run out): no journey
takes the wrong path because a hand-off failed once."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.helpers import CONSENT, DAY, contact_id, eventually, journey, post, publish, reference, sent_steps


@contextmanager
def throttled(operation: str, times: int) -> Iterator[dict]:
    """Step Functions answers ThrottlingException to the next `times` calls of `operation`."""
    from botocore.awsrequest import AWSResponse

    from chalicelib.scenarios import deployer

    left = {"refusals": times}

    def throttle(**kwargs: object) -> object:
        if left["refusals"] <= 0:
            return None
        left["refusals"] -= 1
        return AWSResponse("https://states", 400, {}, None), {
            "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
            "ResponseMetadata": {"HTTPStatusCode": 400}}

    client = deployer._sfn()
    client.meta.events.register(f"before-call.states.{operation}", throttle)
    try:
        yield left
    finally:
        client.meta.events.unregister(f"before-call.states.{operation}", throttle)


@pytest.mark.time_scale(DAY)
def test_a_throttled_resume_still_resumes_the_wait(api):
    """zero-waste: a contact who clicks is kept. The first SendTaskSuccess is throttled; the event's
    redelivery resumes the wait it claimed, instead of finding it gone and letting the timeout
    delete the contact. (A click stored just before the wait registers is resumed by the step
    runner's look-back instead; a throttle there is retried by the Task's Retry.)"""
    publish(api, reference("zero-waste"))
    post(api, "segment.entered", "ana@example.com", consent=CONSENT, properties={"segment": "inactive-6-months"})
    eventually(lambda: journey(api, "ana@example.com", "zero-waste")["current_step"] == "react")
    with throttled("SendTaskSuccess", 1) as left:
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
    with throttled("SendTaskSuccess", 1) as left:
        post(api, "segment.entered", "ana@example.com", consent=CONSENT,
             properties={"segment": "inactive-6-months"})
        eventually(lambda: "last-chance" in sent_steps(api, "ana@example.com"))
        post(api, "email.clicked", "ana@example.com",
             properties={"step": "last-chance", "url": "https://example.com/news"})
        done = journey(api, "ana@example.com", "zero-waste", status="exited")
        assert left["refusals"] == 0
    assert done["path"] == ["last-chance", "react", "kept"]
    assert api.get(f"/contacts/{contact_id(api, 'ana@example.com')}").status_code == 200
