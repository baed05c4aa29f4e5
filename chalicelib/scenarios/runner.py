"""The step runner: the one Lambda every compiled Task calls.

It checks that the journey is still on (running, contact present, exit_when not met), does
the step's work, and records the outcome against the enrollment. A retried Task finds the
outcome already recorded (messages and events are keyed by enrollment and step) and does
not act twice.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib import clock, criteria, durations
from chalicelib.contacts import service as contacts
from chalicelib.events import service as events
from chalicelib.scenarios import actions, automation, journeys, local_time
from chalicelib.scenarios import service as scenarios
from chalicelib.scenarios.errors import JourneyExited
from chalicelib.store.models import Enrollment, Wait


def run(payload: dict[str, Any]) -> dict[str, Any]:
    action = payload["action"]
    enrollment = _enrollment(payload["enrollment"])
    if action == "fail":
        _end(enrollment, "failed", {"error": (payload.get("error") or {}).get("Error")})
        return {}
    if action == "complete":
        _end(enrollment, "completed")
        return {}
    body = scenarios.definition(enrollment.scenario_id, int(enrollment.version))
    step = find_step(body["steps"], payload["step"])
    if action == "evaluate":
        return _evaluate(enrollment, step)
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


def _act(enrollment: Enrollment, body: dict, step: dict, *, next_step: str | None, last: bool) -> dict:
    loaded = automation.load_contact(enrollment.contact_id)
    if loaded is None:
        _end(enrollment, "exited")
        raise JourneyExited("the contact was deleted")
    contact, subject = loaded
    if body.get("exit_when") and criteria.matches(body["exit_when"], subject):
        journeys.record(enrollment, step["id"], "exit_when", current=None)
        _end(enrollment, "exited")
        raise JourneyExited("exit_when met")
    if step["type"] == "delete_contact":
        # Erasure stops the contact's journeys and deletes their records, this one included.
        return {"result": actions.perform(step, enrollment, body, contact)}
    if _already_done(enrollment, step["id"]):
        result = "done"
    else:
        result = actions.perform(step, enrollment, body, contact)
        current = next_step.split(":", 1)[0] if next_step and not last else None  # "x:quiet" is step x
        journeys.record(enrollment, step["id"], result, current=current)
    if step["type"] == "exit":
        _end(enrollment, "exited")
    elif last:
        _end(enrollment, "completed")
    return {"result": result}


def _already_done(enrollment: Enrollment, step_id: str) -> bool:
    return any(entry["step"] == step_id for entry in enrollment.path or [])


def _evaluate(enrollment: Enrollment, step: dict) -> dict:
    loaded = automation.load_contact(enrollment.contact_id)
    matched = bool(loaded is not None and criteria.matches(step["condition"], loaded[1]))
    if not _already_done(enrollment, step["id"]):
        journeys.record(enrollment, step["id"], "then" if matched else "else", current=None)
    return {"matched": matched}


def _wait_until(enrollment: Enrollment, body: dict, step: dict) -> dict:
    contact = contacts.get(enrollment.contact_id)
    if contact is None:
        _end(enrollment, "exited")
        raise JourneyExited("the contact was deleted")
    zone = local_time.zone_of(contact.timezone, body)
    now = clock.now()
    until = step["until"]
    if "time" in until:
        target = local_time.next_time_of_day(now, until["time"], zone)
    else:
        target = local_time.date_field_moment(date_value(contact, until["date_field"]), until.get("offset"),
                                              zone) or now
    journeys.record(enrollment, step["id"], "waiting", current=step["id"])
    return {"at": clock.iso(target)}


def date_value(contact: contacts.Contact, field: str) -> str | None:
    """A built-in date field, or a custom attribute (`attributes.trial_ends_at` or bare `trial_ends_at`)."""
    data = contacts.to_api(contact)
    if field in data and field != "attributes":
        return data[field]
    return data["attributes"].get(field.removeprefix("attributes."))


def _quiet_hours(enrollment: Enrollment, body: dict) -> dict:
    """When the next send may go: now, or the end of the contact's quiet hours."""
    contact = contacts.get(enrollment.contact_id)
    now = clock.now()
    window = body["settings"]["quiet_hours"]
    zone = local_time.zone_of(contact.timezone if contact else None, body)
    release = local_time.end_of_quiet_hours(now, window["from"], window["to"], zone)
    return {"at": clock.iso(release or now)}


def _wait_for(enrollment: Enrollment, step: dict, token: str) -> dict:
    """Register the wait, then look for a matching event that came while the journey got here.

    Ingestion resumes waits it finds registered; an event stored just before registration is
    caught by the look-back; the conditional delete makes sure only one of the two resumes."""
    began = (enrollment.path or [{}])[-1].get("at") or enrollment.entered_at
    timeout = durations.seconds(step["timeout"])
    wait = Wait(enrollment.contact_id, f"{step['event']}#{enrollment.key}#{step['id']}", token=token,
                enrollment_key=enrollment.key, step=step["id"], where=step.get("where"),
                expires_at=clock.now() + timedelta(seconds=timeout + 86400))
    wait.save()
    journeys.record(enrollment, step["id"], "waiting", current=step["id"])
    recent, _ = events.history(enrollment.contact_id, since=clock.parse_iso(began), event_type=step["event"])
    goals = scenarios.definition(enrollment.scenario_id, int(enrollment.version)).get("goals") or []
    for event in recent:
        if any(goal["event"] == event["type"] and criteria.matches_properties(goal.get("where"), event["properties"])
               for goal in goals):
            continue  # a goal event converts the journey when the queue delivers it: the goal wins
        if criteria.matches_properties(step.get("where"), event["properties"]):
            automation.resume_wait(wait, reason="look-back")
            break
    return {}


def _end(enrollment: Enrollment, status: str, properties: dict | None = None) -> None:
    if journeys.finish(enrollment, status):
        events.record_and_dispatch(enrollment.contact_id, f"journey.{status}",
                                   {"scenario": enrollment.scenario_id, **(properties or {})},
                                   event_id=f"{enrollment.id}/{status}")


def find_step(steps: list[dict], step_id: str) -> dict:
    for step in steps:
        if step["id"] == step_id:
            return step
        for branch in _branches(step):
            try:
                return find_step(branch, step_id)
            except KeyError:
                pass
    raise KeyError(step_id)


def _branches(step: dict) -> list[list[dict]]:
    found = [step.get("then") or [], step.get("else") or []]
    found += [branch.get("steps") or [] for branch in step.get("branches") or []]
    return found
