"""When can time alone next change whether a contact matches some criteria? Plain Python.

Only two kinds of conditions move with the clock:
- an event condition with `within`: its count drops when a matching event leaves the window,
  first of all the oldest one in it (a count only ever drops with time);
- a field compared with before/after against a duration ("-P30D"): the reference moment
  now + duration slides past the field's moment once.

`next_change` returns the earliest such instant after `now` (a little after it, so a check
run then sees the change), or None when nothing can change by time alone. Between two such
instants the outcome is constant, so re-evaluating a contact only at those instants keeps a
time-relative segment exact without ever scanning the base.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from chalicelib import durations
from chalicelib.criteria import Subject, dependencies, matches_properties
from chalicelib.criteria.fields import DATES
from chalicelib.criteria.values import is_duration_text, to_moment

_MARGIN = timedelta(seconds=1)
_DAY = timedelta(days=1)
# An event `where` comparing a property with a relative date: re-checked daily.
_COARSE = timedelta(days=1)


def next_change(criteria: Mapping[str, Any], subject: Subject, now: datetime) -> datetime | None:
    found: list[datetime] = []
    _walk(criteria, subject, now, found)
    later = [moment for moment in found if moment > now]
    return min(later) if later else None


def _walk(node: Any, subject: Subject, now: datetime, found: list[datetime]) -> None:
    if not isinstance(node, Mapping) or not node:
        return
    for kind in ("all", "any"):
        if isinstance(node.get(kind), list):
            for child in node[kind]:
                _walk(child, subject, now, found)
            return
    if "not" in node:
        _walk(node["not"], subject, now, found)
        return
    if "field" in node:
        value = node.get("value")
        if node.get("op") in DATES and is_duration_text(value):
            moment = to_moment(subject.field(node["field"]))
            if moment is not None:
                crossing = _crossing(moment, value.strip(), now)
                if crossing is not None:
                    found.append(crossing)
        return
    if "event" in node and node.get("within"):
        _event(node, subject, now, found)


def _event(node: Mapping[str, Any], subject: Subject, now: datetime, found: list[datetime]) -> None:
    within = node["within"].strip()
    since = durations.shift(now, "-" + within)
    where = node.get("where")
    if where and dependencies(where).time_relative:
        found.append(now + _COARSE)
    oldest: datetime | None = None
    for event in subject.events(node["event"], since):
        moment = to_moment(event.get("timestamp"))
        if moment is None or moment < since:
            continue
        if where and not matches_properties(where, event.get("properties") or {}, now=now):
            continue
        if oldest is None or moment < oldest:
            oldest = moment
    if oldest is not None:
        found.append(leaves_window(oldest, within))


def leaves_window(moment: datetime, within: str) -> datetime:
    """The first instant (to the second) at which an event at `moment` is no longer `within`
    of now. Calendar durations (P6M from August 31) are inverted by checking, not guessed."""
    candidate = durations.shift(moment, within) + _MARGIN
    for _ in range(5):
        if durations.shift(candidate, "-" + within) > moment:
            return candidate
        candidate += _DAY
    return candidate


def _crossing(moment: datetime, offset: str, now: datetime) -> datetime | None:
    """When now + offset next passes `moment` (None if it has already)."""
    if durations.shift(now, offset) > moment:
        return None
    inverse = offset[1:] if offset.startswith("-") else "-" + offset
    candidate = durations.shift(moment, inverse) + _MARGIN
    for _ in range(5):
        if durations.shift(candidate, offset) > moment:
            return candidate
        candidate += _DAY
    return candidate
