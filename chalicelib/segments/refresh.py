"""Time-relative segments: re-evaluate each contact exactly when time alone can change it.

Each evaluation of a contact against a time-relative segment stores the next instant its
membership can change by the passage of time (segments.timing) as a check item, keyed by
contact and segment (one per pair: a newer evaluation moves it). The `segment_refresh`
schedule reads the checks that fell due, by day and shard through the `by-due` index, and
re-evaluates just those contacts, which stores their next check or drops it. The cost
follows the number of memberships that can change, never the size of the base.
"""
from __future__ import annotations

import time
import zlib
from datetime import date, datetime, timedelta, timezone

from pynamodb.exceptions import DoesNotExist

from chalicelib import clock
from chalicelib.logs import logger
from chalicelib.store.audience import AudienceSetting, Segment, SegmentCheck

SHARDS = 8
STATE = "segment-refresh"


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


def start_from_today() -> None:
    """Called when a segment is created: no check can be due before today."""
    try:
        AudienceSetting.get(STATE)
    except DoesNotExist:
        AudienceSetting(STATE, state={"drained_until": clock.now().date().isoformat()},
                        updated_at=clock.iso(clock.now())).save(condition=AudienceSetting.name.does_not_exist())


def run_due(*, budget_seconds: float = 240.0, now: datetime | None = None) -> dict:
    """Re-evaluate every contact whose check is due; returns what was done."""
    from chalicelib.segments import engine

    moment = now or clock.now()
    deadline = time.monotonic() + budget_seconds
    try:
        state = AudienceSetting.get(STATE, consistent_read=True)
    except DoesNotExist:
        return {"checked": 0, "changed": 0}
    day = date.fromisoformat((state.state or {}).get("drained_until") or moment.date().isoformat())
    today = moment.date()
    definitions: dict[str, engine.Definition | None] = {}
    checked = changed = 0
    while day <= today:
        for shard in range(SHARDS):
            bucket = f"{day.isoformat()}#{shard}"
            for check in SegmentCheck.by_due.query(bucket, SegmentCheck.due_at <= clock.iso(moment)):
                if time.monotonic() > deadline:
                    logger.info("segment refresh out of time", extra={"checked": checked})
                    return {"checked": checked, "changed": changed, "complete": False}
                definition = _definition(check.segment_id, definitions)
                if definition is None:
                    SegmentCheck(check.contact_id, check.segment_id).delete(
                        condition=SegmentCheck.due_at == check.due_at)
                    continue
                checked += 1
                cause = f"check:{check.contact_id}:{check.segment_id}:{check.due_at}"
                found = engine.evaluate(check.contact_id, only={definition.id: definition}, cause=cause,
                                        source="time", now=moment)
                changed += len(found)
                if not found:
                    _drop_if_unmoved(check)
        if day < today:
            state.update(actions=[AudienceSetting.state.set({"drained_until": (day + timedelta(days=1)).isoformat()}),
                                  AudienceSetting.updated_at.set(clock.iso(clock.now()))])
        day += timedelta(days=1)
    return {"checked": checked, "changed": changed, "complete": True}


def _drop_if_unmoved(check: SegmentCheck) -> None:
    """A check of a contact that no longer exists was not moved by its evaluation: drop it."""
    try:
        current = SegmentCheck.get(check.contact_id, check.segment_id, consistent_read=True)
    except DoesNotExist:
        return
    if current.due_at == check.due_at:
        current.delete(condition=SegmentCheck.due_at == check.due_at)


def _definition(segment_id: str, cache: dict):
    from chalicelib.segments import engine

    if segment_id not in cache:
        try:
            segment = Segment.get(segment_id)
        except DoesNotExist:
            segment = None
        if segment is None or segment.status == "deleting":
            cache[segment_id] = None
        else:
            from chalicelib.criteria import dependencies

            cache[segment_id] = engine.Definition(segment.id, segment.criteria,
                                                  dependencies(segment.criteria).time_relative,
                                                  int(segment.generation or 1))
    return cache[segment_id]
