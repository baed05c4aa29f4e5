"""The one source of 'now' for the domain, so tests can move time forward.

On AWS the domain clock is the wall clock. On the local stack it runs `scale` times faster
than the wall clock from the moment the stack started (`run_scaled`), so every duration the
domain measures against `now()` (waits, timeouts, criteria windows, re-entry, half-life, date
fields, caps) shrinks by the same factor, and the only conversion left is where something
really sleeps (`wall_seconds`): the local Step Functions and the local schedules.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

_offset = timedelta(0)
_scale = 1.0
_epoch: datetime | None = None  # the wall-clock moment the scaled clock started from


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    return _domain_at(datetime.now(timezone.utc))


def _domain_at(wall: datetime) -> datetime:
    if _epoch is not None:
        wall = _epoch + (wall - _epoch) * _scale
    return wall + _offset


def advance(delta: timedelta) -> None:
    """Move the domain clock forward (tests and the local stack only)."""
    global _offset
    _offset += delta


def run_scaled(scale: float) -> None:
    """From now on, the domain clock runs `scale` times faster than the wall clock (local stack only)."""
    global _scale, _epoch, _offset
    if not (isinstance(scale, (int, float)) and 0 < scale < float("inf")):
        raise ValueError(f"the clock scale must be a positive number, not {scale!r}")
    wall = datetime.now(timezone.utc)
    _offset = _domain_at(wall) - wall  # the domain clock goes on from where it is, at the new pace
    _scale, _epoch = float(scale), wall


def scale() -> float:
    """How many domain seconds pass per wall-clock second (1 on AWS)."""
    return _scale


def wall_seconds(domain_seconds: float) -> float:
    """How long to sleep for `domain_seconds` of the domain to pass."""
    return domain_seconds / _scale


def reset() -> None:
    """Back to the wall clock, unscaled."""
    global _offset, _scale, _epoch
    _offset, _scale, _epoch = timedelta(0), 1.0, None


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the millisecond: sortable as a string."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z"  # less "+00:00"


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 date or date-time; naive values are taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value
