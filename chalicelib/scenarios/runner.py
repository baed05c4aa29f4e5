"""The step runner: the one Lambda every compiled Task calls.

It checks that the journey is still on (running, contact present, exit_when not met), does
the step's work, and records the outcome against the enrollment. A retried Task finds the
outcome already recorded (messages and events are keyed by enrollment and step) and does
not act twice.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib import clock, faults, logs
from chalicelib.config import settings
from chalicelib.contacts import service as contacts
from chalicelib.events import service as events
from chalicelib.scenarios import automation, journeys, semantics
from chalicelib.scenarios import service as scenarios
from chalicelib.scenarios.errors import JourneyExited, Throttled
from chalicelib.scenarios.stored_world import StoredWorld
from chalicelib.store.models import Enrollment, Wait


def run(payload: dict[str, Any]) -> dict[str, Any]:
    """Do the Task; a "not now" from AWS (throttled, 5xx, timeout) is raised as Parcours.Throttled,
    which the state machine retries for hours instead of failing the journey."""
    try:
        return _run(payload)
    except Exception as error:
        if not isinstance(error, Throttled) and faults.is_transient(error):
            raise Throttled(f"{type(error).__name__}: {error}") from error
        raise


def _run(payload: dict[str, Any]) -> dict[str, Any]:
    action = payload["action"]
    reference = payload["enrollment"]
    logs.correlate(contact_id=reference.get("contact_id"), execution=reference.get("id"), step=payload.get("step"))
    enrollment = _enrollment(reference)
    logs.correlate(scenario=enrollment.scenario_id, version=int(enrollment.version))
    if action == "fail":
        logs.step_failed((payload.get("error") or {}).get("Error"))
        _end(enrollment, "failed", {"error": (payload.get("error") or {}).get("Error")})
        return {}
    if action == "complete":
        _end(enrollment, "completed")
        return {}
    body = scenarios.definition(enrollment.scenario_id, int(enrollment.version))
    step = semantics.find_step(body["steps"], payload["step"])
    with journeys.counted_once(enrollment):
        if action == "evaluate":
            return _evaluate(enrollment, body, step, payload)
        if action == "wait_until":
            return _wait_until(enrollment, body, step)
        if action == "wait_for":
            return _wait_for(enrollment, step, payload["token"])
        if action == "quiet_hours":
            return _quiet_hours(enrollment, body)
        return _act(enrollment, body, step, next_step=payload.get("next"), last=bool(payload.get("last")))


def _enrollment(ref: dict) -> Enrollment:
    enrollment = journeys.get(ref["contact_id"], ref["key"])
    if enrollment is None or enrollment.status != journeys.RUNNING:
        raise JourneyExited(f"journey {ref['id']} is not running")
    return enrollment


def _act(enrollment: Enrollment, body: dict, step: dict, *, next_step: str | None, last: bool,
         loaded: tuple[Any, Any] | None = None) -> dict:
    loaded = loaded or automation.load_contact(enrollment.contact_id)
    if loaded is None:
        _end(enrollment, "exited")
        raise JourneyExited("the contact was deleted")
    contact, subject = loaded
    if semantics.exit_met(body, subject):
        journeys.record(enrollment, step["id"], "exit_when", current=None)
        _end(enrollment, "exited")
        raise JourneyExited("exit_when met")
    world = StoredWorld(enrollment, body, contact, step["id"])
    if step["type"] == "delete_contact":
        # Erasure stops the contact's journeys and deletes their records, this one included.
        return {"result": semantics.perform(step, body, world)}
    if _already_done(enrollment, step["id"]):
        result = "done"
    else:
        # The step is dated from before its work: an awaited event that its email prompts (a click)
        # may be stored before the outcome is, and a following wait_for looks back from this moment.
        began = clock.now()
        result = semantics.perform(step, body, world)
        current = next_step.split(":", 1)[0] if next_step and not last else None  # "x:quiet" is step x
        journeys.record(enrollment, step["id"], result, current=current, at=began, with_count=True)
    ending = semantics.ends_journey(step)
    if ending or last:
        _end(enrollment, ending or "completed")
    return {"result": result}


def _already_done(enrollment: Enrollment, step_id: str) -> bool:
    return any(entry["step"] == step_id for entry in enrollment.path or [])


def _evaluate(enrollment: Enrollment, body: dict, step: dict, payload: dict) -> dict:
    """Which branch the condition takes, and the branch's first action when the compiler folded it
    into this Task (payload "then" / "else"). A retried Task keeps the branch it recorded: the
    contact may have changed since, the journey must not take the other branch too."""
    branch = _recorded(enrollment, step["id"])
    loaded = None
    if branch not in ("then", "else"):
        loaded = automation.load_contact(enrollment.contact_id)
        branch = "then" if loaded is not None and semantics.condition_met(step, loaded[1]) else "else"
        journeys.record(enrollment, step["id"], branch, current=None)
    first = payload.get(branch)
    if first:
        _act(enrollment, body, semantics.find_step(body["steps"], first["step"]), next_step=first["next"],
             last=bool(first["last"]), loaded=loaded)  # the contact just read: the same moment
    return {"matched": branch == "then"}


def _recorded(enrollment: Enrollment, step_id: str) -> str | None:
    return next((entry["result"] for entry in enrollment.path or [] if entry["step"] == step_id), None)


def _wait_until(enrollment: Enrollment, body: dict, step: dict) -> dict:
    contact = contacts.get(enrollment.contact_id)
    if contact is None:
        _end(enrollment, "exited")
        raise JourneyExited("the contact was deleted")
    data = contacts.to_api(contact)
    now = clock.now()
    target = semantics.wait_until(step, data, _zone(data, body), now)
    journeys.record(enrollment, step["id"], "waiting", current=step["id"])
    return {"at": clock.iso(target)}


def _quiet_hours(enrollment: Enrollment, body: dict) -> dict:
    """When the next send may go: now, or the end of the contact's quiet hours."""
    contact = contacts.get(enrollment.contact_id)
    now = clock.now()
    release = semantics.quiet_release(body, _zone(contacts.to_api(contact) if contact else {}, body), now)
    return {"at": clock.iso(release or now)}


