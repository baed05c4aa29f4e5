"""The segment checks of time-relative segments: when time alone can next change a membership.

Each evaluation of a contact against a time-relative segment stores the next instant its
membership can change by the passage of time (segments.timing) as a check item, keyed by
contact and segment (one per pair: a newer evaluation moves it), and bucketed by day and
shard for the `by-due` index that segments.refresh reads.
"""
from __future__ import annotations

import zlib
from datetime import date, datetime, timezone

from chalicelib import clock
from chalicelib.store.audience import SegmentCheck

SHARDS = 8


def _bucket(contact_id: str, day: date) -> str:
    return f"{day.isoformat()}#{zlib.crc32(contact_id.encode()) % SHARDS}"


def schedule(contact_id: str, segment_id: str, when: datetime | None, known: dict[str, str] | None = None) -> None:
    """Store (or drop, when None) the contact's next check for the segment. `known`: the
    contact's current checks (segment id -> due), to write only what moved."""
    if when is None:
        if known is None or segment_id in known:
            SegmentCheck(contact_id, segment_id).delete()
            if known is not None:
                known.pop(segment_id, None)
        return
    due = clock.iso(when)
    if known is not None and known.get(segment_id) == due:
        return
    day = when.astimezone(timezone.utc).date()
    SegmentCheck(contact_id, segment_id, due_at=due, bucket=_bucket(contact_id, day)).save()
    if known is not None:
        known[segment_id] = due


def dues_of(contact_id: str) -> dict[str, str]:
    """The contact's checks: segment id -> due instant (one Query)."""
    return {check.segment_id: check.due_at for check in SegmentCheck.query(contact_id, consistent_read=True)}


def drop_contact(contact_id: str) -> None:
    with SegmentCheck.batch_write() as batch:
        for check in SegmentCheck.query(contact_id):
            batch.delete(check)


def checks_of(contact_id: str) -> list[SegmentCheck]:
    return list(SegmentCheck.query(contact_id))
