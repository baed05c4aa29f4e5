"""GDPR erasure (DELETE /contacts/{id}, the delete_contact step) and the erased-address screen.

Erasing a contact stops its running journeys, takes it out of its lists and segments (counts
stay exact; no list.left / segment.left is recorded for a person who is being forgotten),
deletes the contact and its unique-key item, then every item keyed by it: events and their
idempotency records, messages, journeys, waits, score, activity count and segment checks.
What remains is a keyed hash (HMAC-SHA256, key: the token secret) of each of its addresses in
the suppression table, and a contact.deleted event handed to automation (not stored: it only
names the now meaningless contact id and the reason).

The hash is what lets a re-import not re-subscribe someone who asked to be forgotten: consent
that comes from a file (historical data) is dropped for an erased address, on create (the hook
`screen`, called by contacts.service) and on update (imports.service). Consent given explicitly
in a new request (POST /contacts, an event's `consent`) is fresh and is recorded.
"""
from __future__ import annotations

import random
import time
import uuid
from dataclasses import replace

from chalicelib import clock
from chalicelib.contacts.service import IDENTIFIERS, Change
from chalicelib.logs import logger
from chalicelib.store.models import Contact

IMPORT_SOURCE = "import:"  # consent_source of consent read from a file: historical, never fresh


def screen(contact: Contact, change: Change) -> Change:
    """The change a new contact is created with: file consent dropped for an erased address."""
    if not any(change.consent.values()) or not (change.consent_source or "").startswith(IMPORT_SOURCE):
        return change
    from chalicelib.store.audience import suppressed

    if not suppressed({name: change.traits.get(name) or getattr(contact, name) for name in IDENTIFIERS}):
        return change
    return replace(change, consent={channel: granted for channel, granted in change.consent.items() if not granted})


def erase(contact_id: str, *, reason: str) -> None:
    """Forget the contact (see module doc). Idempotent: erasing again sweeps leftovers."""
    from chalicelib.contacts import service as contacts

    contact = contacts.get(contact_id)
    if contact is not None:
        _suppress(contact, reason)
        _stop_journeys(contact_id)
        _leave_groups(contact)
        _delete_contact(contact)
    _sweep(contact_id)
    from chalicelib.store import queue

    queue.enqueue([{"id": f"erase-{contact_id}-{uuid.uuid4().hex[:8]}", "type": "contact.deleted",
                    "contact_id": contact_id, "properties": {"reason": reason},
                    "timestamp": clock.iso(clock.now())}])
    logger.info("contact erased", extra={"contact": contact_id, "reason": reason})


def _suppress(contact: Contact, reason: str) -> None:
    from chalicelib.store.audience import Suppression, suppression_digest

    now = clock.iso(clock.now())
    for name in IDENTIFIERS:
        value = getattr(contact, name)
        if value:
            Suppression(suppression_digest(name, value), kind=name, at=now, reason=reason[:200]).save()


def _stop_journeys(contact_id: str) -> None:
    from chalicelib.scenarios import deployer, journeys

    for enrollment in journeys.of_contact(contact_id):
        if enrollment.status == journeys.RUNNING and journeys.finish(enrollment, "stopped"):
            if enrollment.execution_arn:
                deployer.stop(enrollment.execution_arn, "contact erased")


def _leave_groups(contact: Contact) -> None:
    from chalicelib.audience import members

    for list_id in contact.lists or ():
        members.change("list", list_id, contact.id, joining=False)
    for segment_id in contact.segments or ():
        members.change("segment", segment_id, contact.id, joining=False)


def _delete_contact(contact: Contact) -> None:
    from chalicelib.config import settings
    from chalicelib.store.audience import Transaction
    from chalicelib.store.models import ContactKey

    unique = settings().unique_key
    for attempt in range(6):
        write = Transaction()
        write.delete("contact", Contact(contact.id), versioned=False)
        value = getattr(contact, unique)
        if value:
            write.delete("key", ContactKey(f"{unique}:{value}"), condition=ContactKey.contact_id == contact.id)
        failed = write.commit()
        if failed == ["key"]:  # the key item is missing or names another contact: leave it
            Contact(contact.id).delete(add_version_condition=False)
            return
        if failed != ["#conflict"]:
            return
        time.sleep(0.05 * 2 ** attempt * random.random())


def _sweep(contact_id: str) -> None:
    """Every item keyed by the contact id, in batches."""
    from chalicelib.scoring import service as scoring
    from chalicelib.segments import refresh
    from chalicelib.store.audience import ActivityCount
    from chalicelib.store.models import Enrollment, Event, EventId, Message, Wait

    with Event.batch_write() as batch, EventId.batch_write() as ids:
        for event in Event.query(contact_id):
            batch.delete(event)
            ids.delete(EventId(event.id))
    for model in (Message, Enrollment, Wait):
        with model.batch_write() as batch:
            for item in model.query(contact_id):
                batch.delete(item)
    scoring.delete_of(contact_id)
    ActivityCount(contact_id).delete()
    refresh.drop_contact(contact_id)
