"""What a scenario means, written once (DESIGN.md section 2).

Which branch a contact takes, when a wait ends, what a goal or `exit_when` matches, and what
each action step does to a contact. The compiler turns these rules into states, the step
runner and the automation consumer apply them to stored contacts, and simulate applies them to
an in-memory contact: the same functions, so the four cannot disagree.

Plain Python on plain data (a contact is its API shape): no AWS, no settings. What a step does
to the world goes through `World`, which the step runner implements on DynamoDB, SES and SNS
(scenarios.world) and simulate in memory.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib import clock, criteria, durations

SENDS = ("email", "sms")

# -- entering -------------------------------------------------------------------------------


def entry_key(definition: Mapping[str, Any], trigger: Mapping[str, Any]) -> str:
    """What makes two entries of one contact different journeys: with re-entry `never`, nothing."""
    reentry = (definition.get("entry") or {}).get("reentry", "never")
    if reentry == "never":
        return "once"
    return str(trigger.get("entry_key") or trigger["id"])


def execution_name(contact_id: str, scenario_id: str, entry_key: str) -> str:
    """The enrollment's id and its execution's name: the same contact, scenario and entry, the same name."""
    digest = hashlib.sha256(f"{contact_id}|{scenario_id}|{entry_key}".encode()).hexdigest()[:32]
    return f"{scenario_id[:40]}-{digest}"


def bucket_of(name: str) -> int:
    """The A/B bucket (0-99) of an enrollment, fixed at entry from its name."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 100


# -- branching ------------------------------------------------------------------------------


def split_bounds(step: Mapping[str, Any]) -> list[int]:
    """Bucket bounds of a split: branch i takes buckets below bounds[i]; the last takes the rest."""
    bounds, total = [], 0
    for branch in step["branches"][:-1]:
        total += branch["weight"]
        bounds.append(total)
    return bounds


def branch_of(step: Mapping[str, Any], bucket: int) -> int:
    """The split branch (0-based) a contact in `bucket` takes."""
    for index, bound in enumerate(split_bounds(step)):
        if bucket < bound:
            return index
    return len(step["branches"]) - 1


def children(step: Mapping[str, Any]) -> list[list[dict[str, Any]]]:
    """The step lists nested in a step (then/else, split branches)."""
    if step["type"] == "split":
        return [branch["steps"] for branch in step["branches"]]
    return [step[key] for key in ("then", "else") if key in step]


def find_step(steps: list[dict[str, Any]], step_id: str) -> dict[str, Any]:
    for step in steps:
        if step["id"] == step_id:
            return step
        for branch in children(step):
            try:
                return find_step(branch, step_id)
            except KeyError:
                pass
    raise KeyError(step_id)


# -- triggers, conditions, goals, exits and awaited events ----------------------------------


def triggered(definition: Mapping[str, Any], event_type: str, properties: Mapping[str, Any],
              now: datetime | None = None) -> bool:
    """Whether this event enters a contact into the scenario (its event trigger and `where`)."""
    trigger = definition.get("trigger") or {}
    return trigger.get("event") == event_type and criteria.matches_properties(trigger.get("where"), properties,
                                                                             now=now)


def condition_met(step: Mapping[str, Any], subject: criteria.Subject, now: datetime | None = None) -> bool:
    """Whether an `if` step takes its `then` branch."""
    return criteria.matches(step["condition"], subject, now=now)


def goal_met(definition: Mapping[str, Any], event_type: str, properties: Mapping[str, Any],
             now: datetime | None = None) -> dict[str, Any] | None:
    """The scenario's goal this event meets, if any."""
    for goal in definition.get("goals") or []:
        if goal["event"] == event_type and criteria.matches_properties(goal.get("where"), properties, now=now):
            return dict(goal)
    return None


