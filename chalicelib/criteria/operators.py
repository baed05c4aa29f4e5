"""Field operators: one function per positive operator; negations are `not positive`.

Defining ne, not_in, not_contains, ... as the negation of their positive is what gives the
documented behaviour on a missing field: every positive operator is False on a missing
(None) value, so every negative one is True.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.criteria.fields import CASE_INSENSITIVE, NEGATIONS
from chalicelib.criteria.values import equal, fold, order, reference_moment, to_moment


def _eq(actual: Any, expected: Any, now: datetime) -> bool:
    return equal(actual, expected)


def _ordered(test: Callable[[int], bool]) -> Callable[[Any, Any, datetime], bool]:
    def compare(actual: Any, expected: Any, now: datetime) -> bool:
        result = order(actual, expected)
        return result is not None and test(result)
    return compare


def _in(actual: Any, expected: Any, now: datetime) -> bool:
    """Field value in the list; a list-valued field matches when any of its items is."""
    if not isinstance(expected, (list, tuple)):
        return False
    candidates = actual if isinstance(actual, (list, tuple)) else [actual]
    return any(equal(item, choice) for item in candidates for choice in expected)


def _contains(actual: Any, expected: Any, now: datetime) -> bool:
    """Substring of a string field, or member of a list field."""
    if isinstance(actual, str):
        return isinstance(expected, str) and expected in actual
    if isinstance(actual, (list, tuple)):
        return any(equal(item, expected) for item in actual)
    return False


def _starts_with(actual: Any, expected: Any, now: datetime) -> bool:
    return isinstance(actual, str) and isinstance(expected, str) and actual.startswith(expected)


def _ends_with(actual: Any, expected: Any, now: datetime) -> bool:
    return isinstance(actual, str) and isinstance(expected, str) and actual.endswith(expected)


def _moments(actual: Any, expected: Any, now: datetime) -> tuple[datetime, datetime] | None:
    field, reference = to_moment(actual), reference_moment(expected, now)
    if field is None or reference is None:
        return None
    return field, reference


def _before(actual: Any, expected: Any, now: datetime) -> bool:
    pair = _moments(actual, expected, now)
    return pair is not None and pair[0] < pair[1]


def _after(actual: Any, expected: Any, now: datetime) -> bool:
    pair = _moments(actual, expected, now)
    return pair is not None and pair[0] > pair[1]


POSITIVE: dict[str, Callable[[Any, Any, datetime], bool]] = {
    "eq": _eq,
    "gt": _ordered(lambda r: r > 0),
    "gte": _ordered(lambda r: r >= 0),
    "lt": _ordered(lambda r: r < 0),
    "lte": _ordered(lambda r: r <= 0),
    "in": _in,
    "contains": _contains,
    "starts_with": _starts_with,
    "ends_with": _ends_with,
    "before": _before,
    "after": _after,
}


def apply(op: str, field: str, actual: Any, expected: Any, now: datetime) -> bool:
    """Whether `actual` (the subject's value of `field`, None when missing) satisfies `op expected`.

    Raises ValueError on an unknown operator: stored criteria are validated, so this is a bug
    or corrupted data, and silently matching (or not) would send messages to the wrong people.
    """
    positive = NEGATIONS.get(op, op)
    test = POSITIVE.get(positive)
    if test is None and positive != "exists":
        raise ValueError(f"unknown operator {op!r}")
    if test is None:
        result = actual is not None
    elif actual is None:
        result = False
    else:
        insensitive = field in CASE_INSENSITIVE
        result = test(fold(actual, insensitive), fold(expected, insensitive), now)
    return not result if op in NEGATIONS else result
