"""Ingestion: validate, deduplicate on the event id, upsert the contact, store, hand to automation."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.contacts import service as contacts
from chalicelib.events.validate import ValidEvent, validate_event
from chalicelib.problems import Problem, join
from chalicelib.store import queue
from chalicelib.store.audience import event_items
from chalicelib.store.models import Event, EventId
from chalicelib.store.transactions import Transaction
from chalicelib.vocabulary import is_system_type


@dataclass
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


def ingest(raw_events: list[Any], *, allow_system: bool, paths: list[str] | None = None) -> IngestReport:
    """Store each valid event once; report the others by index with every problem."""
    tolerance = timedelta(seconds=settings().future_tolerance_seconds)
    outcomes: dict[int, tuple[str, Any]] = {}
    by_contact: dict[str, list[tuple[int, str, ValidEvent]]] = {}
    for index, raw in enumerate(raw_events):
        path = paths[index] if paths else f"events[{index}]"
        event, problems = validate_event(raw, path, allow_system=allow_system, future_tolerance=tolerance)
        if event is None:
            outcomes[index] = ("rejected", problems)
        else:
            who = json.dumps(event.identity, sort_keys=True)
            by_contact.setdefault(who, []).append((index, path, event))

    def store_all(group: list[tuple[int, str, ValidEvent]]) -> None:
        for index, path, event in group:
            outcomes[index] = _store_one(event, path)

    # Contacts are stored concurrently (each event costs a few DynamoDB round trips); a
    # contact's own events stay in order, on one worker.
    groups = list(by_contact.values())
    workers = min(settings().ingest_workers, len(groups))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(store_all, groups))
    else:
        for group in groups:
            store_all(group)
    report = IngestReport()
    stored: list[dict] = []
    for index in sorted(outcomes):
        kind, value = outcomes[index]
        if kind == "rejected":
            report.rejected.append({"index": index, "errors": [p.as_dict() for p in value]})
        elif kind == "duplicate":
            report.duplicates += 1
        else:
            report.accepted += 1
            stored.extend(value)
    queue.enqueue(stored)
    return report


def _store_one(event: ValidEvent, path: str) -> tuple[str, Any]:
    if _seen(event.id):
        return "duplicate", None
    try:
        new = _store_valid(event)
    except contacts.ContactConflict:
        return "rejected", [Problem(join(path, "traits"), f"this {settings().unique_key} belongs to another contact")]
    except UnknownContact:
        return "rejected", [Problem(join(join(path, "contact"), "contact_id"), "no contact has this id")]
    return ("duplicate", None) if new is None else ("accepted", new)


class UnknownContact(Exception):
    pass


def _seen(event_id: str) -> bool:
    try:
        EventId.get(event_id)
        return True
    except DoesNotExist:
        return False


def _store_valid(event: ValidEvent) -> list[dict] | None:
    identity = contacts.Identity(**event.identity)
    if identity.contact_id and contacts.get(identity.contact_id) is None:
        raise UnknownContact(identity.contact_id)
    activity = None if is_system_type(event.type) else clock.iso(event.timestamp)
    upserted = contacts.upsert(identity, contacts.Change(
        traits=event.traits, attributes=event.attributes, consent=event.consent,
        consent_source=event.consent_source, activity_at=activity))
    contact_id = upserted.contact.id
    main = record(contact_id, event.type, event.properties, event_id=event.id, at=event.timestamp)
    if main is None:
        return None
    return [*contact_events(upserted, origin=event.id), main]


def contact_events(upserted: contacts.Upserted, *, origin: str) -> list[dict]:
    """contact.created / contact.updated, named after the request that caused them (idempotent)."""
    contact_id = upserted.contact.id
    if upserted.created:
        created = record(contact_id, "contact.created", {}, event_id=f"{origin}/contact.created")
        return [created] if created else []
    if upserted.changed:
        updated = record(contact_id, "contact.updated", {"changed": upserted.changed},
                         event_id=f"{origin}/contact.updated")
        return [updated] if updated else []
    return []


def record(contact_id: str, event_type: str, properties: dict[str, Any], *, event_id: str | None = None,
           at: datetime | None = None) -> dict | None:
    """Store one event for a contact; None if this event id was stored before."""
    idempotency, item = event_items(contact_id, event_type, properties, event_id or str(uuid.uuid4()), at)
    write = Transaction()
    write.put("event_id", idempotency, condition=EventId.id.does_not_exist())
    write.put("event", item)
    failed = write.commit()
    if failed == ["event_id"]:
        return None
    if failed:
        raise RuntimeError(f"event {item.id} met a concurrent write; retry")
    return to_api(item)


def record_and_dispatch(contact_id: str, event_type: str, properties: dict[str, Any], *,
                        event_id: str | None = None) -> dict | None:
    """A system event recorded and handed to automation (it may trigger scenarios)."""
    stored = record(contact_id, event_type, properties, event_id=event_id)
    if stored:
        queue.enqueue([stored])
    return stored


def to_api(item: Event) -> dict:
    return {"id": item.id, "type": item.type, "contact_id": item.contact_id,
            "properties": contacts.plain(item.properties.as_dict() if hasattr(item.properties, "as_dict")
                                         else item.properties),
            "timestamp": item.at.split("#", 1)[0]}


def history(contact_id: str, *, since: datetime | None = None, event_type: str | None = None,
            limit: int | None = None, cursor: dict | None = None, newest_first: bool = True
            ) -> tuple[list[dict], dict | None]:
    """A contact's events, newest first, optionally of one type and since a moment."""
    condition = Event.at >= clock.iso(since) if since else None
    result = Event.query(contact_id, range_key_condition=condition,
                         filter_condition=(Event.type == event_type) if event_type else None,
                         scan_index_forward=not newest_first, limit=limit, last_evaluated_key=cursor)
    items = [to_api(item) for item in result]
    return items, result.last_evaluated_key


def events_of(contact_id: str) -> Iterable[dict]:
    return history(contact_id)[0]
