"""Dry run of a scenario (POST /scenarios/{id}/simulate): for one contact and a timeline of
events, the path the contact would take and the messages it would get. Plain Python: nothing
is stored, nothing is sent, no AWS.

Steps mean what the compiled state machine and the step runner make them mean:
- the journey enters at the trigger event: the first timeline event matching the trigger
  (type and `where`) at or after the simulation start, else the first matching one at all
  (events before it are the contact's history); a date trigger enters at the contact's
  date (next birthday at `at`, in the contact's zone); with neither, at the start, with an
  empty trigger and a note;
- time advances only through waits: a duration (measured as the compiled Wait state counts
  it: P1M is 31 days), a time of day or a date field in the contact's zone (a moment already
  past ends the wait at once), a wait_for timeout, and quiet hours before a send;
  `if`, `split` and actions take no time;
- `exit_when` is checked before every action, against the contact as earlier steps changed
  it; a goal event (any event after the entry, timeline or produced by the journey) converts
  the journey at its moment: no step at or after that moment happens, and a goal beats a
  wait_for resumed by the same event, as in the automation consumer;
- event conditions see the events at or before the simulated moment, including the trigger,
  the history before it and the events the journey produced (email.sent, sms.sent,
  list.joined, list.left);
- sends go through the send gate (the cap counts only this simulation's messages; the
  suppression list is not consulted), then the template is rendered as the sender renders it,
  minus link tracking and the open pixel. A missing template is `skipped:template_missing`
  and a template error `failed:<message>`, and the simulation goes on (the real step would
  fail the journey); webhooks are not called (`not_called`);
- a split records `branch:N` (0-based), chosen by the bucket over cumulative weights; a
  criterion that cannot be evaluated fails the journey (status `failed`), as a failing Task does.
"""
from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo

from chalicelib import clock, criteria, durations
from chalicelib.channels import gate, templates, tracking
from chalicelib.channels.headers import clean_header_value
from chalicelib.config import settings
from chalicelib.contacts.fields import clean_assignments
from chalicelib.problems import Problem, join
from chalicelib.scenarios import local_time
from chalicelib.scenarios.compiler import scaled_seconds

UNSUBSCRIBE_PLACEHOLDER = "(unsubscribe link)"
MAX_TIMELINE_EVENTS = 1000
TIMELINE_KEYS = ("type", "properties", "at")
_EVENT_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")  # as scenarios.schema
_AFTER_EVERYTHING = 1 << 40  # sequence numbers of events the journey produces