def _zone(contact: dict, body: dict) -> ZoneInfo:
    return semantics.zone_of(contact, body, settings().default_timezone)


def _wait_for(enrollment: Enrollment, step: dict, token: str) -> dict:
    """Register the wait, then look for a matching event that came while the journey got here.

    Ingestion resumes waits it finds registered; an event stored just before registration is
    caught by the look-back; the conditional delete makes sure only one of the two resumes."""
    # From when the journey reached this step (a retried Task has recorded this step already); for
    # a first step, from its trigger: the queue does not keep order, an awaited event may come first.
    began = next((entry["at"] for entry in reversed(enrollment.path or []) if entry["step"] != step["id"]),
                 min(enrollment.entered_at, (enrollment.trigger or {}).get("timestamp") or enrollment.entered_at))
    timeout = semantics.wait_seconds(step["timeout"])
    wait = Wait(enrollment.contact_id, f"{step['event']}#{enrollment.key}#{step['id']}", token=token,
                enrollment_key=enrollment.key, step=step["id"], where=step.get("where"),
                expires_at=clock.now() + timedelta(seconds=timeout + 86400))
    wait.save()
    journeys.record(enrollment, step["id"], "waiting", current=step["id"])
    recent, _ = events.history(enrollment.contact_id, since=clock.parse_iso(began), event_type=step["event"])
    body = scenarios.definition(enrollment.scenario_id, int(enrollment.version))
    for event in recent:
        if semantics.goal_met(body, event["type"], event["properties"]):
            continue  # a goal event converts the journey when the queue delivers it: the goal wins
        if semantics.awaited(step.get("where"), event["type"], step["event"], event["properties"]):
            automation.resume_wait(wait, reason="look-back")
            break
    return {}


def _end(enrollment: Enrollment, status: str, properties: dict | None = None) -> None:
    if journeys.finish(enrollment, status):
        events.record_and_dispatch(enrollment.contact_id, f"journey.{status}",
                                   {"scenario": enrollment.scenario_id, **(properties or {})},
                                   event_id=f"{enrollment.id}/{status}")