def awaited(where: Mapping[str, Any] | None, event_type: str, awaited_type: str, properties: Mapping[str, Any],
            now: datetime | None = None) -> bool:
    """Whether this event resumes a wait_for on `awaited_type` filtered by `where`."""
    return event_type == awaited_type and criteria.matches_properties(where, properties, now=now)


def exit_met(definition: Mapping[str, Any], subject: criteria.Subject, now: datetime | None = None) -> bool:
    """Whether `exit_when` ends the journey (checked before every action)."""
    exit_when = definition.get("exit_when")
    return criteria.matches(exit_when, subject, now=now) if exit_when else False


# -- time -----------------------------------------------------------------------------------


def zone_of(contact: Mapping[str, Any], definition: Mapping[str, Any], default: str) -> ZoneInfo:
    """The contact's time zone, else the scenario's, else the installation's default."""
    for name in (contact.get("timezone"), (definition.get("settings") or {}).get("timezone"), default):
        if isinstance(name, str) and name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def wait_seconds(duration: str) -> int:
    """How long a duration wait or a wait_for timeout lasts, as Step Functions counts it: whole
    seconds, at least 1 (a month is 31 days)."""
    return max(1, math.ceil(durations.seconds(duration)))


def date_value(contact: Mapping[str, Any], field: str) -> Any:
    """A built-in date field, or a custom attribute (`attributes.trial_ends_at` or bare `trial_ends_at`)."""
    if field in contact and field != "attributes":
        return contact[field]
    return (contact.get("attributes") or {}).get(field.removeprefix("attributes."))


def wait_until(step: Mapping[str, Any], contact: Mapping[str, Any], zone: ZoneInfo, now: datetime) -> datetime:
    """When a `wait` with `until` ends: the next local time of day, or a date field moved by the
    offset; a moment already past, or a missing date, ends the wait at once."""
    until = step["until"]
    if "time" in until:
        return next_time_of_day(now, until["time"], zone)
    value = date_value(contact, until["date_field"])
    try:
        target = date_field_moment(value if isinstance(value, str) else None, until.get("offset"), zone)
    except (ValueError, TypeError, OverflowError):
        target = None
    return max(target, now) if target is not None else now


def quiet_release(definition: Mapping[str, Any], zone: ZoneInfo, now: datetime) -> datetime | None:
    """When a send held by the scenario's quiet hours may go, or None when it may go now."""
    window = (definition.get("settings") or {}).get("quiet_hours")
    if not window:
        return None
    return end_of_quiet_hours(now, window["from"], window["to"], zone)


def date_trigger_moment(spec: Mapping[str, Any], contact: Mapping[str, Any], zone: ZoneInfo,
                        now: datetime) -> datetime | None:
    """When a date trigger enters the contact: its date (the next anniversary when annual) at the
    trigger's local time; None when the contact has no usable date."""
    field = spec.get("field") or "birthday"
    value = date_value(contact, field)
    at = spec.get("at") or "09:00"
    if not isinstance(value, str) or not value:
        return None
    try:
        if spec.get("annual") or field == "birthday":  # a birthday's year is the past: it comes back yearly
            return next_anniversary(value, at, zone, now)
        day = date_field_moment(value, None, zone)
    except (ValueError, TypeError):
        return None
    if day is None:
        return None
    return datetime.combine(day.astimezone(zone).date(), parse_hhmm(at), tzinfo=zone)


def parse_hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def next_time_of_day(now: datetime, hhmm: str, zone: ZoneInfo) -> datetime:
    """The next occurrence of this local time of day (today if still ahead, else tomorrow)."""
    local_now = now.astimezone(zone)
    candidate = datetime.combine(local_now.date(), parse_hhmm(hhmm), tzinfo=zone)
    if candidate <= local_now:
        candidate = datetime.combine(local_now.date() + timedelta(days=1), parse_hhmm(hhmm), tzinfo=zone)
    return candidate