class InvalidTimeline(ValueError):
    """simulate() was given a timeline that validate_timeline() refuses."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems[:5]))


# -- the timeline --------------------------------------------------------------------------


def validate_timeline(timeline: Any) -> list[Problem]:
    """Every problem of a simulation timeline, with paths such as `timeline[2].at`; empty when valid."""
    example = '{"type": "purchase", "properties": {...}, "at": "+P2D"}'
    if not isinstance(timeline, list):
        return [Problem("timeline", f"timeline must be a list of events such as {example}")]
    problems: list[Problem] = []
    if len(timeline) > MAX_TIMELINE_EVENTS:
        problems.append(Problem("timeline", f"at most {MAX_TIMELINE_EVENTS} events, not {len(timeline)}"))
    for index, event in enumerate(timeline[:MAX_TIMELINE_EVENTS]):
        path = join("timeline", index)
        if not isinstance(event, dict):
            problems.append(Problem(path, f"an event must be an object such as {example}"))
            continue
        for key in event:
            if key not in TIMELINE_KEYS:
                problems.append(Problem(join(path, str(key)), f"unknown field {str(key)!r} in a timeline event; "
                                        f"expected {', '.join(TIMELINE_KEYS)}"))
        if "type" not in event:
            problems.append(Problem(join(path, "type"), "type is required: the event type, such as purchase"))
        elif not isinstance(event["type"], str) or not _EVENT_TYPE.fullmatch(event["type"]):
            problems.append(Problem(join(path, "type"), "an event type is a name such as purchase or "
                                    f"email.clicked (letters, digits, _ . : -), not {event['type']!r}"))
        if "properties" in event and event["properties"] is not None and not isinstance(event["properties"], dict):
            problems.append(Problem(join(path, "properties"), "properties must be an object"))
        if "at" not in event:
            problems.append(Problem(join(path, "at"), 'at is required: an ISO date-time, or an offset from '
                                    'the simulation start such as "+P2D" or "+PT30M" ("-P30D" before it)'))
        else:
            problem = _at_problem(event["at"])
            if problem:
                problems.append(Problem(join(path, "at"), problem))
    return problems


def _at_problem(value: Any) -> str | None:
    hint = 'an ISO date-time such as "2026-11-22T10:00:00Z", or an offset such as "+P2D", "+PT30M" or "-P30D"'
    if not isinstance(value, str) or not value.strip():
        return f"at must be {hint}"
    try:
        _resolve_at(value, datetime(2026, 1, 1, tzinfo=timezone.utc))
    except (ValueError, OverflowError, TypeError):
        return f"{value!r} is not {hint}"
    return None


def _resolve_at(value: str, start: datetime) -> datetime:
    """The moment of an `at`: an offset from `start` or an ISO date(-time), naive read as UTC."""
    text = value.strip()
    if text[:1] in "+-P":
        offset = text.removeprefix("+")
        if offset.startswith("+"):
            raise ValueError(value)
        return durations.shift(start, offset)
    return clock.parse_iso(text)


@dataclass(frozen=True)
class _Event:
    moment: datetime
    seq: int  # order among events at the same moment
    type: str
    properties: dict

    @property
    def key(self) -> tuple[datetime, int]:
        return (self.moment, self.seq)


class _End(Exception):
    def __init__(self, status: str, at: datetime) -> None:
        super().__init__(status)
        self.status = status
        self.at = at


# -- the simulation ------------------------------------------------------------------------


def simulate(definition: dict, contact: dict, timeline: list[dict], *, start: datetime | None = None,
             template: Callable[[str], dict | None] = lambda template_id: None,
             bucket: int | None = None) -> dict:
    """The journey `contact` would take through the scenario given the events of `timeline`.

    Answers {"status", "entered_at", "ended_at", "path": [{"step", "type", "at", "result"(, "until")}],
    "messages": [...], "notes": [...], "contact": the contact as the journey left it}.
    Raises InvalidTimeline for a timeline validate_timeline() refuses, ValueError for a
    bucket outside 0-99; never for a valid scenario.
    """
    problems = validate_timeline(timeline)
    if problems:
        raise InvalidTimeline(problems)
    if bucket is not None and (isinstance(bucket, bool) or not isinstance(bucket, int) or not 0 <= bucket <= 99):
        raise ValueError(f"bucket must be a whole number from 0 to 99, not {bucket!r}")
    anchor = start or clock.now()
    if anchor.tzinfo is None:
        anchor = anchor.replace(tzinfo=timezone.utc)
    return _Simulation(definition, contact, timeline, anchor, template, bucket).run()


class _Simulation:
    def __init__(self, definition: dict, contact: dict, timeline: list[dict], start: datetime,
                 template: Callable[[str], dict | None], bucket: int | None) -> None:
        self.body = definition
        self.contact = _contact_copy(contact)
        self.start = start
        self.template = template
        self.bucket = bucket
        moments = [(_resolve_at(item["at"], start), index) for index, item in enumerate(timeline)]
        moments.sort()
        self.events = [_Event(moment, seq, timeline[index]["type"], dict(timeline[index].get("properties") or {}))
                       for seq, (moment, index) in enumerate(moments)]
        self.produced = 0
        self.now = start
        self.entry_key: tuple[datetime, int] = (start, -1)
        self.trigger: dict = {}
        self.path: list[dict] = []
        self.messages: list[dict] = []
        self.sent: list[tuple[datetime, bool]] = []  # for the frequency caps
        self.notes: list[str] = []

    # -- running -------------------------------------------------------------------------------

    def run(self) -> dict:
        self._enter()
        entered = self.now
        try:
            self._steps(self.body.get("steps") or [])
            status, ended = "completed", self.now
        except _End as end:
            status, ended = end.status, end.at
        return {"status": status, "entered_at": clock.iso(entered), "ended_at": clock.iso(ended),
                "path": self.path, "messages": self.messages, "notes": self.notes, "contact": self.contact}

    def _enter(self) -> None:
        trigger = self.body.get("trigger") or {}
        if "event" in trigger:
            matching = [event for event in self.events if event.type == trigger["event"]
                        and self._properties_match(trigger.get("where"), event)]
            chosen = next((event for event in matching if event.moment >= self.start), None)
            chosen = chosen or (matching[0] if matching else None)
            if chosen is not None:
                self.now, self.entry_key = chosen.moment, chosen.key
                self.trigger = chosen.properties
                return
            self.notes.append(f"no {trigger['event']} event in the timeline matches the trigger: simulated from "
                              f"{clock.iso(self.start)} with an empty trigger")
            return
        if "date" in trigger:
            moment = self._date_entry(trigger["date"])
            if moment is not None:
                self.now = moment
                self.entry_key = (moment, -1)
                self.trigger = {"date": moment.date().isoformat()}  # the local date, as the job sets it
                self.notes.append(f"date trigger: enters on {trigger['date'].get('field')} at {clock.iso(moment)}")
            return
        self.notes.append(f"the scenario has no trigger: simulated from {clock.iso(self.start)}")

    def _date_entry(self, spec: dict) -> datetime | None:
        field = spec.get("field") or "birthday"
        value = _date_value(self.contact, field)
        at = spec.get("at") or "09:00"  # as the date-trigger job
        zone = self._zone()
        moment = None
        if isinstance(value, str) and value:
            try:
                if spec.get("annual"):
                    moment = local_time.next_anniversary(value, at, zone, self.start)
                else:
                    day = local_time.date_field_moment(value, None, zone)
                    if day is not None:
                        local = day.astimezone(zone)
                        moment = datetime.combine(local.date(), local_time.parse_hhmm(at), tzinfo=zone)
            except (ValueError, TypeError):
                moment = None
        if moment is None:
            self.notes.append(f"the contact has no usable {field}: the date trigger would never enter it; "
                              f"simulated from {clock.iso(self.start)}")
        return moment

    def _steps(self, steps: list[dict]) -> None:
        for step in steps:
            self._step(step)

    def _step(self, step: dict) -> None:
        self._reach(self.now)
        kind = step["type"]
        if kind == "wait":
            self._wait(step)
        elif kind == "wait_for":
            self._wait_for(step)
        elif kind == "if":
            matched = self._matches(step["condition"], step)
            self._record(step, "then" if matched else "else")
            self._steps(step["then"] if matched else step.get("else") or [])
        elif kind == "split":
            self._split(step)
        else:
            self._action(step)

    # -- flow ------------------------------------------------------------------------------------

    def _wait(self, step: dict) -> None:
        began = self.now
        if "duration" in step:
            target = began + timedelta(seconds=scaled_seconds(step["duration"]))
        else:
            until = step.get("until") or {}
            zone = self._zone()
            if "time" in until:
                target = local_time.next_time_of_day(began, until["time"], zone)
            else:
                field = until.get("date_field") or ""
                value = _date_value(self.contact, field)
                moment = None
                if isinstance(value, str):
                    try:
                        moment = local_time.date_field_moment(value, until.get("offset"), zone)
                    except (ValueError, TypeError, OverflowError):
                        moment = None
                if moment is None:
                    self.notes.append(f"{step['id']}: the contact has no usable {field}: the wait ends at once")
                    moment = began
                elif moment < began:
                    self.notes.append(f"{step['id']}: {clock.iso(moment)} has passed: the wait ends at once")
                target = moment
            target = max(target, began)
        self._until(step, began, target, "waited")

    def _wait_for(self, step: dict) -> None:
        began = self.now
        deadline = began + timedelta(seconds=scaled_seconds(step["timeout"]))
        caught = next((event for event in self._all_events()
                       if event.key > self.entry_key and began <= event.moment < deadline
                       and event.type == step["event"] and self._properties_match(step.get("where"), event)), None)
        end = caught.moment if caught else deadline
        self._until(step, began, end, "then" if caught else "timeout")
        self._steps((step.get("then") if caught else step.get("else")) or [])

    def _until(self, step: dict, began: datetime, end: datetime, result: str) -> None:
        """Record a step that lasts from `began` to `end`, unless a goal converts the journey first."""
        goal = self._goal_by(end)
        if goal is not None:
            self._record(step, "converted", at=began, until=goal.moment)
            self._convert(goal)
        self._record(step, result, at=began, until=end)
        self.now = end

    def _split(self, step: dict) -> None:
        bucket = self._bucket()
        branches = step.get("branches") or []
        bound, chosen = 0, len(branches) - 1
        for index, branch in enumerate(branches[:-1]):
            bound += branch["weight"]
            if bucket < bound:
                chosen = index
                break
        self._record(step, f"branch:{chosen}")
        if branches:
            self._steps(branches[chosen]["steps"])

    def _bucket(self) -> int:
        if self.bucket is None:
            who = self.contact.get("id") or self.contact.get("email") or self.contact.get("phone") or ""
            seed = f"{self.body.get('id')}|{who}".encode()
            self.bucket = int(hashlib.sha256(seed).hexdigest()[:8], 16) % 100
            self.notes.append(f"A/B bucket {self.bucket} (derived from the contact)")
        return self.bucket

    # -- actions ---------------------------------------------------------------------------------

    def _action(self, step: dict) -> None:
        kind = step["type"]
        quiet = (self.body.get("settings") or {}).get("quiet_hours")
        if kind in ("email", "sms") and quiet:
            release = local_time.end_of_quiet_hours(self.now, quiet["from"], quiet["to"], self._zone())
            if release is not None:
                self._reach(release)
                self.notes.append(f"{step['id']}: held by quiet hours until {clock.iso(release)}")
                self.now = release
        exit_when = self.body.get("exit_when")
        if exit_when and self._matches(exit_when, step):
            self._record(step, "exit_when")
            self.notes.append(f"exit_when met before {step['id']}")
            raise _End("exited", self.now)
        if kind in ("email", "sms"):
            self._record(step, self._send(step))
        elif kind in ("add_to_list", "remove_from_list"):
            self._record(step, self._list(step))
        elif kind == "score":
            points = int(step["points"])
            score = self.contact.get("score")
            self.contact["score"] = (score if _is_number(score) else 0) + points
            self._record(step, f"{points:+d}")
        elif kind == "update_contact":
            self._record(step, self._update(step))
        elif kind == "webhook":
            self._record(step, "not_called")
            self.notes.append(f"{step['id']}: would POST to {step.get('url')} (not called in a simulation)")
        elif kind == "delete_contact":
            self._record(step, "deleted")
            self.notes.append(f"{step['id']}: the contact would be erased")
            raise _End("completed", self.now)  # as the step runner ends it
        else:  # exit
            self._record(step, "exit")
            raise _End("exited", self.now)

    def _send(self, step: dict) -> str:
        channel = step["type"]
        transactional = bool(step.get("transactional"))
        day, week = self._recent_sends()
        caps = gate.Caps(settings().max_per_day or None, settings().max_per_week or None)
        reason = gate.refuse(channel, self.contact, transactional=transactional,
                             sent_last_day=day, sent_last_week=week, caps=caps)
        if reason:
            return f"skipped:{reason}"
        if step.get("template"):
            content = self.template(step["template"])
            if content is None:
                return "skipped:template_missing"
        else:
            content = {"subject": step.get("subject"), "html": step.get("html"), "text": step.get("text")}
        variables = {"contact": self.contact, "event": self.trigger,
                     "scenario": {"id": self.body.get("id"), "name": self.body.get("name")},
                     "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER}
        try:
            if channel == "email":
                message = {"step": step["id"], "channel": "email", "at": clock.iso(self.now),
                           "to": self.contact.get("email"), **_render_email(content, variables, transactional)}
            else:
                text = templates.render(content.get("text") or "", variables, autoescape=False)
                message = {"step": step["id"], "channel": "sms", "at": clock.iso(self.now),
                           "to": self.contact.get("phone"), "text": text}
        except templates.TemplateError as error:
            return f"failed:{error}"
        self.messages.append(message)
        self.sent.append((self.now, transactional))
        self._produce(f"{channel}.sent", {"scenario": self.body.get("id"), "step": step["id"],
                                          "message_id": f"simulation.{step['id']}"})
        return "sent"

    def _recent_sends(self) -> tuple[int, int]:
        day = week = 0
        for moment, transactional in self.sent:
            if transactional:
                continue
            age = self.now - moment
            week += age < timedelta(days=7)
            day += age < timedelta(days=1)
        return day, week

    def _list(self, step: dict) -> str:
        lists: list = self.contact["lists"]
        list_id = step["list"]
        if step["type"] == "add_to_list":
            if list_id in lists:
                return "member"
            lists.append(list_id)
            lists.sort()
            self._produce("list.joined", {"list": list_id, "source": f"scenario:{self.body.get('id')}"})
            return "joined"
        if list_id not in lists:
            return "absent"
        lists.remove(list_id)
        self._produce("list.left", {"list": list_id, "source": f"scenario:{self.body.get('id')}"})
        return "left"

    def _update(self, step: dict) -> str:
        """As the step runner: the same cleaning of the fields, then the change on the contact."""
        cleaned, problems = clean_assignments(step.get("set") or {}, "set")
        if problems:
            return "invalid:" + "; ".join(problem.message for problem in problems)
        changed = False
        attributes = self.contact["attributes"]
        for name, value in (cleaned.pop("attributes", None) or {}).items():
            if value is None:
                changed |= attributes.pop(name, None) is not None
            elif attributes.get(name) != value:
                attributes[name] = value
                changed = True
        for name, value in cleaned.items():
            if self.contact.get(name) != value:
                self.contact[name] = value
                changed = True
        return "updated" if changed else "unchanged"

    # -- events, goals, criteria -----------------------------------------------------------------

    def _all_events(self) -> list[_Event]:
        return sorted(self.events, key=lambda event: event.key)

    def _produce(self, event_type: str, properties: dict) -> None:
        self.produced += 1
        self.events.append(_Event(self.now, _AFTER_EVERYTHING + self.produced, event_type, properties))

    def _properties_match(self, where: Any, event: _Event) -> bool:
        try:
            return criteria.matches_properties(where, event.properties, now=event.moment)
        except (ValueError, TypeError):
            return False

    def _goal_by(self, moment: datetime) -> _Event | None:
        """The first goal event after the entry and at or before `moment`."""
        goals = self.body.get("goals") or []
        if not goals:
            return None
        for event in self._all_events():
            if event.moment > moment:
                break
            if event.key <= self.entry_key:
                continue
            if any(goal.get("event") == event.type and self._properties_match(goal.get("where"), event)
                   for goal in goals):
                return event
        return None

    def _reach(self, moment: datetime) -> None:
        goal = self._goal_by(moment)
        if goal is not None:
            self._convert(goal)

    def _convert(self, goal: _Event) -> None:
        self.notes.append(f"converted: goal {goal.type} at {clock.iso(goal.moment)}")
        raise _End("converted", goal.moment)

    def _matches(self, node: Mapping, step: dict) -> bool:
        now = self.now

        def history(event_type: str, since: datetime | None) -> list[dict]:
            return [{"type": event.type, "properties": event.properties, "timestamp": event.moment}
                    for event in self._all_events()
                    if event.type == event_type and event.moment <= now and (since is None or event.moment >= since)]

        subject = criteria.ContactSubject(self.contact, events=history, lists=self.contact["lists"],
                                          segments=self.contact.get("segments") or ())
        try:
            return criteria.matches(node, subject, now=now)
        except (ValueError, TypeError, ArithmeticError) as error:  # a Task error fails the journey
            self._record(step, f"failed:{error}")
            raise _End("failed", now) from None

    # -- small things ----------------------------------------------------------------------------

    def _record(self, step: dict, result: str, *, at: datetime | None = None, until: datetime | None = None) -> None:
        entry = {"step": step["id"], "type": step["type"], "at": clock.iso(at or self.now), "result": result}
        if until is not None:
            entry["until"] = clock.iso(until)
        self.path.append(entry)

    def _zone(self) -> ZoneInfo:
        timezone_name = self.contact.get("timezone")
        return local_time.zone_of(timezone_name if isinstance(timezone_name, str) else None, self.body)


def _contact_copy(contact: Mapping) -> dict:
    data = copy.deepcopy(dict(contact or {}))
    if not isinstance(data.get("attributes"), dict):
        data["attributes"] = {}
    lists = data.get("lists")
    data["lists"] = sorted(str(item) for item in lists) if isinstance(lists, (list, tuple, set, frozenset)) else []
    consent = data["consent"] if isinstance(data.get("consent"), dict) else {}
    data["consent"] = {channel: {"granted": record} if isinstance(record, bool) else record
                       for channel, record in consent.items() if isinstance(record, (bool, dict))}
    return data


def _is_number(value: Any) -> TypeGuard[int | float | Decimal]:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _date_value(contact: dict, field: str) -> Any:
    """A built-in date field, or a custom attribute (`attributes.trial_ends_at` or bare `trial_ends_at`),
    as the step runner reads it."""
    if field in contact and field != "attributes":
        return contact[field]
    return contact["attributes"].get(field.removeprefix("attributes."))


def _render_email(content: Mapping, variables: dict, transactional: bool) -> dict:
    """Subject, html and text as the sender renders them (without link tracking or open pixel)."""
    subject = clean_header_value(templates.render(content.get("subject") or "", variables, autoescape=False))
    html = templates.render(content["html"], variables, autoescape=True) if content.get("html") else ""
    text = templates.render(content["text"], variables, autoescape=False) if content.get("text") else \
        templates.html_to_text(html)
    if not html:
        html = "<p>" + templates.render("{{ t }}", {"t": text}, autoescape=True).replace("\n", "<br>") + "</p>"
    if not transactional:
        html, text = tracking.ensure_unsubscribe_link(html, text, UNSUBSCRIBE_PLACEHOLDER)
    return {"subject": subject, "html": html, "text": text}


__all__ = ["InvalidTimeline", "simulate", "validate_timeline"]
