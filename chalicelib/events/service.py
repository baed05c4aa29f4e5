"""Ingestion: validate, deduplicate on the event id, upsert the contact, store, hand to automation."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.models import Model

from chalicelib import clock, faults, logs
from chalicelib.config import settings
from chalicelib.contacts import service as contacts
from chalicelib.events import routing
from chalicelib.events.validate import ValidEvent, validate_event
from chalicelib.logs import logger
from chalicelib.problems import Problem, join
from chalicelib.store import queue
from chalicelib.store.audience import event_items
from chalicelib.store.models import Contact, Event, EventId
from chalicelib.vocabulary import client_event_id, is_system_type

T = TypeVar("T")


@dataclass
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}

    @property
    def only_unavailable(self) -> bool:
        """Nothing stored, and every event refused only because AWS said "not now"."""
        return not self.accepted and not self.duplicates and all(item.get("retry") for item in self.rejected)


def ingest(raw_events: list[Any], *, public: bool, paths: list[str] | None = None) -> IngestReport:
    """Store each valid event once; report the others by index with every problem.

    `public` is the ingest key a web page embeds (DESIGN.md section 7): no system event types,
    no contact named by id, no consent withdrawn, fill-only traits (contacts.service)."""
    tolerance = timedelta(seconds=settings().future_tolerance_seconds)
    outcomes: dict[int, tuple[str, Any]] = {}
    by_contact: dict[str, list[tuple[int, str, ValidEvent]]] = {}
    for index, raw in enumerate(raw_events):
        path = paths[index] if paths else f"events[{index}]"
        event, problems = validate_event(raw, path, allow_system=not public, future_tolerance=tolerance)
        if event is not None and public:
            problems = _beyond_public_key(event, path)
        if event is None or problems:
            outcomes[index] = ("rejected", problems)
        else:
            who = json.dumps(event.identity, sort_keys=True)
            by_contact.setdefault(who, []).append((index, path, event))

    def store_all(group: list[tuple[int, str, ValidEvent]]) -> None:
        for index, path, event in group:
            outcomes[index] = _store_one(event, path, public)

    # Contacts are stored concurrently (each event costs a few DynamoDB round trips); a
    # contact's own events stay in order, on one worker.
    _concurrently(store_all, list(by_contact.values()))
    report = IngestReport()
    stored: list[tuple[str, list[dict]]] = []
    for index in sorted(outcomes):
        kind, value = outcomes[index]
        if kind in ("rejected", "unavailable"):
            report.rejected.append({"index": index, "errors": [p.as_dict() for p in value],
                                    **({"retry": True} if kind == "unavailable" else {})})
        elif kind == "duplicate":
            report.duplicates += 1
            if value:  # stored by an earlier request that never reached the queue
                stored.append(value)
        else:
            report.accepted += 1
            stored.append(value)
    _hand_over(stored)
    logs.ingested(report.accepted, report.duplicates)
    return report


def _beyond_public_key(event: ValidEvent, path: str) -> list[Problem]:
    """What the public ingest key may not do, refused whether or not the contact exists (an
    answer that differed would tell a web page who is in the base)."""
    problems = []
    if "contact_id" in event.identity:
        problems.append(Problem(join(join(path, "contact"), "contact_id"),
                                "an ingest key cannot name a contact by id; use email, phone or external_id"))
    for channel, granted in event.consent.items():
        if not granted:
            problems.append(Problem(join(join(path, "consent"), channel),
                                    "an ingest key cannot withdraw consent: the unsubscribe link in every message "
                                    "does, or a server-side key"))
    return problems


def _hand_over(stored: list[tuple[str, list[dict]]]) -> None:
    """Queue what was stored, then clear each event's outbox mark. An event stays marked until
    the queue has it, so a retry of a request that died in between queues it (_store_one)."""
    stored = [(stored_id, records) for stored_id, records in stored if records]
    if not stored:
        return
    try:
        queue.enqueue([record for _, records in stored for record in records])
    except Exception as error:
        logger.exception("stored events not queued", extra={"events": len(stored)})
        raise NotQueued() from error

    def clear(stored_id: str) -> None:
        try:
            EventId(stored_id).update(actions=[EventId.outbox.remove()])
        except Exception:  # the mark stays: a retry of this request would queue the event again, harmlessly
            logger.exception("outbox mark not cleared", extra={"event_id": stored_id})

    _concurrently(clear, [stored_id for stored_id, _ in stored])


def _concurrently(work: Callable[[T], None], items: list[T]) -> None:
    """`work` on every item, on up to PARCOURS_INGEST_WORKERS threads (DynamoDB round trips overlap)."""
    workers = min(settings().ingest_workers, len(items))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(work, items))
    else:
        for item in items:
            work(item)


def _store_one(event: ValidEvent, path: str, public: bool) -> tuple[str, Any]:
    """("accepted", (stored id, records)) | ("duplicate", (stored id, records) or None) | ("rejected", problems)
    | ("unavailable", problems): AWS refused for now.
    An event that fails is reported alone: its neighbours in the batch are stored and queued."""
    stored_id = client_event_id(event.id)
    # No read of the idempotency record first: the transaction's condition on it says "seen
    # before", and only then is it read (a request that stored the event but died before
    # queueing it left its records there).
    try:
        records = _store_valid(event, public)
    except contacts.AlreadyRecorded:
        return _duplicate(stored_id)
    except contacts.ContactConflict:
        if (seen := _seen(stored_id)) is not None:
            return _duplicate(stored_id, seen)
        return "rejected", [Problem(join(path, "traits"), f"this {settings().unique_key} belongs to another contact")]
    except UnknownContact:
        if (seen := _seen(stored_id)) is not None:  # a retry after the contact was erased
            return _duplicate(stored_id, seen)
        return "rejected", [Problem(join(join(path, "contact"), "contact_id"), "no contact has this id")]
    except Exception as error:  # nothing of this event was written (one transaction): the client may post it again
        if faults.is_transient(error):
            logger.warning("event not stored: AWS refused for now", extra={"error": type(error).__name__})
            return "unavailable", [Problem(path, "this event could not be stored now (nothing was recorded); "
                                                 "post it again in a moment")]
        logger.exception("event not stored", extra={"event_id": event.id})
        return "rejected", [Problem(path, "this event could not be stored (nothing was recorded); post it again")]
    return "accepted", (stored_id, records)


class UnknownContact(Exception):
    pass


class NotQueued(Exception):
    """Events were stored but the automation queue did not take them: posting them again
    queues them (their outbox mark stays)."""


def _duplicate(stored_id: str, seen: EventId | None = None) -> tuple[str, Any]:
    seen = seen or _seen(stored_id)
    return "duplicate", ((stored_id, list(seen.outbox)) if seen is not None and seen.outbox else None)


def _seen(stored_id: str) -> EventId | None:
    try:
        return EventId.get(stored_id, consistent_read=True)
    except DoesNotExist:
        return None


def _store_valid(event: ValidEvent, public: bool) -> list[dict]:
    """The contact's change, the event and its contact.created / contact.updated in one
    transaction with the event's idempotency record: a duplicate id writes nothing at all
    (contacts.AlreadyRecorded), whatever contact it names."""
    identity = contacts.Identity(**event.identity)
    if identity.contact_id and contacts.get(identity.contact_id) is None:
        raise UnknownContact(identity.contact_id)
    activity = None if is_system_type(event.type) else clock.iso(event.timestamp)
    records: list[dict] = []

    def alongside(contact: Contact, created: bool, changed: list[str]) -> list[tuple[str, Model, Any]]:
        items: list[tuple[str, Model, Any]] = []
        records.clear()
        origin = client_event_id(event.id)
        derived: list[tuple[str, dict[str, Any], str]] = [("contact.created", {}, "contact.created")] if created else (
            [("contact.updated", {"changed": changed}, "contact.updated")] if changed else [])
        derived += [("contact.consent_requested", {"channel": channel}, f"consent.{channel}")
                    for channel in contacts.pending_channels(contact, changed, created=created)]
        for number, (event_type, properties, suffix) in enumerate(derived):
            idempotency, item = event_items(contact.id, event_type, properties, f"{origin}/{suffix}")
            items += [(f"derived_id{number}", idempotency, EventId.id.does_not_exist()),
                      (f"derived{number}", item, None)]
            records.append(to_api(item))
        idempotency, item = event_items(contact.id, event.type, event.properties, event.id, event.timestamp,
                                        posted=True)
        records.append(to_api(item))
        # what no trigger, wait, goal, score rule, segment or webhook reads is stored, not queued
        records[:] = [record for record in records if routing.queued(record["type"])]
        idempotency.outbox = list(records) or None
        return [("event_id", idempotency, EventId.id.does_not_exist()), ("event", item, None), *items]

    contacts.upsert(identity, contacts.Change(
        traits=event.traits, attributes=event.attributes, consent=event.consent,
        consent_source=event.consent_source, activity_at=activity, public=public,
        overwrite=settings().ingest_overwrites), alongside=alongside)
    return records


def created_alongside(origin: str) -> tuple[contacts.Alongside, list[dict]]:
    """contact.created, named after `origin`, for contacts.upsert to write in the creation's own
    transaction; the list holds the event once the upsert has created the contact."""
    stored: list[dict] = []

    def alongside(contact: Contact, created: bool, changed: list[str]) -> list[tuple[str, Model, Any]]:
        stored.clear()
        if not created:
            return []
        idempotency, item = event_items(contact.id, "contact.created", {}, f"{origin}/contact.created")
        stored.append(to_api(item))
        return [("created_id", idempotency, EventId.id.does_not_exist()), ("created", item, None)]

    return alongside, stored


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
    """Store one event for a contact; None if this event id was stored before.

    Two single writes, not a transaction (half the write units, on every system event): the id
    is claimed with the event's place (its sort key), then the event is written there unless it
    is there already. A retry that finds the id claimed writes the event at the claimed place,
    so an event whose writer died between the two writes is still stored (and returned, to be
    dispatched), and stored once."""
    idempotency, item = event_items(contact_id, event_type, properties, event_id or str(uuid.uuid4()), at)
    idempotency.at = item.at
    try:
        idempotency.save(condition=EventId.id.does_not_exist())
    except PutError as error:
        if not faults.lost_to_condition(error):
            raise
        seen = _seen(idempotency.id)
        if seen is None or not seen.at:  # stored whole before (by a transaction), or gone
            return None
        item.at = seen.at
    # whoever writes the event hands it on: its first writer, or the retry of one that died
    return to_api(item) if _put_once(item) else None


def _put_once(item: Event) -> bool:
    """Write the event unless it is there already; whether this call wrote it."""
    try:
        item.save(condition=Event.at.does_not_exist())
    except PutError as error:
        if not faults.lost_to_condition(error):
            raise
        return False
    return True


def record_and_dispatch(contact_id: str, event_type: str, properties: dict[str, Any], *,
                        event_id: str | None = None) -> dict | None:
    """A system event recorded and handed to automation (it may trigger scenarios)."""
    stored = record(contact_id, event_type, properties, event_id=event_id)
    if stored:
        dispatch([stored])
    return stored


def dispatch(stored: list[dict]) -> None:
    """Hand stored events to automation: those something reads (events.routing)."""
    read = [record for record in stored if routing.queued(record["type"])]
    if read:
        queue.enqueue(read)


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
