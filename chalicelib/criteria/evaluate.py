"""Evaluating criteria against a Subject.

Evaluation trusts its input to have passed `validate()`: a malformed node raises ValueError
instead of quietly matching or not, because a silent wrong answer sends (or withholds)
messages. An empty criteria object matches everything (an absent filter filters nothing).
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from chalicelib import clock, durations
from chalicelib.criteria.operators import apply
from chalicelib.criteria.subjects import PropertiesSubject, Subject
from chalicelib.criteria.values import to_moment

DEFAULT_COUNT: Mapping[str, int] = {"gte": 1}


def matches(criteria: Mapping[str, Any], subject: Subject, *, now: datetime | None = None) -> bool:
    """Whether `subject` satisfies `criteria`. `now` (default clock.now()) anchors relative
    dates ("-P30D") and event windows (`within`), so one evaluation sees one instant."""
    moment = clock.now() if now is None else now
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return _match(criteria, subject, moment)


def matches_properties(where: Mapping[str, Any] | None, properties: Mapping[str, Any], *,
                       now: datetime | None = None) -> bool:
    """Whether an event's properties satisfy a properties-scope filter (trigger filter, goal,
    wait_for `where`). No filter (None or {}) matches every event."""
    if not where:
        return True
    return matches(where, PropertiesSubject(properties or {}), now=now)


def _match(node: Any, subject: Subject, now: datetime) -> bool:
    if not isinstance(node, Mapping):
        raise ValueError(f"criteria must be an object, not {type(node).__name__}")
    if not node:
        return True
    if "all" in node:
        return all(_match(child, subject, now) for child in node["all"])
    if "any" in node:
        return any(_match(child, subject, now) for child in node["any"])
    if "not" in node:
        return not _match(node["not"], subject, now)
    if "field" in node:
        name = node["field"]
        return apply(node.get("op", ""), name, subject.field(name), node.get("value"), now)
    if "event" in node:
        return _event(node, subject, now)
    if "in_list" in node:
        return subject.in_list(node["in_list"])
    if "in_segment" in node:
        return subject.in_segment(node["in_segment"])
    raise ValueError(f"not a criteria node: keys {sorted(node)}")


def _event(node: Mapping[str, Any], subject: Subject, now: datetime) -> bool:
    """Count the subject's events of the type since now - within whose properties match
    `where`, and compare the count with `count` (default at least one)."""
    event_type = node["event"]
    within = node.get("within")
    # Negating the text keeps calendar arithmetic: "P6M" back from Aug 31 is Feb 28/29.
    since = durations.shift(now, "-" + within.strip()) if within else None
    where = node.get("where")
    count = _Count(node.get("count") or DEFAULT_COUNT)
    seen = 0
    for event in subject.events(event_type, since):
        if event.get("type", event_type) != event_type:
            continue
        if since is not None:
            moment = to_moment(event.get("timestamp"))
            if moment is not None and moment < since:
                continue
        if where and not _match(where, PropertiesSubject(event.get("properties") or {}), now):
            continue
        seen += 1
        if count.settled(seen):
            break
    return count.holds(seen)


class _Count:
    """A `count` object: all its bounds must hold. Knows when counting further cannot change
    the answer, so "did X at least once" stops at the first matching event."""

    __slots__ = ("gte", "gt", "lte", "lt", "eq")

    def __init__(self, bounds: Mapping[str, int]) -> None:
        self.gte = bounds.get("gte")
        self.gt = bounds.get("gt")
        self.lte = bounds.get("lte")
        self.lt = bounds.get("lt")
        self.eq = bounds.get("eq")

    def holds(self, n: int) -> bool:
        return ((self.gte is None or n >= self.gte) and (self.gt is None or n > self.gt)
                and (self.lte is None or n <= self.lte) and (self.lt is None or n < self.lt)
                and (self.eq is None or n == self.eq))

    def settled(self, n: int) -> bool:
        capped = self.lte is not None or self.lt is not None or self.eq is not None
        if capped:  # once an upper bound is exceeded, more events cannot help
            return ((self.lte is not None and n > self.lte) or (self.lt is not None and n >= self.lt)
                    or (self.eq is not None and n > self.eq))
        return self.holds(n)  # only lower bounds: once met, they stay met
