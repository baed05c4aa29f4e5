"""What each stored event does to journeys: goals convert, waits resume, triggers enroll.

Runs in the automation queue's consumer, never in the ingestion request, so a burst of
events waits in SQS instead of failing against Step Functions' rate limits. Every action is
idempotent: a redelivered message changes nothing twice.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from pynamodb.exceptions import UpdateError

from chalicelib import clock, criteria, faults, logs
from chalicelib.audience import react
from chalicelib.channels import feedback, optin, outbound
from chalicelib.contacts import service as contacts
from chalicelib.events import routing
from chalicelib.events import service as events
from chalicelib.logs import logger
from chalicelib.reports import counters
from chalicelib.scenarios import deployer, journeys, semantics
from chalicelib.scenarios import service as scenarios
from chalicelib.store import queue
from chalicelib.store.models import Enrollment, Wait


def consume(records: Iterable[dict]) -> list[str]:
    """Handle a batch from the automation queue, each record on its own; the message ids that
    must come back (SQS partial batch response). A "not now" from AWS (throttled, 5xx) puts the
    event back on the queue with a delay instead: it is retried until AWS has room, never sent
    to the dead-letter queue for that alone. Every step of `handle` is idempotent."""
    failed: list[str] = []
    for record in records:
        try:
            handle(json.loads(record["body"]))
        except Exception as error:
            if faults.is_transient(error) and _postponed(record):
                logger.info("event postponed: AWS refused for now", extra={"error": type(error).__name__})
                continue
            logger.exception("queued event failed; it comes back", extra={"sqs_message": record.get("messageId")})
            failed.append(record["messageId"])
    return failed


def _postponed(record: dict) -> bool:
    try:
        return queue.postpone(record["body"], queue.postponements(record))
    except Exception:  # the queue refused too: let SQS redeliver it
        return False


def handle(event: dict) -> None:
    feedback.apply(event)  # a posted bounce, complaint or opt-out counts as SES's or SNS's would
    optin.send_confirmation(event)  # consent granted through the public ingest key asks to be confirmed
    react.on_event(event)  # score, stage and segments first: triggers may read them
    counters.contact_event(event)  # the account's contact and consent totals
    outbound.on_event(event)  # subscribed webhooks (a CRM) hear of it
    contact_id, event_type = event["contact_id"], event["type"]
    # the routing record says which look-ups can find anything for this type (events.routing)
    converted = _meet_goals(contact_id, event) if routing.reads("goal", event_type) else set()
    if routing.reads("wait", event_type):
        _resume_waits(contact_id, event, skip=converted)
    if routing.reads("trigger", event_type):
        _start_journeys(contact_id, event)


def _meet_goals(contact_id: str, event: dict) -> set[str]:
    """Stop the contact's running journeys whose goal this event meets; their enrollment keys."""
    converted: set[str] = set()
    for enrollment in journeys.of_contact(contact_id):
        if enrollment.status != journeys.RUNNING:
            continue
        body = scenarios.definition(enrollment.scenario_id, int(enrollment.version))
        goal = semantics.goal_met(body, event["type"], event["properties"])
        if goal is None:
            continue
        if journeys.finish(enrollment, "converted"):
            if enrollment.execution_arn:
                deployer.stop(enrollment.execution_arn, "goal met")
            _announce_conversion(enrollment, goal["event"], event["id"])
        converted.add(enrollment.key)
    return converted


def _resume_waits(contact_id: str, event: dict, *, skip: set[str]) -> None:
    for wait in Wait.query(contact_id, Wait.key.startswith(f"{event['type']}#")):
        if wait.enrollment_key in skip:
            wait.delete()
            continue
        if semantics.awaited(wait.where, event["type"], wait.key.split("#", 1)[0], event["properties"]):
            resume_wait(wait, reason=event["id"])


