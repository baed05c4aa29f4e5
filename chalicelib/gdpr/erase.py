"""GDPR erasure (DELETE /contacts/{id}, the delete_contact step).

Erasing a contact stops its running journeys, takes it out of its lists and segments (counts
stay exact; no list.left / segment.left is recorded for a person who is being forgotten),
deletes the contact and its unique-key item, then every item keyed by it: events and their
idempotency records, messages, journeys, waits, score, activity count and segment checks.
Webhook deliveries still to be retried with its data are emptied and given up.
What remains is a keyed hash (HMAC-SHA256, key: the token secret) of each of its addresses in
the suppression table, and a contact.deleted event handed to automation (not stored: it only
names the now meaningless contact id and the reason).

The hash is what lets a re-import not re-subscribe someone who asked to be forgotten: consent
that comes from a file (historical data) is dropped for an erased address (imports.service).
Consent given explicitly in a new request (POST /contacts, an event's `consent`) is fresh and
is recorded.
"""
from __future__ import annotations

import uuid

from chalicelib import clock, retry
from chalicelib.audience import members
from chalicelib.channels import outbound
from chalicelib.config import settings
from chalicelib.contacts import service as contacts
from chalicelib.logs import logger
from chalicelib.scenarios import deployer, journeys
from chalicelib.scoring import service as scoring
from chalicelib.segments import checks
from chalicelib.store import queue
from chalicelib.store.audience import ActivityCount, Suppression, suppression_digest
from chalicelib.store.models import Contact, ContactKey, Enrollment, Event, EventId, Message, Wait
from chalicelib.store.transactions import CONFLICT, Transaction


def erase(contact_id: str, *, reason: str) -> None:
    """Forget the contact (see module doc). Idempotent: erasing again sweeps leftovers."""
    contact = contacts.get(contact_id)
    if contact is not None:
        _suppress(contact, reason)
        _stop_journeys(contact_id)
        _leave_groups(contact)
        _delete_contact(contact)
    _sweep(contact_id)
    queue.enqueue([{"id": f"erase-{contact_id}-{uuid.uuid4().hex[:8]}", "type": "contact.deleted",
                    "contact_id": contact_id, "properties": {"reason": reason},
                    "timestamp": clock.iso(clock.now())}])
    logger.info("contact erased", extra={"contact": contact_id, "reason": reason})


def _suppress(contact: Contact, reason: str) -> None:
    now = clock.iso(clock.now())
    for name in contacts.IDENTIFIERS:
        value = getattr(contact, name)
        if value:
            Suppression(suppression_digest(name, value), kind=name, at=now, reason=reason[:200]).save()


def _stop_journeys(contact_id: str) -> None:
    for enrollment in journeys.of_contact(contact_id):
        if enrollment.status == journeys.RUNNING and journeys.finish(enrollment, "stopped"):
            if enrollment.execution_arn:
                deployer.stop(enrollment.execution_arn, "contact erased")


def _leave_groups(contact: Contact) -> None:
    for list_id in contact.lists or ():
        members.change("list", list_id, contact.id, joining=False)
    for segment_id in contact.segments or ():
        members.change("segment", segment_id, contact.id, joining=False)


def _delete_contact(contact: Contact) -> None:
    unique = settings().unique_key

    def attempt() -> bool | None:
        write = Transaction()
        write.delete("contact", Contact(contact.id), versioned=False)
        value = getattr(contact, unique)
        if value:
            write.delete("key", ContactKey(f"{unique}:{value}"), condition=ContactKey.contact_id == contact.id)
        failed = write.commit()
        if failed == ["key"]:  # the key item is missing or names another contact: leave it
            Contact(contact.id).delete(add_version_condition=False)
        return None if failed == [CONFLICT] else True

    retry.until_settled(attempt, limit=6, what=f"deletion of contact {contact.id}")


def _sweep(contact_id: str) -> None:
    """Every item keyed by the contact id, in batches."""
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
    checks.drop_contact(contact_id)
    outbound.forget_contact(contact_id)
