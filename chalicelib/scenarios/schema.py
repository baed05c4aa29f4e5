"""Scenario JSON (DESIGN.md section 6): validation that lists every problem at once.

`validate(definition)` answers a list of `Problem(path, message)`, empty when the scenario is
valid. Paths are JSON paths such as `steps[2].then[0].duration`. Besides the format itself it
checks what would make the compiled state machine fail on AWS: its number of states, the
worst-case execution history, the total waiting time along a path, and the size of the JSON.
"""
from __future__ import annotations

import ipaddress
import json
import math
import re
import zoneinfo
from datetime import date
from functools import lru_cache
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from chalicelib import durations
from chalicelib.channels import addresses, templates
from chalicelib.criteria import validate as validate_criteria
from chalicelib.problems import Problem, join
from chalicelib.scenarios import compiler
from chalicelib.vocabulary import (
    BUILTIN_NAMES,
    DATE_FIELDS,
    EVENT_TYPE_RULE,
    STEP_FIELDS,
    STEP_TYPES,
    TERMINAL_TYPES,
    TRIGGER_DATE_FIELDS,
    is_event_type,
)

SCENARIO_KEYS: tuple[str, ...] = (
    "id", "name", "description", "trigger", "entry", "goals", "exit_when", "settings", "steps")

# Built-in contact fields an update_contact step may set (besides attributes.NAME). The key,
# consent, statuses, score and computed fields (stage follows the score) have their own paths.
SETTABLE_FIELDS: tuple[str, ...] = (
    "first_name", "last_name", "birthday", "timezone", "language")

# Step Functions limits (Standard workflows) and our own.
MAX_STATES = 200
MAX_HISTORY_EVENTS = 25_000
MAX_DEFINITION_BYTES = 1024 * 1024
MAX_EXECUTION_SECONDS = durations.ONE_YEAR_SECONDS
MAX_NESTING = 32  # lists of steps inside steps inside steps...

_SCENARIO_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_STEP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")  # template and list ids
_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_ATTRIBUTE = re.compile(r"attributes\.[A-Za-z_][A-Za-z0-9_]{0,63}")
_BARE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")

_DURATION_HINT = "an ISO 8601 duration such as PT1H, P3D or P6M"


def validate(definition: Any) -> list[Problem]:
    """Every problem of a scenario definition, in document order; empty when it is valid."""
    checker = _Checker()
    checker.scenario(definition)
    return checker.problems


def content_problems(content: dict[str, Any], channel: str, path: str) -> list[Problem]:
    """What is wrong with the content of an email or SMS (a template id, or inline parts), checked
    as a scenario's email and sms steps are (campaigns send the same messages)."""
    checker = _Checker()
    if channel == "email":
        checker.step_email(content, path, {})
    else:
        checker.step_sms(content, path, {})
    return checker.problems


def settings_problems(value: Any, path: str) -> list[Problem]:
    """What is wrong with `settings` (quiet_hours, timezone), as a scenario's are checked."""
    checker = _Checker()
    checker.settings(value, path)
    return checker.problems


