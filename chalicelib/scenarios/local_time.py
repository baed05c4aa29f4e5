"""Moments in a contact's time zone: 09:00 tomorrow in Paris, two days before a trial ends."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib import clock, durations
from chalicelib.config import settings


def zone_of(contact_timezone: str | None, body: dict) -> ZoneInfo:
    """The contact's zone, else the scenario's, else the installation's default."""
    for name in (contact_timezone, (body.get("settings") or {}).get("timezone"), settings().default_timezone):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def parse_hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def next_time_of_day(now: datetime, hhmm: str, zone: ZoneInfo) -> datetime:
    """The next occurrence of this local time of day (today if still ahead, else tomorrow)."""
    local_now = now.astimezone(zone)
    candidate = datetime.combine(local_now.date(), parse_hhmm(hhmm), tzinfo=zone)
    if candidate <= local_now:
        candidate = datetime.combine(local_now.date() + timedelta(days=1), parse_hhmm(hhmm), tzinfo=zone)
    return candidate


def date_field_moment(value: str | None, offset: str | None, zone: ZoneInfo) -> datetime | None:
    """A contact's date field, at midnight local time when it has no time, moved by the offset."""
    if not value:
        return None
    try:
        moment = clock.parse_iso(value) if "T" in value else datetime.combine(
            date.fromisoformat(value), time(0), tzinfo=zone)
    except ValueError:
        return None
    return durations.shift(moment, offset) if offset else moment


def next_anniversary(birthday: str, hhmm: str, zone: ZoneInfo, now: datetime) -> datetime | None:
    """The next local moment `hhmm` on the day-month of `birthday` (YYYY-MM-DD or --MM-DD), from now on."""
    month, day = int(birthday[-5:-3]), int(birthday[-2:])
    local_now = now.astimezone(zone)
    for year in (local_now.year, local_now.year + 1):
        try:
            candidate = datetime.combine(date(year, month, day), parse_hhmm(hhmm), tzinfo=zone)
        except ValueError:  # 29 February in a common year: celebrate on the 28th
            candidate = datetime.combine(date(year, 2, 28), parse_hhmm(hhmm), tzinfo=zone)
        if candidate > now - timedelta(hours=1):
            return candidate
    return None


def end_of_quiet_hours(now: datetime, start: str, end: str, zone: ZoneInfo) -> datetime | None:
    """When the quiet window holding `now` ends (local `end`), or None when `now` is outside it.

    A window such as 21:00-08:00 spans midnight."""
    local_now = now.astimezone(zone)
    begin, finish, moment = parse_hhmm(start), parse_hhmm(end), local_now.time()
    spans_midnight = begin > finish
    inside = (moment >= begin or moment < finish) if spans_midnight else (begin <= moment < finish)
    if not inside:
        return None
    day = local_now.date()
    if spans_midnight and moment >= begin:
        day += timedelta(days=1)
    return datetime.combine(day, finish, tzinfo=zone)