def date_field_moment(value: str | None, offset: str | None, zone: ZoneInfo) -> datetime | None:
    """A contact's date field, at midnight local time when it has no time, moved by the offset."""
    if not value:
        return None
    try:
        moment = clock.parse_iso(value) if "T" in value else datetime.combine(
            date.fromisoformat(value), time(0), tzinfo=zone)
    except ValueError:
        return None
    return durations.shift(moment, offset) if offset else moment


def next_anniversary(birthday: str, hhmm: str, zone: ZoneInfo, now: datetime) -> datetime | None:
    """The next local moment `hhmm` on the day-month of `birthday` (YYYY-MM-DD or --MM-DD), from now on."""
    month, day = int(birthday[-5:-3]), int(birthday[-2:])
    local_now = now.astimezone(zone)
    for year in (local_now.year, local_now.year + 1):
        try:
            candidate = datetime.combine(date(year, month, day), parse_hhmm(hhmm), tzinfo=zone)
        except ValueError:  # 29 February in a common year: celebrate on the 28th
            candidate = datetime.combine(date(year, 2, 28), parse_hhmm(hhmm), tzinfo=zone)
        if candidate > now - timedelta(hours=1):
            return candidate
    return None


def end_of_quiet_hours(now: datetime, start: str, end: str, zone: ZoneInfo) -> datetime | None:
    """When the quiet window holding `now` ends (local `end`), or None when `now` is outside it.

    A window such as 21:00-08:00 spans midnight."""
    local_now = now.astimezone(zone)
    begin, finish, moment = parse_hhmm(start), parse_hhmm(end), local_now.time()
    spans_midnight = begin > finish
    inside = (moment >= begin or moment < finish) if spans_midnight else (begin <= moment < finish)
    if not inside:
        return None
    day = local_now.date()
    if spans_midnight and moment >= begin:
        day += timedelta(days=1)
    return datetime.combine(day, finish, tzinfo=zone)


# -- what each action step does -------------------------------------------------------------


class World(Protocol):
    """What action steps act on: stored contacts and real channels, or a simulated contact."""

    def send(self, step: Mapping[str, Any]) -> str:
        """Send an email or SMS step through the send gate: sent, skipped:<reason> or failed:<why>."""

    def join_list(self, list_id: str, source: str) -> bool:
        """Add the contact to a list; False if it was a member already."""

    def leave_list(self, list_id: str, source: str) -> bool:
        """Remove the contact from a list; False if it was not a member."""

    def add_points(self, points: int, reason: Mapping[str, Any]) -> bool:
        """Add score points (they decay and move the stage like event points); False if done before."""

    def update_contact(self, step: Mapping[str, Any]) -> str:
        """Set the step's fields: updated, unchanged or invalid:<why>."""

    def call_webhook(self, step: Mapping[str, Any]) -> str:
        """POST the step's body to its URL: the outcome."""

    def delete_contact(self, reason: str) -> None:
        """Erase the contact (GDPR erasure)."""


def perform(step: Mapping[str, Any], definition: Mapping[str, Any], world: World) -> str:
    """Do an action step; the short outcome recorded on the journey's path."""
    kind = step["type"]
    source = f"scenario:{definition['id']}"
    if kind in SENDS:
        return world.send(step)
    if kind == "add_to_list":
        return "joined" if world.join_list(step["list"], source) else "member"
    if kind == "remove_from_list":
        return "left" if world.leave_list(step["list"], source) else "absent"
    if kind == "score":
        points = int(step["points"])
        added = world.add_points(points, {"scenario": definition["id"], "step": step["id"]})
        return f"{points:+d}" if added else "done"
    if kind == "update_contact":
        return world.update_contact(step)
    if kind == "webhook":
        return world.call_webhook(step)
    if kind == "delete_contact":
        world.delete_contact(source)
        return "deleted"
    return "exit"


def ends_journey(step: Mapping[str, Any]) -> str | None:
    """The status an action step ends the journey with by itself (exit, delete_contact), or None."""
    return {"exit": "exited", "delete_contact": "completed"}.get(step["type"])