def time_of_day_problems(value: Any, path: str) -> list[Problem]:
    checker = _Checker()
    checker.time_of_day(value, path)
    return checker.problems


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_iso_date(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def _describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 40 else text[:37] + "..."


def webhook_url_problem(url: Any) -> str | None:
    """Why `url` may not be called by a webhook step, or None. https only, public names only.

    This is the static half of the SSRF guard: the runner must still refuse a name that
    resolves to a private, loopback or link-local address at call time (DNS rebinding).
    """
    if not isinstance(url, str) or not url:
        return "must be an https URL such as https://crm.example.com/hook"
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"{_describe(url)} is not a valid URL"
    if parts.scheme.lower() != "https":
        return f"only https URLs can be called, not {parts.scheme or 'a relative URL'}"
    if port not in (None, addresses.ALLOWED_PORT):
        return f"webhooks call port {addresses.ALLOWED_PORT} only (the https port), not {port}"
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return "the URL has no host name"
    labels = host.split(".")
    if ":" in host or _NUMERIC_LABEL.fullmatch(labels[-1]):
        return f"the host {host!r} is an IP address: webhooks may only call public host names"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:  # pragma: no cover - caught by the numeric-label rule above
        return f"the host {host!r} is an IP address: webhooks may only call public host names"
    if host == "localhost" or labels[-1] in ("localhost", "internal", "local", "localdomain"):
        return f"the host {host!r} is internal: webhooks may only call public host names"
    if addresses.spells_address(host):
        return (f"the host {host!r} spells out an IP address (a wildcard DNS name): webhooks may only call "
                "public host names")
    if len(labels) < 2:
        return f"the host {host!r} is not a public domain name (it has no dot)"
    return None


class _Checker:
    """Walks a definition once, collecting problems and a cleaned copy of the step tree.

    The cleaned tree keeps only well-formed steps (with placeholders for bad ids and
    durations) so the Step Functions limits can be measured even while other problems exist.
    """

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.step_ids: dict[str, str] = {}  # step id -> path of the step that has it
        self.placeholders = 0
        self.depth = 0

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def unknown_keys(self, value: dict[str, Any], allowed: Any, path: str, what: str) -> None:
        for key in value:
            if key not in allowed:
                expected = ", ".join(sorted(allowed)) if allowed else "no other field"
                self.add(join(path, str(key)), f"unknown field {str(key)!r} in {what}; expected {expected}")

    # -- scenario --------------------------------------------------------------------------

    def scenario(self, definition: Any) -> None:
        if not isinstance(definition, dict):
            self.add("", "a scenario must be a JSON object with id, name, trigger and steps")
            return
        self.unknown_keys(definition, SCENARIO_KEYS, "", "a scenario")
        for key in ("id", "name", "trigger", "steps"):
            if key not in definition:
                self.add(key, f"{key} is required")
        if "id" in definition:
            scenario_id = definition["id"]
            if not isinstance(scenario_id, str) or not _SCENARIO_ID.fullmatch(scenario_id):
                self.add("id", "id must be 1 to 64 lowercase letters, digits and hyphens, "
                         f"starting with a letter or digit (got {_describe(scenario_id)})")
        if "name" in definition:
            name = definition["name"]
            if not isinstance(name, str) or not name.strip():
                self.add("name", "name must be a non-empty string")
        if "description" in definition and not isinstance(definition["description"], str):
            self.add("description", "description must be a string")
        if "trigger" in definition:
            self.trigger(definition["trigger"], "trigger")
        if "entry" in definition:
            self.entry(definition["entry"], "entry")
        if "goals" in definition:
            self.goals(definition["goals"], "goals")
        if "exit_when" in definition:
            self.problems.extend(validate_criteria(definition["exit_when"], "exit_when", scope="contact"))
        if "settings" in definition:
            self.settings(definition["settings"], "settings")
        steps: list[dict[str, Any]] = []
        if "steps" in definition:
            steps = self.steps(definition["steps"], "steps", what="a scenario", required=True)
        self.limits(definition, steps)

    def trigger(self, trigger: Any, path: str) -> None:
        shapes = '{"event": TYPE, "where": criteria} or {"date": {"field": "birthday", "annual": true, "at": "09:00"}}'
        if not isinstance(trigger, dict):
            self.add(path, f"trigger must be an object: {shapes}")
            return
        has_event, has_date = "event" in trigger, "date" in trigger
        if has_event and has_date:
            self.add(path, "a trigger has either an event or a date, not both")
        elif not has_event and not has_date:
            self.add(path, f"a trigger needs an event or a date: {shapes}")
        if has_event:
            self.unknown_keys(trigger, ("event", "where", "date") if has_date else ("event", "where"),
                              path, "an event trigger")
            self.event_type(trigger["event"], join(path, "event"))
            if "where" in trigger:
                self.problems.extend(validate_criteria(trigger["where"], join(path, "where"), scope="properties"))
        elif has_date:
            self.unknown_keys(trigger, ("date",), path, "a date trigger")
            self.date_trigger(trigger["date"], join(path, "date"))

    def date_trigger(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.add(path, "a date trigger must be an object such as "
                     '{"field": "birthday", "annual": true, "at": "09:00"}')
            return
        self.unknown_keys(value, ("field", "annual", "at"), path, "a date trigger")
        if "field" not in value:
            self.add(join(path, "field"), "field is required: the contact's date that triggers the scenario")
        elif value["field"] not in TRIGGER_DATE_FIELDS:
            before = len(self.problems)
            self.date_field(value["field"], join(path, "field"))
            if len(self.problems) == before:
                self.add(join(path, "field"), f"{_describe(value['field'])} cannot trigger a scenario: date "
                         f"triggers run on {', '.join(TRIGGER_DATE_FIELDS)}, the date indexed by day (any other "
                         "would mean reading every contact each day); trigger on an event and wait with "
                         f'{{"until": {{"date_field": {json.dumps(value["field"])}}}}} instead')
        if "annual" in value and not isinstance(value["annual"], bool):
            self.add(join(path, "annual"), "annual must be true or false")
        if "at" in value:
            self.time_of_day(value["at"], join(path, "at"))

    def date_field(self, value: Any, path: str) -> None:
        # A bare name that is not a built-in is a custom attribute (DESIGN.md: "trial_ends_at").
        if isinstance(value, str) and (value in DATE_FIELDS or _ATTRIBUTE.fullmatch(value)
                                       or (_BARE_NAME.fullmatch(value) and value not in BUILTIN_NAMES)):
            return
        hint = ""
        if isinstance(value, str) and _BARE_NAME.fullmatch(value) and value not in BUILTIN_NAMES:
            hint = f" (a custom field is written attributes.{value})"
        self.add(path, f"{_describe(value)} is not a date field; expected one of "
                 f"{', '.join(DATE_FIELDS)} or attributes.NAME{hint}")

    def entry(self, entry: Any, path: str) -> None:
        if not isinstance(entry, dict):
            self.add(path, 'entry must be an object such as {"reentry": "never", "max_contacts": 1000}')
            return
        self.unknown_keys(entry, ("reentry", "max_contacts"), path, "entry")
        if "reentry" in entry:
            reentry, where = entry["reentry"], join(path, "reentry")
            if isinstance(reentry, dict):
                self.unknown_keys(reentry, ("after",), where, "reentry")
                if "after" not in reentry:
                    self.add(join(where, "after"), 'after is required, e.g. {"after": "P7D"}')
                else:
                    self.duration(reentry["after"], join(where, "after"), limit=False)
            elif reentry not in ("never", "always"):
                self.add(where, f'reentry must be "never", "always" or {{"after": DURATION}}, not {_describe(reentry)}')
        if "max_contacts" in entry:
            value = entry["max_contacts"]
            if not _is_int(value) or value < 1:
                self.add(join(path, "max_contacts"), f"max_contacts must be a positive integer, not {_describe(value)}")

    def goals(self, goals: Any, path: str) -> None:
        if not isinstance(goals, list):
            self.add(path, 'goals must be a list such as [{"event": "purchase"}]')
            return
        for index, goal in enumerate(goals):
            where = join(path, index)
            if not isinstance(goal, dict):
                self.add(where, 'a goal must be an object such as {"event": "purchase"}')
                continue
            self.unknown_keys(goal, ("event", "where"), where, "a goal")
            if "event" not in goal:
                self.add(join(where, "event"), "event is required: the event type that converts")
            else:
                self.event_type(goal["event"], join(where, "event"))
            if "where" in goal:
                self.problems.extend(validate_criteria(goal["where"], join(where, "where"), scope="properties"))

    def settings(self, settings: Any, path: str) -> None:
        if not isinstance(settings, dict):
            self.add(path, "settings must be an object with quiet_hours and/or timezone")
            return
        self.unknown_keys(settings, ("quiet_hours", "timezone"), path, "settings")
        if "quiet_hours" in settings:
            quiet, where = settings["quiet_hours"], join(path, "quiet_hours")
            if not isinstance(quiet, dict):
                self.add(where, 'quiet_hours must be an object such as {"from": "21:00", "to": "08:00"}')
            else:
                self.unknown_keys(quiet, ("from", "to"), where, "quiet_hours")
                for key in ("from", "to"):
                    if key not in quiet:
                        self.add(join(where, key), f"{key} is required (HH:MM)")
                    else:
                        self.time_of_day(quiet[key], join(where, key))
                if quiet.get("from") == quiet.get("to") and "from" in quiet:
                    self.add(where, "quiet hours must start and end at different times")
        if "timezone" in settings:
            self.timezone(settings["timezone"], join(path, "timezone"))

    # -- small values ----------------------------------------------------------------------

    def event_type(self, value: Any, path: str) -> None:
        if not is_event_type(value):
            self.add(path, "an event type must be a name such as purchase or email.clicked "
                     f"({EVENT_TYPE_RULE}), not {_describe(value)}")

    def reference(self, value: Any, path: str, what: str) -> None:
        if not isinstance(value, str) or not _REFERENCE.fullmatch(value):
            self.add(path, f"{what} must be an id (letters, digits, _ . : -, at most 128), not {_describe(value)}")

    def text(self, value: Any, path: str, what: str) -> None:
        if not isinstance(value, str) or not value.strip():
            self.add(path, f"{what} must be a non-empty string")

    def template_source(self, value: Any, path: str, what: str) -> None:
        """Inline content goes through the sandbox checks of /templates, at save as there."""
        if not isinstance(value, str) or not value.strip():
            self.add(path, f"{what} must be a non-empty string")
            return
        try:
            templates.check(value)
        except templates.TemplateError as error:
            self.add(path, str(error))

    def time_of_day(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or not _TIME.fullmatch(value):
            self.add(path, f"a time of day is written HH:MM on 24 hours, such as 09:00, not {_describe(value)}")

    def timezone(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or value not in _timezones():
            self.add(path, f"{_describe(value)} is not an IANA time zone such as Europe/Paris")

    def duration(self, value: Any, path: str, *, limit: bool = True, signed: bool = False) -> float | None:
        """Seconds of a duration, or None after reporting why it is not acceptable."""
        if not isinstance(value, str):
            self.add(path, f"must be {_DURATION_HINT}, not {_describe(value)}")
            return None
        try:
            seconds = durations.seconds(value)
        except (durations.DurationError, OverflowError, ValueError, TypeError):
            self.add(path, f"{_describe(value)} is not {_DURATION_HINT}")
            return None
        if not math.isfinite(seconds):  # pragma: no cover - isodate gives finite values
            self.add(path, f"{_describe(value)} is not {_DURATION_HINT}")
            return None
        if not signed and seconds <= 0:
            self.add(path, f"the duration must be positive, not {value}")
            return None
        if limit and abs(seconds) > durations.ONE_YEAR_SECONDS:
            self.add(path, f"{value} is longer than one year, the longest a Step Functions execution "
                     "may wait (at most P1Y or P365D)")
            return None
        return seconds

    # -- steps -----------------------------------------------------------------------------

    def steps(self, value: Any, path: str, *, what: str, required: bool) -> list[dict[str, Any]]:
        """Check a list of steps; answer the cleaned steps (see the class docstring)."""
        if not isinstance(value, list):
            self.add(path, f"{what} needs a list of steps")
            return []
        if required and not value:
            self.add(path, f"{what} needs at least one step")
        if self.depth >= MAX_NESTING:
            self.add(path, f"steps are nested more than {MAX_NESTING} levels deep")
            return []
        self.depth += 1
        try:
            return self.step_list(value, path)
        finally:
            self.depth -= 1

    def step_list(self, value: list[Any], path: str) -> list[dict[str, Any]]:
        cleaned: list[dict[str, Any]] = []
        ended = False
        for index, step in enumerate(value):
            where = join(path, index)
            clean = self.step(step, where)
            if clean is not None and not ended:
                cleaned.append(clean)
            kind = step.get("type") if isinstance(step, dict) else None
            if isinstance(kind, str) and kind in TERMINAL_TYPES and index < len(value) - 1 and not ended:
                after = len(value) - 1 - index
                self.add(where, f"steps after an exit: {_plural(after, 'step')} after this "
                         f"{kind} step would never run; it must be the last step of its list")
                ended = True
        return cleaned

    def step(self, step: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(step, dict):
            self.add(path, 'a step must be an object such as {"id": "welcome", "type": "email", "template": "welcome"}')
            return None
        step_id = self.step_id(step, path)
        kind = step.get("type")
        if "type" not in step:
            self.add(join(path, "type"), f"type is required: one of {', '.join(STEP_TYPES)}")
            return None
        if not isinstance(kind, str) or kind not in STEP_FIELDS:
            self.add(join(path, "type"),
                     f"unknown step type {_describe(kind)}; expected one of {', '.join(STEP_TYPES)}")
            return None
        self.unknown_keys(step, STEP_FIELDS[kind] | {"id", "type"}, path, f"{_article(kind)} {kind} step")
        clean: dict[str, Any] = {"id": step_id, "type": kind}
        getattr(self, f"step_{kind}")(step, path, clean)
        return clean

    def step_id(self, step: dict[str, Any], path: str) -> str:
        """The step's id, or a placeholder (that no real id can equal) when it is unusable."""
        where = join(path, "id")
        value = step.get("id")
        if "id" not in step:
            self.add(where, "id is required: every step has an id unique in the scenario")
        elif not isinstance(value, str) or not _STEP_ID.fullmatch(value):
            self.add(where, "a step id must be 1 to 64 letters, digits, _ and -, starting with a "
                     f"letter or digit (got {_describe(value)})")
        elif value in self.step_ids:
            self.add(where, f"duplicate step id {value!r}: already used at {self.step_ids[value]}")
        else:
            self.step_ids[value] = path
            return value
        self.placeholders += 1
        return f"#{self.placeholders}"

    def require(self, step: dict[str, Any], key: str, path: str, what: str) -> bool:
        if key in step:
            return True
        self.add(join(path, key), f"{key} is required in {what}")
        return False

    def transactional(self, step: dict[str, Any], path: str) -> None:
        if "transactional" in step and not isinstance(step["transactional"], bool):
            self.add(join(path, "transactional"), "transactional must be true or false")

    def step_email(self, step: dict[str, Any], path: str, clean: dict[str, Any]) -> None:
        inline = [key for key in ("subject", "html", "text") if key in step]
        if "template" in step:
            self.reference(step["template"], join(path, "template"), "template")
            if inline:
                self.add(path, f"an email uses either a template or inline subject/html/text, not both "
                         f"(found template and {', '.join(inline)})")
        elif inline:
            if "subject" not in step:
                self.add(join(path, "subject"), "subject is required in an inline email")
            if "html" not in step and "text" not in step:
                self.add(path, "an inline email needs html or text (or both)")
            for key in inline:
                self.template_source(step[key], join(path, key), key)
        else:
            self.add(path, "an email needs a template, or a subject with html and/or text")
        self.transactional(step, path)

    def step_sms(self, step: dict[str, Any], path: str, clean: dict[str, Any]) -> None:
        if "template" in step and "text" in step:
            self.add(path, "an sms uses either a template or a text, not both")
        elif "template" in step:
            self.reference(step["template"], join(path, "template"), "template")
        elif "text" in step:
            self.template_source(step["text"], join(path, "text"), "text")
        else:
            self.add(path, "an sms needs a template or a text")
        self.transactional(step, path)

    def step_wait(self, step: dict[str, Any], path: str, clean: dict[str, Any]) -> None:
        if "duration" in step and "until" in step:
            self.add(path, "a wait has either a duration or an until, not both")
        if "duration" in step:
            seconds = self.duration(step["duration"], join(path, "duration"))
            clean["duration"] = step["duration"] if seconds is not None else "PT1S"
        elif "until" in step:
            clean["until"] = self.until(step["until"], join(path, "until"))
        else:
            self.add(path, 'a wait needs a duration ("P3D") or an until ({"time": "09:00"})')
            clean["duration"] = "PT1S"

    def until(self, until: Any, path: str) -> dict[str, Any]:
        shapes = '{"time": "09:00"} or {"date_field": "attributes.trial_ends_at", "offset": "-P2D"}'
        if not isinstance(until, dict):
            self.add(path, f"until must be an object: {shapes}")
            return {"time": "00:00"}
        self.unknown_keys(until, ("time", "date_field", "offset"), path, "until")
        if "time" in until and "date_field" in until:
            self.add(path, "until has either a time or a date_field, not both")
        if "time" in until:
            self.time_of_day(until["time"], join(path, "time"))
            if "offset" in until and "date_field" not in until:
                self.add(join(path, "offset"), "offset goes with date_field, not with time")
            return {"time": until["time"]}
        if "date_field" in until:
            self.date_field(until["date_field"], join(path, "date_field"))
            if "offset" in until:
                self.duration(until["offset"], join(path, "offset"), signed=True)
            return {"date_field": until["date_field"]}
        self.add(path, f"until needs a time or a date_field: {shapes}")
        return {"time": "00:00"}

    def step_wait_for(self, step: dict[str, Any], path: str, clean: dict[str, Any]) -> None:
        if self.require(step, "event", path, "a wait_for step"):
            self.event_type(step["event"], join(path, "event"))
        if "where" in step:
            self.problems.extend(validate_criteria(step["where"], join(path, "where"), scope="properties"))
        clean["timeout"] = "PT1S"
        if self.require(step, "timeout", path, "a wait_for step"):
            if self.duration(step["timeout"], join(path, "timeout")) is not None:
                clean["timeout"] = step["timeout"]
        for key in ("then", "else"):
            if key in step:
                clean[key] = self.steps(step[key], join(path, key), what=f"{key} of a wait_for", required=False)

    def step_if(self, step: dict[str, Any], path: str, clean: dict[str, Any]) -> None:
        if self.require(step, "condition", path, "an if step"):
            self.problems.extend(validate_criteria(step["condition"], join(path, "condition"), scope="contact"))
        clean["then"] = []
        if self.require(step, "then", path, "an if step"):
            clean["then"] = self.steps(step["then"], join(path, "then"), what="then of an if", required=True)
        if "else" in step:
            clean["else"] = self.steps(step["else"], join(path, "else"), what="else of an if", required=False)

    def step_split(self, step: dict[str, Any], path: str, clean: dict[str, Any]) -> None:
        clean["branches"] = []
        if not self.require(step, "branches", path, "a split step"):
            return
        branches, where = step["branches"], join(path, "branches")
        if not isinstance(branches, list) or len(branches) < 2:
            self.add(where, 'branches must be a list of at least 2 {"weight": 50, "steps": [...]}')
            if not isinstance(branches, list):
                return
        weights: list[int] = []
        for index, branch in enumerate(branches):
            at = join(where, index)
            if not isinstance(branch, dict):
                self.add(at, 'a branch must be an object such as {"weight": 50, "steps": [...]}')
                continue
            self.unknown_keys(branch, ("weight", "steps"), at, "a split branch")
            weight = branch.get("weight")
            if "weight" not in branch:
                self.add(join(at, "weight"), "weight is required: a whole percentage from 1 to 99")
            elif not _is_int(weight) or not 1 <= weight <= 99:
                self.add(join(at, "weight"), f"weight must be a whole percentage from 1 to 99, not {_describe(weight)}")
            else:
                weights.append(weight)
            steps: list[dict[str, Any]] = []
            if self.require(branch, "steps", at, "a split branch"):
                steps = self.steps(branch["steps"], join(at, "steps"), what="a split branch", required=True)
            clean["branches"].append({"weight": weight if _is_int(weight) else 0, "steps": steps})
        if len(weights) == len(branches) and len(branches) >= 2 and sum(weights) != 100:
            self.add(where, f"split weights must add up to 100, they add up to {sum(weights)}")

    def step_add_to_list(self, step: dict[str, Any], path: str, clean: dict[str, Any]) -> None:
        if self.require(step, "list", path, f"{_article(step['type'])} {step['type']} step"):
            self.reference(step["list"], join(path, "list"), "list")

    step_remove_from_list = step_add_to_list

    def step_score(self, step: dict[str, Any], path: str, clean: dict[str, Any]) -> None:
        if self.require(step, "points", path, "a score step"):
            points = step["points"]
            if not _is_int(points) or points == 0:
                self.add(join(path, "points"), f"points must be a non-zero whole number, not {_describe(points)}")

    def step_update_contact(self, step: dict[str, Any], path: str, clean: dict[str, Any]) -> None:
        if not self.require(step, "set", path, "an update_contact step"):
            return
        fields, where = step["set"], join(path, "set")
        if not isinstance(fields, dict) or not fields:
            self.add(where, 'set must be a non-empty object of fields and values, such as {"attributes.plan": "pro"}')
            return
        for field, value in fields.items():
            self.set_field(field, value, join(where, field))

    def set_field(self, field: Any, value: Any, path: str) -> None:
        if not isinstance(field, str):
            self.add(path, "field names are strings")
            return
        if _ATTRIBUTE.fullmatch(field):
            scalars = (str, int, float, bool, type(None))
            ok = isinstance(value, scalars) or (
                isinstance(value, list) and all(isinstance(item, scalars) for item in value))
            if isinstance(value, float) and not math.isfinite(value):
                ok = False
            if not ok:
                self.add(path, "an attribute is set to a string, number, boolean, null or a list of those")
            return
        if field not in SETTABLE_FIELDS:
            self.add(path, f"{field!r} cannot be set by a scenario; expected one of "
                     f"{', '.join(SETTABLE_FIELDS)} or attributes.NAME")
            return
        if value is None:
            return
        if field == "timezone":
            self.timezone(value, path)
        elif field == "birthday":
            if not _is_iso_date(value):
                self.add(path, f"birthday must be a date written YYYY-MM-DD or null, not {_describe(value)}")
        else:
            self.text(value, path, field)

    def step_webhook(self, step: dict[str, Any], path: str, clean: dict[str, Any]) -> None:
        if self.require(step, "url", path, "a webhook step"):
            problem = webhook_url_problem(step["url"])
            if problem:
                self.add(join(path, "url"), problem)
        if "body" in step and not isinstance(step["body"], dict):
            self.add(join(path, "body"), "body must be a JSON object")

    def step_delete_contact(self, step: dict[str, Any], path: str, clean: dict[str, Any]) -> None:
        pass

    step_exit = step_delete_contact

    # -- limits ----------------------------------------------------------------------------

    def limits(self, definition: dict[str, Any], steps: list[dict[str, Any]]) -> None:
        try:
            size = len(json.dumps(definition, ensure_ascii=False, allow_nan=False).encode())
        except (TypeError, ValueError):
            self.add("", "the scenario must be plain JSON (objects, lists, strings, numbers, booleans, null)")
            return
        if size > MAX_DEFINITION_BYTES:
            self.add("", f"the scenario is {size:,} bytes of JSON; "
                     f"at most {MAX_DEFINITION_BYTES:,} (1 MB) are accepted")
        if not steps:
            return
        name = definition.get("name") if isinstance(definition.get("name"), str) else ""
        asl = compiler.compile_scenario({"name": name, "steps": steps},
                                        step_runner_arn=compiler.PLACEHOLDER_ARN).asl
        states = len(asl["States"])
        if states > MAX_STATES:
            self.add("steps", f"would exceed Step Functions limits: the scenario compiles to {states:,} "
                     f"states, at most {MAX_STATES} are allowed")
        events = compiler.history_events(asl)
        if events >= MAX_HISTORY_EVENTS:
            self.add("steps", f"would exceed Step Functions limits: the longest path may record {events:,} "
                     f"history events (with retries), an execution must stay under {MAX_HISTORY_EVENTS:,}")
        asl_size = len(json.dumps(asl).encode())
        if asl_size > MAX_DEFINITION_BYTES:  # pragma: no cover - 200 states are far smaller
            self.add("steps", f"would exceed Step Functions limits: the state machine definition is "
                     f"{asl_size:,} bytes, at most {MAX_DEFINITION_BYTES:,}")
        waited = _longest_wait(steps)
        if waited > MAX_EXECUTION_SECONDS:
            self.add("steps", f"would exceed Step Functions limits: the longest path waits "
                     f"{waited / 86400:,.1f} days in all, and an execution lives at most "
                     f"{MAX_EXECUTION_SECONDS // 86400} days")


def _longest_wait(steps: list[dict[str, Any]]) -> float:
    """Seconds waited along the longest path of cleaned steps (waits until a date count 0)."""
    total = 0.0
    for step in steps:
        kind = step["type"]
        if kind == "wait":
            if "duration" in step:
                total += durations.seconds(step["duration"])
            elif "time" in step["until"]:
                total += 86400
        elif kind == "wait_for":
            total += durations.seconds(step["timeout"])
            total += max(_longest_wait(step.get("then", [])), _longest_wait(step.get("else", [])))
        elif kind == "if":
            total += max(_longest_wait(step["then"]), _longest_wait(step.get("else", [])))
        elif kind == "split":
            total += max((_longest_wait(branch["steps"]) for branch in step["branches"]), default=0.0)
    return total
