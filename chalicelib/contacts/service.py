"""Contacts: find by any identifier, upsert on the unique key, patch, list.

The unique key (email by default) is enforced by a ContactKey item written in the same
transaction as the contact, so concurrent signups with one address make one contact.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.store.models import Consent, Contact, ContactKey, transaction

IDENTIFIERS = ("email", "phone", "external_id")
PROFILE_FIELDS = ("email", "phone", "external_id", "first_name", "last_name", "birthday", "timezone", "language")
CHANNELS = ("email", "sms")


class ContactConflict(Exception):
    """The unique key value belongs to another contact."""


@dataclass
class Identity:
    contact_id: str | None = None
    email: str | None = None
    phone: str | None = None
    external_id: str | None = None

    def value(self, name: str) -> str | None:
        return getattr(self, name)


@dataclass
class Change:
    """What to write on a contact: profile traits, attributes, consent and activity."""

    traits: dict[str, Any] = field(default_factory=dict)  # built-in fields; None clears
    attributes: dict[str, Any] = field(default_factory=dict)  # None removes the attribute
    consent: dict[str, bool] = field(default_factory=dict)  # channel -> granted
    consent_source: str | None = None
    activity_at: str | None = None


@dataclass
class Upserted:
    contact: Contact
    created: bool
    changed: list[str]


def _key(name: str, value: str) -> str:
    return f"{name}:{value}"


def get(contact_id: str) -> Contact | None:
    try:
        return Contact.get(contact_id, consistent_read=True)
    except DoesNotExist:
        return None


def find(identity: Identity) -> Contact | None:
    """The contact an identity names: by id, by unique key, then by the other identifiers."""
    if identity.contact_id:
        return get(identity.contact_id)
    unique = settings().unique_key
    value = identity.value(unique)
    if value:
        try:
            return get(ContactKey.get(_key(unique, value), consistent_read=True).contact_id)
        except DoesNotExist:
            return None
    for name in IDENTIFIERS:
        value = identity.value(name)
        if value:
            found = find_by(name, value)
            if found:
                return found
    return None


def find_by(name: str, value: str) -> Contact | None:
    if name == settings().unique_key:
        return find(Identity(**{name: value}))
    index = {"email": Contact.by_email, "phone": Contact.by_phone, "external_id": Contact.by_external_id}[name]
    for hit in index.query(value, limit=1):
        return get(hit.id)
    return None


def upsert(identity: Identity, change: Change) -> Upserted:
    """Create or update the contact the identity names; safe against concurrent writers."""
    for _ in range(5):
        contact = find(identity)
        try:
            if contact is None:
                return _create(identity, change)
            return _update(contact, identity, change)
        except (TransactWriteError, PutError, UpdateError) as error:
            if _is_key_conflict(error, contact is None):
                if contact is not None:
                    raise ContactConflict(settings().unique_key) from error
                continue  # someone created it meanwhile: read again and update
            if _is_version_conflict(error):
                continue
            raise
    raise RuntimeError("contact upsert did not settle after 5 attempts")


def patch(contact: Contact, change: Change) -> Upserted:
    for _ in range(5):
        try:
            return _update(contact, Identity(), change)
        except (TransactWriteError, UpdateError, PutError) as error:
            if _is_key_conflict(error, False):
                raise ContactConflict(settings().unique_key) from error
            if not _is_version_conflict(error):
                raise
            fresh = get(contact.id)
            if fresh is None:
                raise
            contact = fresh
    raise RuntimeError("contact patch did not settle after 5 attempts")


def _create(identity: Identity, change: Change) -> Upserted:
    now = clock.iso(clock.now())
    contact = Contact(str(uuid.uuid4()), created_at=now, updated_at=now)
    for name in IDENTIFIERS:
        if identity.value(name):
            setattr(contact, name, identity.value(name))
    from chalicelib.contacts import erase  # an erased address is not re-subscribed by consent from a file

    change = erase.screen(contact, change)
    _apply(contact, change, now)
    unique_value = getattr(contact, settings().unique_key)
    with transaction() as write:
        write.save(contact, condition=Contact.id.does_not_exist())
        if unique_value:
            write.save(ContactKey(_key(settings().unique_key, unique_value), contact_id=contact.id),
                             condition=ContactKey.key.does_not_exist())
    return Upserted(contact, True, [])


def _update(contact: Contact, identity: Identity, change: Change) -> Upserted:
    now = clock.iso(clock.now())
    unique = settings().unique_key
    old_unique = getattr(contact, unique)
    traits = dict(change.traits)
    for name in IDENTIFIERS:  # an identifier that found the contact fills it if empty
        if identity.value(name) and not getattr(contact, name) and name not in traits:
            traits[name] = identity.value(name)
    changed = _apply(contact, Change(traits, change.attributes, change.consent, change.consent_source,
                                     change.activity_at), now)
    activity_moved = change.activity_at is not None and contact.last_activity_at == change.activity_at
    if not changed and not activity_moved:
        return Upserted(contact, False, [])
    if changed:
        contact.updated_at = now
    new_unique = getattr(contact, unique)
    if new_unique == old_unique:
        contact.save()
    else:
        with transaction() as write:
            write.save(contact)
            if old_unique:
                write.delete(ContactKey(_key(unique, old_unique)))
            if new_unique:
                write.save(ContactKey(_key(unique, new_unique), contact_id=contact.id),
                                 condition=ContactKey.key.does_not_exist())
    return Upserted(contact, False, changed)


def _apply(contact: Contact, change: Change, now: str) -> list[str]:
    """Write the change onto the model; the names of the fields whose value changed."""
    changed: list[str] = []
    for name, value in change.traits.items():
        if name in PROFILE_FIELDS and getattr(contact, name) != value:
            setattr(contact, name, value)
            changed.append(name)
            if name == "birthday":
                contact.birthday_md = value[-5:] if value else None
    attributes = attributes_of(contact)
    for name, value in change.attributes.items():
        if value is None:
            if name in attributes:
                del attributes[name]
                changed.append(f"attributes.{name}")
        elif attributes.get(name) != value:
            attributes[name] = value
            changed.append(f"attributes.{name}")
    contact.attributes = attributes
    for channel, granted in change.consent.items():
        current = getattr(contact, f"consent_{channel}")
        if current is None or current.granted != granted:
            setattr(contact, f"consent_{channel}",
                    Consent(granted=granted, at=now, source=change.consent_source or "api"))
            changed.append(f"consent.{channel}")
    if change.activity_at and (contact.last_activity_at or "") < change.activity_at:
        contact.last_activity_at = change.activity_at
    return changed


def attributes_of(contact: Contact) -> dict[str, Any]:
    raw = contact.attributes
    return plain(raw.as_dict() if hasattr(raw, "as_dict") else dict(raw or {}))


def _is_key_conflict(error: Exception, creating: bool) -> bool:
    codes = _cancellation_codes(error)
    if creating:
        return "ConditionalCheckFailed" in codes
    # On update the contact itself comes first: a failure on a later item is the new key.
    return "ConditionalCheckFailed" in codes[1:]


def _is_version_conflict(error: Exception) -> bool:
    codes = _cancellation_codes(error)
    if codes:
        return codes[0] == "ConditionalCheckFailed"
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


def _cancellation_codes(error: Exception) -> list[str | None]:
    reasons = getattr(error, "cancellation_reasons", None) or []
    return [getattr(reason, "code", None) if reason is not None else None for reason in reasons]


def plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; JSON wants int or float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [plain(item) for item in value]
    return value


def consent_to_api(consent: Consent | None) -> dict | None:
    if consent is None:
        return None
    return {"granted": consent.granted, "at": consent.at, "source": consent.source}


def to_api(contact: Contact) -> dict:
    return {
        "id": contact.id,
        **{name: getattr(contact, name) for name in PROFILE_FIELDS},
        "attributes": attributes_of(contact),
        "consent": {channel: consent_to_api(getattr(contact, f"consent_{channel}")) for channel in CHANNELS},
        "email_status": contact.email_status,
        "sms_opt_out": contact.sms_opt_out,
        "score": plain(contact.score),
        "stage": contact.stage,
        "activity_rank": int(contact.activity_rank or 0),
        "lists": sorted(contact.lists or []),
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
        "last_activity_at": contact.last_activity_at,
    }


def list_page(limit: int, cursor: dict | None) -> tuple[list[Contact], dict | None]:
    """One page of the base for the contacts listing: reads `limit` items, never the whole table."""
    result = Contact.scan(limit=limit, last_evaluated_key=cursor)
    items = list(result)
    return items, result.last_evaluated_key
