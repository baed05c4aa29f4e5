"""Evaluating criteria against a Subject.

Criteria are compiled once into a predicate, a tree of closures, and the predicate is run per
subject: `compile_criteria(tree)(subject, now)` is `matches(tree, subject, now=now)`, and a
caller that evaluates many contacts (a segment build, a preview) compiles once. Compiling
decides per node what does not depend on the subject (which operator, the folded value, the
parsed date, the event window); what depends on `now` (a relative date, `within`) is computed
once per instant, not once per contact.

Evaluation trusts its input to have passed `validate()`: a malformed node raises ValueError
instead of quietly matching or not, because a silent wrong answer sends (or withholds)
messages. It raises when that node is evaluated, as a reading of the tree would, so a branch
never reached raises nothing. An empty criteria object matches everything (an absent filter
filters nothing).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from chalicelib import clock, durations
from chalicelib.criteria.fields import CASE_INSENSITIVE, NEGATIONS
from chalicelib.criteria.operators import POSITIVE
from chalicelib.criteria.subjects import PropertiesSubject, Subject
from chalicelib.criteria.values import fold, is_duration_text, order, reference_moment, to_moment

DEFAULT_COUNT: Mapping[str, int] = {"gte": 1}

Predicate = Callable[[Subject, datetime], bool]


def matches(criteria: Mapping[str, Any], subject: Subject, *, now: datetime | None = None) -> bool:
    """Whether `subject` satisfies `criteria`. `now` (default clock.now()) anchors relative
    dates ("-P30D") and event windows (`within`), so one evaluation sees one instant."""
    return compile_criteria(criteria)(subject, anchor(now))


def matches_properties(where: Mapping[str, Any] | None, properties: Mapping[str, Any], *,
                       now: datetime | None = None) -> bool:
    """Whether an event's properties satisfy a properties-scope filter (trigger filter, goal,
    wait_for `where`). No filter (None or {}) matches every event."""
    if not where:
        return True
    return matches(where, PropertiesSubject(properties or {}), now=now)


def anchor(now: datetime | None) -> datetime:
    """The instant an evaluation sees: `now`, or the clock's; naive means UTC."""
    moment = clock.now() if now is None else now
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def compile_criteria(criteria: Any) -> Predicate:
    """The predicate `(subject, now) -> bool` of a criteria tree; `now` must be aware
    (`anchor()` makes it so)."""
    if not isinstance(criteria, Mapping):
        return _raising(f"criteria must be an object, not {type(criteria).__name__}")
    if not criteria:
        return _always
    if "all" in criteria:
        return _all(tuple(compile_criteria(child) for child in criteria["all"]))
    if "any" in criteria:
        return _any(tuple(compile_criteria(child) for child in criteria["any"]))
    if "not" in criteria:
        inner = compile_criteria(criteria["not"])
        return lambda subject, now: not inner(subject, now)
    if "field" in criteria:
        return _field(criteria["field"], criteria.get("op", ""), criteria.get("value"))
    if "event" in criteria:
        return _event(criteria)
    if "in_list" in criteria:
        list_id = criteria["in_list"]
        return lambda subject, now: subject.in_list(list_id)
    if "in_segment" in criteria:
        segment_id = criteria["in_segment"]
        return lambda subject, now: subject.in_segment(segment_id)
    return _raising(f"not a criteria node: keys {sorted(criteria)}")


def _always(subject: Subject, now: datetime) -> bool:
    return True


def _raising(message: str) -> Predicate:
    def fail(subject: Subject, now: datetime) -> bool:
        raise ValueError(message)
    return fail


def _all(children: tuple[Predicate, ...]) -> Predicate:
    def every(subject: Subject, now: datetime) -> bool:
        for child in children:
            if not child(subject, now):
                return False
        return True
    return every


def _any(children: tuple[Predicate, ...]) -> Predicate:
    def some(subject: Subject, now: datetime) -> bool:
        for child in children:
            if child(subject, now):
                return True
        return False
    return some


class _PerInstant:
    """A value computed from `now` (a relative date, an event window), kept for that instant:
    evaluating a whole base at one instant computes it once."""

    __slots__ = ("_compute", "_last")

    def __init__(self, compute: Callable[[datetime], Any]) -> None:
        self._compute = compute
        self._last: tuple[datetime | None, Any] = (None, None)

    def __call__(self, now: datetime) -> Any:
        last = self._last  # one attribute: a thread never sees an instant with another's value
        if last[0] is not now:
            value = self._compute(now)
            self._last = (now, value)
            return value
        return last[1]


