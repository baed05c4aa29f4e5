"""Contacts: find by any identifier, upsert on the unique key, patch, list.

The unique key (email by default) is enforced by a ContactKey item written in the same
transaction as the contact, so concurrent signups with one address make one contact.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.models import Model

from chalicelib import clock, faults, retry
from chalicelib.config import settings
from chalicelib.store.models import Consent, Contact, ContactKey
from chalicelib.store.transactions import Transaction

IDENTIFIERS = ("email", "phone", "external_id")
PROFILE_FIELDS = ("email", "phone", "external_id", "first_name", "last_name", "birthday", "timezone", "language")
CHANNELS = ("email", "sms")


class ContactConflict(Exception):
    """The unique key value belongs to another contact."""


class AlreadyRecorded(Exception):
    """An item written alongside the contact met its condition (its event was stored before):
    nothing was written."""


# Items written in the one transaction of the contact's change (an event and its idempotency
# record), built once the change is known: (contact, created, changed fields) -> items.
Alongside = Callable[["Contact", bool, list[str]], list[tuple[str, Model, Any]]]


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
    # The public ingest key (DESIGN.md section 7): on an existing contact its traits fill empty
    # fields only (unless `overwrite`), its identifiers never change, and consent it grants waits
    # for the double opt-in (`pending`) instead of counting at once.
    public: bool = False
    overwrite: bool = False


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


class ReadAhead:
    """The contacts a batch of identities names by unique key, read in a few batch requests
    (a CSV import's chunk) instead of two reads each. Each is handed out once: a later line
    with the same key reads it again, since an earlier line may have written it. A contact
    changed by another writer since is caught as always, by the conditions of the write."""

    def __init__(self, identities: list[Identity]) -> None:
        unique = settings().unique_key
        values = list(dict.fromkeys(value for identity in identities
                                    if not identity.contact_id and (value := identity.value(unique))))
        owners = {item.key: item.contact_id
                  for item in ContactKey.batch_get([_key(unique, value) for value in values], consistent_read=True)}
        contacts = {contact.id: contact for contact in Contact.batch_get(list(dict.fromkeys(owners.values())),
                                                                         consistent_read=True)}
        self._unique = unique
        self._read: dict[str, Contact | None] = {
            value: contacts.get(owners.get(_key(unique, value), "")) for value in values}

    def take(self, identity: Identity) -> Contact | None | NotRead:
        """The contact the identity names (None: no contact has its key), or NOT_READ."""
        value = self._value(identity)
        return self._read.pop(value, NOT_READ) if value else NOT_READ

    def peek(self, identity: Identity) -> Contact | None | NotRead:
        """What `take` would hand out, left for it."""
        value = self._value(identity)
        return self._read.get(value, NOT_READ) if value else NOT_READ

    def _value(self, identity: Identity) -> str | None:
        return None if identity.contact_id else identity.value(self._unique)

    def find(self, identity: Identity) -> Contact | None:
        """The contact the identity names: as read ahead, else read now."""
        known = self.take(identity)
        return find(identity) if isinstance(known, NotRead) else known


class NotRead:
    """The contact was not read ahead: find it."""


NOT_READ = NotRead()


def upsert(identity: Identity, change: Change, *, alongside: Alongside | None = None,
           known: Contact | None | NotRead = NOT_READ) -> Upserted:
    """Create or update the contact the identity names; safe against concurrent writers.
    `alongside` items go in the same transaction (AlreadyRecorded when their condition fails);
    `known` is the contact as read already, if it was (None: there was none)."""

    def attempt() -> Upserted | None:
        nonlocal known
        contact = find(identity) if isinstance(known, NotRead) else known
        known = NOT_READ  # a second attempt reads again
        if contact is None:
            return _create(identity, change, alongside)
        return _update(contact, identity, change, alongside)

    return retry.until_settled(attempt, limit=5, what="contact upsert")


def patch(contact: Contact, change: Change) -> Upserted:
    def attempt() -> Upserted | None:
        nonlocal contact
        updated = _update(contact, Identity(), change)
        if updated is None:
            fresh = get(contact.id)
            if fresh is None:
                raise RuntimeError(f"contact {contact.id} was erased while being patched")
            contact = fresh
        return updated

    return retry.until_settled(attempt, limit=5, what="contact patch")


def _create(identity: Identity, change: Change, alongside: Alongside | None = None) -> Upserted | None:
    """The new contact; None when another writer created it meanwhile (read it again)."""
    write = Transaction()
    contact, labels = _plan_creation(write, identity, change, alongside)
    failed = write.commit()
    if labels.intersection(failed):
        raise AlreadyRecorded()
    if failed:
        return None
    return Upserted(contact, True, [])


CREATED_TOGETHER = 25  # a creation writes up to 4 items; a transaction takes 100


def create_together(new: list[tuple[Identity, Change, Alongside | None]]) -> list[Upserted] | None:
    """Contacts for identities that no contact held when read, created in one transaction (a
    CSV import's run of new lines: one request instead of one per line); at most
    CREATED_TOGETHER. None when one of them could not be created as planned (another writer
    took its key, its event was recorded already, AWS refused the write): then nothing was
    written, and each goes through `upsert`."""
    if len(new) > CREATED_TOGETHER:
        raise ValueError(f"at most {CREATED_TOGETHER} contacts are created together")
    write = Transaction()
    created = []
    for index, (identity, change, alongside) in enumerate(new):
        contact, _ = _plan_creation(write, identity, change, alongside, label=f"{index}:")
        created.append(Upserted(contact, True, []))
    try:
        failed = write.commit()
    except TransactWriteError:
        return None
    return None if failed else created


def _plan_creation(write: Transaction, identity: Identity, change: Change, alongside: Alongside | None, *,
                   label: str = "") -> tuple[Contact, set[str]]:
    """The new contact's items added to `write`; the contact, and the labels of the alongside items."""
    now = clock.iso(clock.now())
    contact = Contact(str(uuid.uuid4()), created_at=now, updated_at=now)
    for name in IDENTIFIERS:
        if identity.value(name):
            setattr(contact, name, identity.value(name))
    changed = _apply(contact, change, now)
    unique = settings().unique_key
    unique_value = getattr(contact, unique)
    labels = _put_alongside(write, alongside(contact, True, changed) if alongside else [], label=label)
    write.put(f"{label}contact", contact, condition=Contact.id.does_not_exist())
    if unique_value:
        write.put(f"{label}key", ContactKey(_key(unique, unique_value), contact_id=contact.id),
                  condition=ContactKey.key.does_not_exist())
    return contact, labels


def _put_alongside(write: Transaction, items: list[tuple[str, Model, Any]], *, label: str = "") -> set[str]:
    """Put the alongside items first: DynamoDB may report only the first failed condition, and
    theirs decides (a duplicate event changes nothing, whatever else raced)."""
    labels = set()
    for name, item, condition in items:
        write.put(f"{label}{name}", item, condition=condition)
        labels.add(f"{label}{name}")
    return labels


def _update(contact: Contact, identity: Identity, change: Change,
            alongside: Alongside | None = None) -> Upserted | None:
    """The updated contact; None when another writer changed it since it was read (read it
    again); ContactConflict when its new unique key belongs to another contact."""
    now = clock.iso(clock.now())
    unique = settings().unique_key
    old_unique = getattr(contact, unique)
    traits = dict(change.traits)
    attributes = dict(change.attributes)
    if change.public:
        traits, attributes = _fill_only(contact, traits, attributes, overwrite=change.overwrite)
    for name in IDENTIFIERS:  # an identifier that found the contact fills it if empty (not a public key's)
        if identity.value(name) and not getattr(contact, name) and name not in traits and not change.public:
            traits[name] = identity.value(name)
    changed = _apply(contact, Change(traits, attributes, change.consent, change.consent_source,
                                     change.activity_at, change.public), now)
    activity_moved = change.activity_at is not None and contact.last_activity_at == change.activity_at
    items = alongside(contact, False, changed) if alongside else []
    if not changed and not activity_moved:
        if items:
            write = Transaction()
            if _put_alongside(write, items).intersection(write.commit()):
                raise AlreadyRecorded()
        return Upserted(contact, False, [])
    if changed:
        contact.updated_at = now
    new_unique = getattr(contact, unique)
    if new_unique == old_unique and not items:
        try:
            contact.save()  # conditional on the version read
        except PutError as error:
            if faults.lost_to_condition(error):
                return None
            raise
        return Upserted(contact, False, changed)
    write = Transaction()
    labels = _put_alongside(write, items)
    write.put("contact", contact)  # conditional on the version read
    if old_unique and new_unique != old_unique:
        write.delete("old_key", ContactKey(_key(unique, old_unique)))
    if new_unique and new_unique != old_unique:
        write.put("key", ContactKey(_key(unique, new_unique), contact_id=contact.id),
                  condition=ContactKey.key.does_not_exist())
    failed = write.commit()
    if labels.intersection(failed):
        raise AlreadyRecorded()
    if "key" in failed:
        raise ContactConflict(unique)
    if failed:
        return None
    return Upserted(contact, False, changed)


def _fill_only(contact: Contact, traits: dict[str, Any], attributes: dict[str, Any], *,
               overwrite: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a public key may write on an existing contact: never its identifiers (they name it:
    changing one is a takeover), and other fields only where empty unless `overwrite`. What it
    may not write is dropped without a word: a refusal would tell the caller the contact exists."""
    kept = {name: value for name, value in traits.items()
            if name not in IDENTIFIERS and value is not None and (overwrite or getattr(contact, name) in (None, ""))}
    current = attributes_of(contact)
    kept_attributes = {name: value for name, value in attributes.items()
                       if value is not None and (overwrite or current.get(name) in (None, ""))}
    return kept, kept_attributes


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
        if change.public:  # a grant only, and it counts once confirmed (double opt-in)
            if granted and (current is None or (current.granted is not True and not current.pending_at)):
                setattr(contact, f"consent_{channel}", Consent(
                    granted=current.granted if current else None, at=current.at if current else None,
                    source=current.source if current else None, pending_at=now,
                    pending_source=change.consent_source or "api"))
                changed.append(f"consent.{channel}")
        elif current is None or current.granted != granted or current.pending_at:
            setattr(contact, f"consent_{channel}",
                    Consent(granted=granted, at=now, source=change.consent_source or "api"))
            changed.append(f"consent.{channel}")
    if change.activity_at and (contact.last_activity_at or "") < change.activity_at:
        contact.last_activity_at = change.activity_at
    return changed


def pending_channels(contact: Contact, changed: list[str], *, created: bool = False) -> list[str]:
    """The channels whose consent this change (or creation) has just put on hold for a double opt-in."""
    consents = {channel: getattr(contact, f"consent_{channel}") for channel in CHANNELS}
    return [channel for channel, consent in consents.items()
            if (created or f"consent.{channel}" in changed) and consent is not None and consent.pending_at]


def attributes_of(contact: Contact) -> dict[str, Any]:
    raw = contact.attributes
    return plain(raw.as_dict() if hasattr(raw, "as_dict") else dict(raw or {}))


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
    """`granted`, `at`, `source`; `pending` while a double opt-in waits for its confirmation;
    `proof` of the confirmation once given."""
    if consent is None:
        return None
    shown: dict[str, Any] = {"granted": consent.granted, "at": consent.at, "source": consent.source}
    if consent.pending_at:
        shown["pending"] = {"requested_at": consent.pending_at, "source": consent.pending_source}
    if consent.proof:
        shown["proof"] = dict(consent.proof)
    return shown


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
