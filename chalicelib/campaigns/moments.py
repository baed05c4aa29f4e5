"""When each recipient of a campaign is sent: plain Python.

Without `local_time`, at once. With it, at the first moment at or after the campaign's start
when the contact's own clock (its time zone, else the installation's default) shows that time:
a campaign started at 2026-12-01T00:00Z with local_time 09:00 reaches Tokyo at 00:00Z (its 09:00
of the 1st), Paris at 08:00Z, New York at 14:00Z. Every recipient is thus sent within 24 hours
of the start. Quiet hours (the campaign's
settings, the scenarios' meaning) then hold a send to the end of the window.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.scenarios.semantics import parse_hhmm, quiet_release


def local_moment(start: datetime, local_time: str, zone: ZoneInfo) -> datetime:
    """The first moment at or after `start` when the clock of `zone` shows `local_time`."""
    local = start.astimezone(zone)
    wanted = parse_hhmm(local_time)
    for days in (0, 1):
        # a time a DST change skips (02:30 the spring night) is read with the offset before the
        # change: the moment the clocks show 03:30
        candidate = datetime.combine(local.date() + timedelta(days=days), wanted, tzinfo=zone)
        if candidate >= start:
            return candidate.astimezone(timezone.utc)
    return start


def send_moment(definition: dict[str, Any], schedule: dict[str, Any], start: datetime, zone: ZoneInfo,
                now: datetime) -> datetime | None:
    """When this recipient's message may go: None for now, else the moment to wait for."""
    moment = local_moment(start, schedule["local_time"], zone) if schedule.get("local_time") else now
    if moment <= now:
        moment = now
    release = quiet_release(definition, zone, moment)
    if release is not None and release > moment:
        moment = release
    return moment if moment > now else None
