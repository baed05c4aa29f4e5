"""ISO 8601 durations (`PT1H`, `P3D`, `P6M`, `-P30D`) as scenarios and criteria use them."""
from __future__ import annotations

from datetime import datetime, timedelta

import isodate

ONE_YEAR_SECONDS = 365 * 86400


class DurationError(ValueError):
    pass


def parse(text: str) -> isodate.Duration | timedelta:
    """Parse an ISO 8601 duration; a leading '-' makes it negative. Raises DurationError."""
    if not isinstance(text, str) or not text.lstrip("-").startswith("P"):
        raise DurationError(f"{text!r} is not an ISO 8601 duration such as PT1H, P3D or P6M")
    try:
        return isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError) as error:
        raise DurationError(f"{text!r} is not an ISO 8601 duration such as PT1H, P3D or P6M") from error
    except OverflowError:  # "P99999999999D": more days than a timedelta holds
        raise DurationError(f"{text!r} is too long a duration") from None


def _moved(moment: datetime, text: str) -> datetime:
    duration = parse(text)
    try:
        return moment + duration
    except (OverflowError, ValueError):  # before the year 1 or past 9999 ("-P3000Y")
        raise DurationError(f"{text!r} is too long a duration") from None


def shift(moment: datetime, text: str) -> datetime:
    """`moment` moved by the duration (calendar-aware for months and years)."""
    return _moved(moment, text)


def seconds(text: str, *, at: datetime | None = None) -> float:
    """Length of a duration in seconds; months and years are measured from `at` (default: a fixed reference)."""
    reference = at or datetime(2026, 1, 1)
    return (_moved(reference, text) - reference).total_seconds()
