"""Segment membership of one contact, kept current incrementally.

`evaluate(contact_id, keys, cause=...)` re-evaluates only the segments indexed under `keys`
("event:TYPE", "field:PATH", "list:ID", NEW_CONTACT): one Query per key finds them with their
criteria. The contact is read once; its events are read on demand, once per (type, window),
whatever number of segments ask. A change of membership is one transaction with its
segment.entered / segment.left event (deterministic id from the cause), and cascades to the
segments that test membership of the changed one (`in_segment`). For a time-relative segment
the next instant time alone can change the answer is scheduled (segments.checks).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib import clock, criteria, durations
from chalicelib.audience import members
from chalicelib.contacts import service as contacts
from chalicelib.segments import checks, timing
from chalicelib.store.audience import SegmentDep
from chalicelib.store.models import Contact, Event

MAX_CASCADE = 8
# Segments a contact can be in with no event, list or segment (criteria.requirements). The key
# keeps the name it had when every segment was indexed under it: segments saved before this
# rule are still found on contact.created (evaluated for nothing, never missed) until saved again.
NEW_CONTACT = "any"


@dataclass(frozen=True)
class Definition:
    id: str
    criteria: dict
    time_relative: bool
    generation: int = 1


def definitions_for(keys: Iterable[str]) -> dict[str, Definition]:
    """The segments indexed under any of `keys`: one Query per key."""
    found: dict[str, Definition] = {}
    for key in dict.fromkeys(keys):
        for dep in SegmentDep.query(key):
            found.setdefault(dep.segment_id, Definition(dep.segment_id, dep.criteria, bool(dep.time_relative),
                                                        int(dep.generation or 1)))
    return found


class Loaded:
    """A contact as criteria see it: fields, lists, current segments, events read on demand."""

    def __init__(self, contact: Contact, *, consistent: bool = True) -> None:
        self.contact = contact
        self.segments: set[str] = set(contact.segments or ())
        self._consistent = consistent
        self._events: dict[str, tuple[datetime | None, list[dict]]] = {}  # type -> (read since, events)
        self._widest: dict[str, datetime | None] = {}
        self.dues: dict[str, str] | None = None  # its segment checks, read when first needed
        self.subject = criteria.ContactSubject(contacts.to_api(contact), events=self.events,
                                               lists=set(contact.lists or ()), segments=self.segments)

    def plan(self, trees: Iterable[Mapping], now: datetime) -> None:
        """Read each event type once, over the widest window any of these criteria needs."""
        for tree in trees:
            for event_type, since in _windows(tree, now):
                if event_type not in self._widest:
                    self._widest[event_type] = since
                elif (widest := self._widest[event_type]) is not None:
                    self._widest[event_type] = None if since is None else min(widest, since)

    def events(self, event_type: str, since: datetime | None) -> list[dict]:
        cached = self._events.get(event_type)
        if cached is None or (cached[0] is not None and (since is None or since < cached[0])):
            read_since = since
            if event_type in self._widest:
                widest = self._widest[event_type]
                read_since = None if widest is None or since is None else min(widest, since)
            condition = Event.at >= clock.iso(read_since) if read_since else None
            cached = (read_since, [
                {"type": item.type, "timestamp": clock.parse_iso(item.at.split("#", 1)[0]),
                 "properties": contacts.plain(item.properties.as_dict() if hasattr(item.properties, "as_dict")
                                              else dict(item.properties or {}))}
                for item in Event.query(self.contact.id, range_key_condition=condition,
                                        filter_condition=Event.type == event_type,
                                        consistent_read=self._consistent)])
            self._events[event_type] = cached
        if since is None or cached[0] == since:
            return cached[1]
        return [event for event in cached[1] if event["timestamp"] >= since]

    def refresh(self, score: Any, stage: str) -> None:
        """The score and stage scoring just wrote (no need to read the contact again)."""
        self.contact.score, self.contact.stage = score, stage
        self.subject = criteria.ContactSubject(contacts.to_api(self.contact), events=self.events,
                                               lists=set(self.contact.lists or ()), segments=self.segments)


def _windows(node: Any, now: datetime) -> Iterator[tuple[str, datetime | None]]:
    if not isinstance(node, Mapping):
        return
    for kind in ("all", "any"):
        if isinstance(node.get(kind), list):
            for child in node[kind]:
                yield from _windows(child, now)
    if "not" in node:
        yield from _windows(node["not"], now)
    if isinstance(node.get("event"), str):
        within = node.get("within")
        yield node["event"], durations.shift(now, "-" + within.strip()) if isinstance(within, str) else None


def evaluate(contact_id: str, keys: Iterable[str] = (), *, cause: str, source: str,
             only: Mapping[str, Definition] | None = None, contact: Contact | None = None,
             now: datetime | None = None) -> list[tuple[str, bool]]:
    """Re-evaluate the contact against the segments under `keys` (or exactly `only`);
    the memberships that changed, as (segment id, entered). `contact`: as just read (consistent)."""
    definitions = dict(only) if only is not None else definitions_for(keys)
    if not definitions:
        return []
    if contact is None:
        contact = contacts.get(contact_id)
        if contact is None:
            return []
    return evaluate_loaded(Loaded(contact), definitions, cause=cause, source=source, now=now)


def evaluate_loaded(loaded: Loaded, definitions: Mapping[str, Definition], *, cause: str, source: str,
                    now: datetime | None = None) -> list[tuple[str, bool]]:
    moment = now or clock.now()
    contact_id = loaded.contact.id
    changes: list[tuple[str, bool]] = []
    pending = dict(definitions)
    for _ in range(MAX_CASCADE):
        loaded.plan((definition.criteria for definition in pending.values()), moment)
        changed: list[str] = []
        for definition in _ordered(pending):
            inside = criteria.matches(definition.criteria, loaded.subject, now=moment)
            if definition.time_relative:
                if loaded.dues is None:
                    loaded.dues = checks.dues_of(contact_id)
                checks.schedule(contact_id, definition.id,
                                 timing.next_change(definition.criteria, loaded.subject, moment), loaded.dues)
            if inside == (definition.id in loaded.segments):
                continue
            kind = "segment.entered" if inside else "segment.left"
            outcome = members.change("segment", definition.id, contact_id, joining=inside, source=source,
                                     event=(kind, {"segment": definition.id}, f"{cause}/{kind}/{definition.id}"))
            if inside:
                loaded.segments.add(definition.id)
            else:
                loaded.segments.discard(definition.id)
            if outcome.changed:
                changes.append((definition.id, inside))
                changed.append(definition.id)
        if not changed:
            break
        pending = definitions_for(f"segment:{segment_id}" for segment_id in changed)
    return changes


def _ordered(definitions: Mapping[str, Definition]) -> list[Definition]:
    """Segments tested by others (in_segment) first, so one pass sees their new membership."""
    remaining = dict(definitions)
    ordered: list[Definition] = []
    while remaining:
        ready = [d for d in remaining.values()
                 if not (criteria.dependencies(d.criteria).segments & remaining.keys() - {d.id})]
        if not ready:  # a cycle (refused on save): any order
            ready = list(remaining.values())
        for definition in sorted(ready, key=lambda d: d.id):
            ordered.append(definition)
            remaining.pop(definition.id)
    return ordered


def matches(criteria_: dict, contact: Contact, *, consistent: bool = False, now: datetime | None = None) -> bool:
    """Whether a contact matches criteria now (previews)."""
    return criteria.matches(criteria_, Loaded(contact, consistent=consistent).subject, now=now)


def keys_for(event_type: str, properties: Mapping[str, Any], changed_fields: Iterable[str]) -> list[str]:
    """The dependency keys an event touches: its type, the fields it changed, the list it
    joined or left; a new contact may enter the segments its fields alone can meet (one that
    needs an event, a list or a segment is evaluated when that event, join or entry comes)."""
    keys = [f"event:{event_type}"]
    keys += [f"field:{name}" for name in changed_fields]
    if event_type in ("list.joined", "list.left") and isinstance(properties.get("list"), str):
        keys.append(f"list:{properties['list']}")
    if event_type == "contact.created":
        keys.append(NEW_CONTACT)
    return keys
