"""The routing record: what reads each event type, read once per PARCOURS_ROUTING_CACHE_SECONDS
per function and kept current where readers change, so that an event nothing reads costs no
look-up at all (issue 14).

One item ("routing") of the audience-settings table holds the facts of events.readers:
scenarios (every version ever published), segments and webhooks only ever add to it (an
atomic ADD to a string set: concurrent writers never lose each other's facts; a reader that
goes away leaves facts that only cost look-ups), the scoring settings replace theirs.

Staleness: a function trusts its copy for the cache time. A change that adds a reader
(publishing a scenario, saving a segment, a webhook, scoring settings) writes the record
first, forgets this process's copy, and then, on AWS, waits the cache time before it takes
effect (before the scenario goes live, the segment is indexed and built, the settings are
stored), so every copy taken before the write has expired by then: no event handled after
the change is judged by a copy that misses its reader; readers listed longer than the cache
time already need no write and no wait. A wait_for or a goal exists only in an execution,
which starts after its scenario went live. On the local stack every function runs
in one process, whose copy the write forgets: no wait. Until the record was built once from
what exists (`complete`), nothing is skipped.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import timedelta

from pynamodb.exceptions import DoesNotExist

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.events import readers
from chalicelib.scoring.rules import with_defaults
from chalicelib.store.audience import AudienceSetting, SegmentDep
from chalicelib.store.models import Scenario
from chalicelib.store.webhooks import WebhookSubscription

NAME = "routing"
SCORING = "scoring"  # the scoring settings' item (scoring.service)


class Cache:
    """One function's copy of the record (a Lambda container's, or the local stack's)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._copy: tuple[float, frozenset[str]] | None = None

    def facts(self) -> frozenset[str]:
        with self._lock:
            copy = self._copy
        if copy is not None and time.monotonic() - copy[0] < settings().routing_cache_seconds:
            return copy[1]
        loaded = (time.monotonic(), _read())
        with self._lock:
            self._copy = loaded
        return loaded[1]

    def forget(self) -> None:
        with self._lock:
            self._copy = None


_cache = Cache()


def facts() -> frozenset[str]:
    return _cache.facts()


def forget() -> None:
    """Drop this process's copy (the local stack boots with new tables)."""
    _cache.forget()


def queued(event_type: str) -> bool:
    """Whether automation has anything to do with a stored event of this type."""
    return readers.queued(facts(), event_type)


def reads(reader: str, subject: str) -> bool:
    return readers.reads(facts(), reader, subject)


def _read() -> frozenset[str]:
    try:
        item = AudienceSetting.get(NAME, consistent_read=True)
    except DoesNotExist:
        return frozenset()
    scoring = set(item.scoring_reads) if item.scoring_reads else readers.scoring_facts(None)
    return frozenset(set(item.reads or ()) | scoring)


def extend(new_facts: Iterable[str]) -> None:
    """Add readers, before they take effect (see the module's docstring). Readers listed for
    longer than the cache time already (a scenario published again, a segment on types other
    segments read) are known to every copy: nothing to write, nothing to wait for."""
    item = _complete_item()
    added = set(new_facts) | {readers.COMPLETE}
    if added <= set(item.reads or ()) and _known_everywhere(item):
        return
    item.update(actions=[AudienceSetting.reads.add(added), AudienceSetting.updated_at.set(clock.iso(clock.now()))])
    _settled()


def set_scoring(new_facts: set[str]) -> None:
    """What new scoring settings read, before they are stored. A copy that still lists what
    they no longer read only makes a look-up that finds nothing: only additions wait."""
    item = _complete_item()
    if new_facts <= set(item.scoring_reads or ()) and _known_everywhere(item):
        item.update(actions=[AudienceSetting.scoring_reads.set(new_facts)])
        _cache.forget()
        return
    item.update(actions=[AudienceSetting.scoring_reads.set(new_facts),
                        AudienceSetting.updated_at.set(clock.iso(clock.now()))])
    _settled()


def _complete_item() -> AudienceSetting:
    try:
        item = AudienceSetting.get(NAME, consistent_read=True)
    except DoesNotExist:
        item = None
    if item is None or readers.COMPLETE not in set(item.reads or ()):
        build()
        item = AudienceSetting.get(NAME, consistent_read=True)
    return item


def _known_everywhere(item: AudienceSetting) -> bool:
    """Whether the record's last addition is older than any copy a function may still hold."""
    if not item.updated_at:
        return False
    return clock.now() - clock.parse_iso(item.updated_at) >= timedelta(seconds=settings().routing_cache_seconds)


def build() -> None:
    """Gather every reader that exists (scenario versions, segment index, webhooks, scoring):
    once, on the first change after install or upgrade. Small tables, read whole."""
    found: set[str] = {readers.COMPLETE}
    for version in Scenario.scan(Scenario.version > Scenario.HEAD):
        if version.definition:
            found |= readers.scenario_facts(version.definition)
    for dep in SegmentDep.scan():
        found |= readers.segment_facts(dep.criteria or {}, [dep.dep])
    for subscription in WebhookSubscription.scan():
        found |= readers.webhook_facts(subscription.events or [])
    try:
        scoring = AudienceSetting.get(SCORING, consistent_read=True).value
    except DoesNotExist:
        scoring = None
    AudienceSetting(NAME).update(actions=[AudienceSetting.reads.add(found), AudienceSetting.scoring_reads.set(
        readers.scoring_facts(with_defaults(scoring) if scoring else None)),
        AudienceSetting.updated_at.set(clock.iso(clock.now()))])
    _cache.forget()  # a copy without `complete` skipped nothing: no copy can miss what this adds


def _settled() -> None:
    _cache.forget()
    if not settings().local:
        time.sleep(settings().routing_cache_seconds)
