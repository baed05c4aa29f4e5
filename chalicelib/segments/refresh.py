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
from datetime import date, datetime, timedelta

from pynamodb.exceptions import DoesNotExist

from chalicelib import clock
from chalicelib.criteria import dependencies
from chalicelib.logs import logger
from chalicelib.segments import checks, engine
from chalicelib.store.audience import AudienceSetting, Segment, SegmentCheck

STATE = "segment-refresh"


def start_from_today() -> None:
    """Called when a segment is created: no check can be due before today."""
    try:
        AudienceSetting.get(STATE)
    except DoesNotExist:
        AudienceSetting(STATE, state={"drained_until": clock.now().date().isoformat()},
                        updated_at=clock.iso(clock.now())).save(condition=AudienceSetting.name.does_not_exist())


def run_due(*, budget_seconds: float = 240.0, now: datetime | None = None) -> dict:
    """Re-evaluate every contact whose check is due; returns what was done."""
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
        for shard in range(checks.SHARDS):
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
    if segment_id not in cache:
        try:
            segment = Segment.get(segment_id)
        except DoesNotExist:
            segment = None
        if segment is None or segment.status == "deleting":
            cache[segment_id] = None
        else:
            cache[segment_id] = engine.Definition(segment.id, segment.criteria,
                                                  dependencies(segment.criteria).time_relative,
                                                  int(segment.generation or 1))
    return cache[segment_id]