def resume_wait(wait: Wait, *, reason: str) -> None:
    """Send a waiting execution down its `then` branch, once.

    The first cause to claim the wait resumes it; the wait is deleted only once Step Functions
    has taken the resume. A resume that fails (throttled) leaves the claim, so the retried
    delivery of the same cause resumes it, and no other cause can."""
    try:
        wait.update(actions=[Wait.resumed_by.set(reason)],
                    condition=Wait.token.exists() & (Wait.resumed_by.does_not_exist() | (Wait.resumed_by == reason)))
    except UpdateError as error:
        if not faults.lost_to_condition(error):
            raise
        return
    enrollment = journeys.get(wait.contact_id, wait.enrollment_key)
    resumed_at = clock.now()  # before the execution goes on: its next step is dated after this
    if enrollment and enrollment.status == journeys.RUNNING and deployer.resume(wait.token, {"by": reason}):
        journeys.record(enrollment, wait.step, "then", current=None, at=resumed_at)
    wait.delete()


def _start_journeys(contact_id: str, event: dict) -> None:
    for trigger in scenarios.triggered_by(event["type"]):
        head = scenarios.head(trigger.scenario_id)
        if head is None or head.status != "live":
            continue
        body = scenarios.definition(head.id, int(head.live_version))
        if not semantics.triggered(body, event["type"], event["properties"]):
            continue
        enroll(contact_id, head, body, event, at=clock.parse_iso(event["timestamp"]))


def enroll(contact_id: str, head, body: dict, trigger: dict, *, at: datetime, extra: dict | None = None) -> bool:
    """Admit the contact (entry rules) and start its execution on the live alias; a contact who
    met a goal already, from the trigger's moment on (the queue does not keep order), enters converted."""
    enrollment = journeys.admit(contact_id, head, body, trigger, at)
    if enrollment is None:
        return False
    reached = _goal_reached_since(contact_id, body, trigger, at)
    execution_arn = None
    if reached is None:
        execution_arn = deployer.start(head.alias_arn, enrollment.id, journeys.payload(
            enrollment, scenarios.timeouts(head.id, int(enrollment.version)), extra))
        if execution_arn is None:  # started by an earlier delivery of this message
            execution_arn = f"{head.state_machine_arn.replace(':stateMachine:', ':execution:')}:{enrollment.id}"
    # recorded before the enrollment notes its execution: until then a retry admits it again
    events.record_and_dispatch(contact_id, "journey.entered", {"scenario": head.id, "version": int(enrollment.version)},
                               event_id=f"{enrollment.id}/entered")
    if execution_arn is not None:
        journeys.started(enrollment, execution_arn)
    elif reached is not None and journeys.finish(enrollment, "converted"):
        _announce_conversion(enrollment, reached["type"], reached["id"])
    logs.journey("entered", contact_id=contact_id, scenario=head.id, version=int(enrollment.version),
                 execution=enrollment.id)
    return True


def _announce_conversion(enrollment: Enrollment, goal: str, by: str) -> None:
    events.record_and_dispatch(enrollment.contact_id, "journey.converted",
                               {"scenario": enrollment.scenario_id, "goal": goal, "by": by},
                               event_id=f"{enrollment.id}/converted")


def _goal_reached_since(contact_id: str, body: dict, trigger: dict, at: datetime) -> dict | None:
    """An event stored already, from the trigger's moment on, that meets one of the scenario's goals."""
    for event_type in dict.fromkeys(goal["event"] for goal in body.get("goals") or []):
        found, _ = events.history(contact_id, since=at, event_type=event_type, newest_first=False)
        for event in found:
            if event["id"] != trigger.get("id") and semantics.goal_met(body, event["type"], event["properties"]):
                return event
    return None


def load_contact(contact_id: str) -> tuple[contacts.Contact, criteria.ContactSubject] | None:
    """The contact and what criteria see of it (fields, events on demand, lists, segments)."""
    contact = contacts.get(contact_id)
    if contact is None:
        return None

    def history(event_type: str, since: datetime | None) -> list[dict]:
        items, _ = events.history(contact_id, since=since, event_type=event_type, newest_first=False)
        return [{**item, "timestamp": clock.parse_iso(item["timestamp"])} for item in items]

    return contact, criteria.ContactSubject(contacts.to_api(contact), events=history, segments=contact.segments or ())
