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
  suppression list is not consulted), then the message is rendered by the sender's renderer,
  minus link tracking and the open pixel. A missing template or a template error fails the
  journey, as it fails the real step; webhooks are not called (`not_called`);
- score points decay with the scoring settings' half-life and move the stage, as stored points do;
- a split records `branch:N` (0-based): the bucket is the one the stack gives this contact for
  this entry (from its id, the scenario and the entry key: the trigger event's `id` when the
  scenario can be re-entered); a criterion that cannot be evaluated fails the journey (status
  `failed`), as a failing Task does.

The meaning of each step is chalicelib.scenarios.semantics, the module the compiler, the step
runner and the automation consumer use; this module only keeps the virtual clock and the
in-memory world.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo

from chalicelib import clock, criteria, durations, vocabulary
from chalicelib.channels import gate, render, templates
from chalicelib.contacts.fields import clean_assignments
from chalicelib.problems import Invalid, Problem, join
from chalicelib.scenarios import semantics
from chalicelib.scoring import rules as scoring_rules

UNSUBSCRIBE_PLACEHOLDER = "(unsubscribe link)"
MAX_TIMELINE_EVENTS = 1000
TIMELINE_KEYS = ("id", "type", "properties", "at")
_AFTER_EVERYTHING = 1 << 40  # sequence numbers of events the journey produces


