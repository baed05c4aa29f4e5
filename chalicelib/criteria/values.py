"""How values of different JSON/DynamoDB types compare: the explicit coercion rules.

Rules (also in the package docstring):
- Numbers are int, float and decimal.Decimal (DynamoDB returns Decimal), never bool. They
  are compared as Decimal; a float goes through its shortest repr, so 59.9 == Decimal("59.9").
- A string is read as a number only when the other side is a real number and the string is a
  plain decimal literal ("42", "-3.5", "1e3"); two strings are never compared as numbers.
- A bool equals only the same bool (True != 1).
- A string is a moment when it starts with an ISO calendar date (YYYY-MM-DD...); a date alone
  means midnight UTC and naive date-times are UTC (clock.parse_iso).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, TypeGuard

from chalicelib import clock, durations

_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_DATE_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


def is_number(value: Any) -> bool:
    """A real number: int, float or Decimal, excluding bool (a JSON true is not 1)."""
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def to_decimal(value: Any) -> Decimal | None:
    """The number as a Decimal, or None when it is not one (numeric strings included only here)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return Decimal(value.strip())
    return None


def numbers(left: Any, right: Any) -> tuple[Decimal, Decimal] | None:
    """Both sides as Decimals when at least one is a real number and the other one reads as
    a number; None otherwise (so "10" vs "9" are not numbers, but 10 vs "9" are)."""
    if not (is_number(left) or is_number(right)):
        return None
    a, b = to_decimal(left), to_decimal(right)
    if a is None or b is None or a.is_nan() or b.is_nan():
        return None
    return a, b


@lru_cache(maxsize=4096)
def _parse_moment(text: str) -> datetime | None:
    if not _DATE_START.match(text):
        return None
    try:
        return clock.parse_iso(text)
    except ValueError:
        return None


def to_moment(value: Any) -> datetime | None:
    """The value as an aware datetime (UTC when naive), or None when it is not a date/time."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=timezone.utc)
    if isinstance(value, str):
        return _parse_moment(value.strip())
    return None


def is_duration_text(value: Any) -> TypeGuard[str]:
    """Whether a criteria value is written as a (possibly negative) ISO duration."""
    return isinstance(value, str) and value.strip().lstrip("-").startswith("P")


def reference_moment(value: Any, now: datetime) -> datetime | None:
    """A before/after operand: an ISO date(-time), or a duration relative to `now`
    ("-P30D" is 30 days ago, "P1D" tomorrow; months are calendar months)."""
    if is_duration_text(value):
        try:
            return durations.shift(now, value.strip())
        except durations.DurationError:
            return None
    return to_moment(value)


def fold(value: Any, insensitive: bool) -> Any:
    """Lowercase strings (recursively in lists) when the field compares case-insensitively."""
    if not insensitive:
        return value
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, (list, tuple)):
        return [fold(item, True) for item in value]
    return value


def equal(left: Any, right: Any) -> bool:
    """Equality with the module's rules: numbers across types, strict bools, deep lists/objects."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    pair = numbers(left, right)
    if pair is not None:
        return pair[0] == pair[1]
    if is_number(left) or is_number(right):
        return False
    if isinstance(left, (datetime, date)) or isinstance(right, (datetime, date)):
        a, b = to_moment(left), to_moment(right)
        return a is not None and b is not None and a == b
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(equal(left[k], right[k]) for k in left)
    return bool(left == right)


def order(left: Any, right: Any) -> int | None:
    """-1, 0 or 1 comparing two numbers or two moments; None when they are not comparable
    (which makes gt/gte/lt/lte False rather than guessing at string order)."""
    pair = numbers(left, right)
    if pair is not None:
        try:
            return (pair[0] > pair[1]) - (pair[0] < pair[1])
        except InvalidOperation:
            return None
    if is_number(left) or is_number(right) or isinstance(left, bool) or isinstance(right, bool):
        return None
    a, b = to_moment(left), to_moment(right)
    if a is None or b is None:
        return None
    return (a > b) - (a < b)