def _field(name: str, op: str, expected: Any) -> Predicate:
    """One field condition. The comparison is operators.POSITIVE's, with the expected value
    folded (and a fixed date parsed) once; a few common shapes of the actual value (a string
    against a string, an int against an int, a string among strings) take a shorter road to
    the same answer."""
    positive = NEGATIONS.get(op, op)
    negated = op in NEGATIONS
    if positive != "exists" and positive not in POSITIVE:
        return _raising(f"unknown operator {op!r}")
    if positive == "exists":
        return lambda subject, now: (subject.field(name) is not None) is not negated
    insensitive = name in CASE_INSENSITIVE
    folded = fold(expected, insensitive)
    test = _test(positive, folded)

    if insensitive:
        def check(subject: Subject, now: datetime) -> bool:
            actual = subject.field(name)
            if actual is None:
                return negated
            return test(fold(actual, True), now) is not negated
    else:
        def check(subject: Subject, now: datetime) -> bool:
            actual = subject.field(name)
            if actual is None:
                return negated
            return test(actual, now) is not negated
    return check


def _test(positive: str, expected: Any) -> Callable[[Any, datetime], bool]:
    """`positive` against the (folded) expected value, as a function of the actual value."""
    general = POSITIVE[positive]
    if positive in ("before", "after"):
        return _moment_test(positive == "before", expected)
    if positive == "eq" and type(expected) is bool:  # a bool equals only the same bool
        return lambda actual, now: actual is expected
    if positive == "eq" and type(expected) is str:
        return lambda actual, now: actual == expected if type(actual) is str else general(actual, expected, now)
    if positive == "eq" and type(expected) is int:
        return lambda actual, now: actual == expected if type(actual) is int else general(actual, expected, now)
    if positive in ("gt", "gte", "lt", "lte") and type(expected) is int:
        wanted = {"gt": (1,), "gte": (0, 1), "lt": (-1,), "lte": (-1, 0)}[positive]

        def ordered(actual: Any, now: datetime) -> bool:
            if type(actual) is int:
                return ((actual > expected) - (actual < expected)) in wanted
            result = order(actual, expected)
            return result is not None and result in wanted
        return ordered
    if positive == "in" and isinstance(expected, (list, tuple)) and expected and all(
            type(choice) is str for choice in expected):
        choices = frozenset(expected)
        return lambda actual, now: actual in choices if type(actual) is str else general(actual, expected, now)
    return lambda actual, now: general(actual, expected, now)


def _moment_test(before: bool, expected: Any) -> Callable[[Any, datetime], bool]:
    """before/after: the reference is parsed once, or (a duration) computed once per instant."""
    reference: Callable[[datetime], datetime | None]
    if is_duration_text(expected):
        reference = _PerInstant(lambda now: reference_moment(expected, now))
    else:
        fixed = to_moment(expected)
        reference = lambda now: fixed  # noqa: E731 - the same signature as the per-instant one

    def compare(actual: Any, now: datetime) -> bool:
        field, point = to_moment(actual), reference(now)
        if field is None or point is None:
            return False
        return field < point if before else field > point
    return compare


def _event(node: Mapping[str, Any]) -> Predicate:
    """Count the subject's events of the type since now - within whose properties match
    `where`, and compare the count with `count` (default at least one)."""
    event_type = node["event"]
    within = node.get("within")
    # Negating the text keeps calendar arithmetic: "P6M" back from Aug 31 is Feb 28/29.
    window = _PerInstant(lambda now: durations.shift(now, "-" + within.strip())) if within else None
    where = node.get("where")
    matches_where = compile_criteria(where) if where else None
    count = _Count(node.get("count") or DEFAULT_COUNT)
    holds, settled = count.holds, count.settled
    at_least_one = count.at_least_one

    def check(subject: Subject, now: datetime) -> bool:
        since = window(now) if window is not None else None
        seen = 0
        for event in subject.events(event_type, since):
            if event.get("type", event_type) != event_type:
                continue
            if since is not None:
                moment = to_moment(event.get("timestamp"))
                if moment is not None and moment < since:
                    continue
            if matches_where is not None and not matches_where(
                    PropertiesSubject(event.get("properties") or {}), now):
                continue
            if at_least_one:
                return True
            seen += 1
            if settled(seen):
                break
        return holds(seen)
    return check


class _Count:
    """A `count` object: all its bounds must hold. Knows when counting further cannot change
    the answer, so "did X at least once" stops at the first matching event."""

    __slots__ = ("gte", "gt", "lte", "lt", "eq", "at_least_one")

    def __init__(self, bounds: Mapping[str, int]) -> None:
        self.gte = bounds.get("gte")
        self.gt = bounds.get("gt")
        self.lte = bounds.get("lte")
        self.lt = bounds.get("lt")
        self.eq = bounds.get("eq")
        # The default and the commonest bound: the first matching event settles it.
        self.at_least_one = (self.holds(1) and not self.holds(0) and self.lte is None and self.lt is None
                             and self.eq is None)

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