class InvalidTimeline(Invalid):
    """simulate() was given a timeline that validate_timeline() refuses."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems, "The timeline is not valid.")


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
        elif not vocabulary.is_event_type(event["type"]):
            problems.append(Problem(join(path, "type"), "an event type is a name such as purchase or "
                                    f"email.clicked ({vocabulary.EVENT_TYPE_RULE}), not {event['type']!r}"))
        if "id" in event and not (isinstance(event["id"], str) and 0 < len(event["id"]) <= 128):
            problems.append(Problem(join(path, "id"), "id is the event's id, as posted to /events: "
                                    "a string of 1 to 128 characters"))
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
    properties: dict[str, Any]
    id: str | None = None

    @property
    def key(self) -> tuple[datetime, int]:
        return (self.moment, self.seq)


class _End(Exception):
    def __init__(self, status: str, at: datetime) -> None:
        super().__init__(status)
        self.status = status
        self.at = at


@dataclass(frozen=True)
class Installation:
    """What the stack reads from its configuration and stored settings, given to a simulation."""

    default_timezone: str = "UTC"
    caps: gate.Caps = field(default_factory=lambda: gate.Caps(None, None))
    scoring: Mapping[str, Any] | None = None
    template: Callable[[str], dict[str, Any] | None] = lambda template_id: None


# -- the simulation ------------------------------------------------------------------------


def simulate(definition: dict[str, Any], contact: dict[str, Any], timeline: list[dict[str, Any]], *,
             start: datetime | None = None, installation: Installation | None = None,
             bucket: int | None = None) -> dict[str, Any]:
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
    return _Simulation(definition, contact, timeline, anchor, installation or Installation(), bucket).run()


class _Simulation:
    def __init__(self, definition: dict[str, Any], contact: dict[str, Any], timeline: list[dict[str, Any]],
                 start: datetime, installation: Installation, bucket: int | None) -> None:
        self.body = definition
        self.contact = _contact_copy(contact)
        self.start = start
        self.installation = installation
        self.bucket = bucket
        moments = sorted((_resolve_at(item["at"], start), index) for index, item in enumerate(timeline))
        self.events = [_Event(moment, seq, timeline[index]["type"], dict(timeline[index].get("properties") or {}),
                              timeline[index].get("id"))
                       for seq, (moment, index) in enumerate(moments)]
        self.produced = 0
        self.now = start
        self.entered_by: dict[str, Any] = {"id": "simulated"}  # the trigger as the stack records it: its id, entry key
        self.entry_key: tuple[datetime, int] = (start, -1)
        self.trigger: dict[str, Any] = {}
        self.path: list[dict[str, Any]] = []
        self.world = _MemoryWorld(self)
        self.notes: list[str] = []

    # -- running -------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        self._enter()
        entered = self.now
        try:
            self._steps(self.body.get("steps") or [])
            status, ended = "completed", self.now
        except _End as end:
            status, ended = end.status, end.at
        return {"status": status, "entered_at": clock.iso(entered), "ended_at": clock.iso(ended),
                "path": self.path, "messages": self.world.messages, "notes": self.notes, "contact": self.contact}

    def _enter(self) -> None:
        trigger = self.body.get("trigger") or {}
        if "event" in trigger:
            matching = [event for event in self.events
                        if _guarded(semantics.triggered, self.body, event.type, event.properties, now=event.moment)]
            chosen = next((event for event in matching if event.moment >= self.start), None)
            chosen = chosen or (matching[0] if matching else None)
            if chosen is not None:
                self.now, self.entry_key = chosen.moment, chosen.key
                self.entered_by = {"id": vocabulary.client_event_id(chosen.id) if chosen.id else "simulated"}
                self.trigger = chosen.properties
                return
            self.notes.append(f"no {trigger['event']} event in the timeline matches the trigger: simulated from "
                              f"{clock.iso(self.start)} with an empty trigger")
            return
        if "date" in trigger:
            moment = semantics.date_trigger_moment(trigger["date"], self.contact, self._zone(), self.start)
            if moment is None:
                self.notes.append(f"the contact has no usable {trigger['date'].get('field') or 'birthday'}: the "
                                  f"date trigger would never enter it; simulated from {clock.iso(self.start)}")
                return
            self.now = moment
            self.entry_key = (moment, -1)
            self.entered_by = {"id": f"birthday-{moment.year}", "entry_key": str(moment.year)}  # as the daily job
            self.trigger = {"date": moment.date().isoformat()}  # the local date, as the job sets it
            self.notes.append(f"date trigger: enters on {trigger['date'].get('field')} at {clock.iso(moment)}")
            return
        self.notes.append(f"the scenario has no trigger: simulated from {clock.iso(self.start)}")

    def _steps(self, steps: list[dict[str, Any]]) -> None:
        for step in steps:
            self._step(step)

    def _step(self, step: dict[str, Any]) -> None:
        self._reach(self.now)
        kind = step["type"]
        if kind == "wait":
            self._wait(step)
        elif kind == "wait_for":
            self._wait_for(step)
        elif kind == "if":
            matched = self._criteria(step, lambda subject: semantics.condition_met(step, subject, now=self.now))
            self._record(step, "then" if matched else "else")
            self._steps(step["then"] if matched else step.get("else") or [])
        elif kind == "split":
            chosen = semantics.branch_of(step, self._bucket())
            self._record(step, f"branch:{chosen}")
            self._steps(step["branches"][chosen]["steps"])
        else:
            self._action(step)

    # -- flow ------------------------------------------------------------------------------------

    def _wait(self, step: dict[str, Any]) -> None:
        began = self.now
        if "duration" in step:
            target = began + timedelta(seconds=semantics.wait_seconds(step["duration"]))
        else:
            target = semantics.wait_until(step, self.contact, self._zone(), began)
            field_ = step["until"].get("date_field")
            if field_ and target == began:
                usable = isinstance(semantics.date_value(self.contact, field_), str)
                self.notes.append(f"{step['id']}: " + (f"{field_} has passed: the wait ends at once" if usable else
                                                       f"the contact has no usable {field_}: the wait ends at once"))
        self._until(step, began, target, "waited")

    def _wait_for(self, step: dict[str, Any]) -> None:
        began = self.now
        deadline = began + timedelta(seconds=semantics.wait_seconds(step["timeout"]))
        caught = next((event for event in self._all_events()
                       if event.key > self.entry_key and began <= event.moment < deadline
                       and _guarded(semantics.awaited, step.get("where"), event.type, step["event"],
                                    event.properties, now=event.moment)),
                      None)
        end = caught.moment if caught else deadline
        self._until(step, began, end, "then" if caught else "timeout")
        self._steps((step.get("then") if caught else step.get("else")) or [])

    def _until(self, step: dict[str, Any], began: datetime, end: datetime, result: str) -> None:
        """Record a step that lasts from `began` to `end`, unless a goal converts the journey first."""
        goal = self._goal_by(end)
        if goal is not None:
            self._record(step, "converted", at=began, until=goal.moment)
            self._convert(goal)
        self._record(step, result, at=began, until=end)
        self.now = end

    def _bucket(self) -> int:
        if self.bucket is None:
            who = str(self.contact.get("id") or "simulated")
            key = f"{self.body.get('id')}#{semantics.entry_key(self.body, self.entered_by)}"
            self.bucket = semantics.bucket_of(semantics.execution_name(who, str(self.body.get("id")), key))
            self.notes.append(f"A/B bucket {self.bucket} (this contact's bucket for this entry)")
        return self.bucket

    # -- actions ---------------------------------------------------------------------------------

    def _action(self, step: dict[str, Any]) -> None:
        if step["type"] in semantics.SENDS:
            release = semantics.quiet_release(self.body, self._zone(), self.now)
            if release is not None:
                self._reach(release)
                self.notes.append(f"{step['id']}: held by quiet hours until {clock.iso(release)}")
                self.now = release
        if self._criteria(step, lambda subject: semantics.exit_met(self.body, subject, now=self.now)):
            self._record(step, "exit_when")
            self.notes.append(f"exit_when met before {step['id']}")
            raise _End("exited", self.now)
        try:
            result = semantics.perform(step, self.body, self.world)
        except templates.TemplateError as error:  # the real step fails, and its journey with it
            self._record(step, f"failed:{error}")
            raise _End("failed", self.now) from None
        self._record(step, result)
        if step["type"] == "webhook":
            self.notes.append(f"{step['id']}: would POST to {step.get('url')} (not called in a simulation)")
        elif step["type"] == "delete_contact":
            self.notes.append(f"{step['id']}: the contact would be erased")
        ending = semantics.ends_journey(step)
        if ending:
            raise _End(ending, self.now)

    # -- events, goals, criteria -----------------------------------------------------------------

    def _all_events(self) -> list[_Event]:
        return sorted(self.events, key=lambda event: event.key)

    def produce(self, event_type: str, properties: dict[str, Any]) -> None:
        self.produced += 1
        self.events.append(_Event(self.now, _AFTER_EVERYTHING + self.produced, event_type, properties))

    def _goal_by(self, moment: datetime) -> _Event | None:
        """The first goal event after the entry and at or before `moment`."""
        if not self.body.get("goals"):
            return None
        for event in self._all_events():
            if event.moment > moment:
                break
            if event.key > self.entry_key and _guarded(semantics.goal_met, self.body, event.type, event.properties,
                                                       now=event.moment):
                return event
        return None

    def _reach(self, moment: datetime) -> None:
        goal = self._goal_by(moment)
        if goal is not None:
            self._convert(goal)

    def _convert(self, goal: _Event) -> None:
        self.notes.append(f"converted: goal {goal.type} at {clock.iso(goal.moment)}")
        raise _End("converted", goal.moment)

    def _criteria(self, step: dict[str, Any], test: Callable[[criteria.Subject], bool]) -> bool:
        """Criteria on the contact as the journey left it and the events up to now; one that cannot be
        evaluated fails the journey, as a failing Task does."""
        now = self.now

        def history(event_type: str, since: datetime | None) -> list[dict[str, Any]]:
            return [{"type": event.type, "properties": event.properties, "timestamp": event.moment}
                    for event in self._all_events()
                    if event.type == event_type and event.moment <= now and (since is None or event.moment >= since)]

        subject = criteria.ContactSubject(self.contact, events=history, lists=self.contact["lists"],
                                          segments=self.contact.get("segments") or ())
        try:
            return test(subject)
        except (ValueError, TypeError, ArithmeticError) as error:
            self._record(step, f"failed:{error}")
            raise _End("failed", now) from None

    # -- small things ----------------------------------------------------------------------------

    def _record(self, step: dict[str, Any], result: str, *, at: datetime | None = None,
                until: datetime | None = None) -> None:
        entry = {"step": step["id"], "type": step["type"], "at": clock.iso(at or self.now), "result": result}
        if until is not None:
            entry["until"] = clock.iso(until)
        self.path.append(entry)

    def _zone(self) -> ZoneInfo:
        return semantics.zone_of(self.contact, self.body, self.installation.default_timezone)


class _MemoryWorld:
    """semantics.World on the simulated contact: nothing stored, nothing sent."""

    def __init__(self, simulation: _Simulation) -> None:
        self.simulation = simulation
        self.contact = simulation.contact
        self.messages: list[dict[str, Any]] = []
        self.sent: list[tuple[datetime, bool]] = []  # for the frequency caps
        score = self.contact.get("score")
        self.points = float(score) if _is_number(score) else 0.0  # decayed to `scored_at`, as the stored state
        self.scored_at = simulation.start

    def send(self, step: Mapping[str, Any]) -> str:
        simulation, channel = self.simulation, step["type"]
        transactional = bool(step.get("transactional"))
        day, week = self._recent_sends(simulation.now)
        reason = gate.refuse(channel, self.contact, transactional=transactional, sent_last_day=day,
                             sent_last_week=week, caps=simulation.installation.caps)
        if reason:
            return f"skipped:{reason}"
        content = render.content_of(step, simulation.installation.template)
        links = render.Links(UNSUBSCRIBE_PLACEHOLDER)
        values = render.variables(self.contact, simulation.trigger,
                                  {"id": simulation.body.get("id"), "name": simulation.body.get("name")}, links)
        message: dict[str, Any] = {"step": step["id"], "channel": channel, "at": clock.iso(simulation.now)}
        if channel == "email":
            message.update(to=self.contact.get("email"),
                           **render.email(content, values, links, transactional=transactional))
        else:
            message.update(to=self.contact.get("phone"), text=render.sms(content, values))
        self.messages.append(message)
        self.sent.append((simulation.now, transactional))
        simulation.produce(f"{channel}.sent", {"scenario": simulation.body.get("id"), "step": step["id"],
                                               "message_id": f"simulation.{step['id']}"})
        return "sent"

    def _recent_sends(self, now: datetime) -> tuple[int, int]:
        day = week = 0
        for moment, transactional in self.sent:
            if not transactional:
                week += now - moment < timedelta(days=7)
                day += now - moment < timedelta(days=1)
        return day, week

    def join_list(self, list_id: str, source: str) -> bool:
        lists: list[str] = self.contact["lists"]
        if list_id in lists:
            return False
        lists.append(list_id)
        lists.sort()
        self.simulation.produce("list.joined", {"list": list_id, "source": source})
        return True

    def leave_list(self, list_id: str, source: str) -> bool:
        lists: list[str] = self.contact["lists"]
        if list_id not in lists:
            return False
        lists.remove(list_id)
        self.simulation.produce("list.left", {"list": list_id, "source": source})
        return True

    def add_points(self, points: int, reason: Mapping[str, Any]) -> bool:
        now, settings = self.simulation.now, self.simulation.installation.scoring
        score = scoring_rules.score(settings, [(self.scored_at, self.points), (now, points)], 0, now=now)
        self.points, self.scored_at = score, now
        previous = self.contact.get("stage")
        self.contact["score"] = score
        self.contact["stage"] = scoring_rules.stage_for(settings, score)
        self.simulation.produce("score.changed", {"points": points, "score": score, **reason})
        if self.contact["stage"] != previous:
            self.simulation.produce("stage.changed", {"stage": self.contact["stage"], "previous": previous,
                                                      "score": score})
        return True

    def update_contact(self, step: Mapping[str, Any]) -> str:
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

    def call_webhook(self, step: Mapping[str, Any]) -> str:
        return "not_called"

    def delete_contact(self, reason: str) -> None:
        """The contact is erased when the real step runs; the simulation keeps it to report it."""


def _guarded(rule: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """A trigger, goal or wait filter that cannot be evaluated on an event does not match it."""
    try:
        return bool(rule(*args, **kwargs))
    except (ValueError, TypeError):
        return False


def _contact_copy(contact: Mapping[str, Any]) -> dict[str, Any]:
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


__all__ = ["Installation", "InvalidTimeline", "simulate", "validate_timeline"]
