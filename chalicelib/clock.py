"""The one source of 'now' for the domain, so tests can move time forward."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

_offset = timedelta(0)


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(timezone.utc) + _offset


def advance(delta: timedelta) -> None:
    """Move the domain clock forward (tests and the local stack only)."""
    global _offset
    _offset += delta


def reset() -> None:
    global _offset
    _offset = timedelta(0)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the millisecond: sortable as a string."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 date or date-time; naive values are taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value
