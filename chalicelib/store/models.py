"""Tables and their keys, designed for the access patterns of DESIGN.md section 3.

- contacts: by id (GetItem); by email/phone/external_id through sparse KEYS_ONLY indexes;
  by birthday month-day (the daily birthday trigger queries one day, never the base).
- contact-keys: one item per unique-key value; created in the same transaction as the
  contact, so two concurrent signups with one address can never make two contacts.
- events: a contact's history, time-ordered (sort key `at#id`), with a TTL.
- event-ids: the idempotency record of an event id, written in the same transaction.
- api-keys: keys stored as SHA-256 digests, never in clear.
"""
from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.config import settings

_settings = settings()


class _Meta:
    region = _settings.region
    billing_mode = "PAY_PER_REQUEST"


def _meta(name: str) -> type:
    return type("Meta", (_Meta,), {"table_name": _settings.table(name)})


class ByEmail(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-email"
        projection = KeysOnlyProjection()

    email = UnicodeAttribute(hash_key=True)


class ByPhone(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-phone"
        projection = KeysOnlyProjection()

    phone = UnicodeAttribute(hash_key=True)


class ByExternalId(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-external-id"
        projection = KeysOnlyProjection()

    external_id = UnicodeAttribute(hash_key=True)


class ByBirthday(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-birthday"
        projection = KeysOnlyProjection()

    birthday_md = UnicodeAttribute(hash_key=True)


class Consent(MapAttribute):
    granted = BooleanAttribute(null=True)
    at = UnicodeAttribute(null=True)
    source = UnicodeAttribute(null=True)


class Contact(Model):
    Meta = _meta("contacts")

    id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    external_id = UnicodeAttribute(null=True)
    first_name = UnicodeAttribute(null=True)
    last_name = UnicodeAttribute(null=True)
    birthday = UnicodeAttribute(null=True)
    birthday_md = UnicodeAttribute(null=True)  # "MM-DD", for the birthday index
    timezone = UnicodeAttribute(null=True)
    language = UnicodeAttribute(null=True)
    attributes = MapAttribute(default=dict)
    consent_email = Consent(null=True)
    consent_sms = Consent(null=True)
    email_status = UnicodeAttribute(default="valid")  # valid | soft_bounce | hard_bounce | complained
    soft_bounces = NumberAttribute(default=0)
    sms_opt_out = BooleanAttribute(default=False)
    score = NumberAttribute(default=0)
    stage = UnicodeAttribute(default="visitor")
    activity_rank = NumberAttribute(default=0)
    lists = UnicodeSetAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    last_activity_at = UnicodeAttribute(null=True)
    version = VersionAttribute()

    by_email = ByEmail()
    by_phone = ByPhone()
    by_external_id = ByExternalId()
    by_birthday = ByBirthday()


class ContactKey(Model):
    """`email:ana@example.com` -> contact id: the unique key, enforced by a conditional put."""

    Meta = _meta("contact-keys")

    key = UnicodeAttribute(hash_key=True)
    contact_id = UnicodeAttribute()


class Event(Model):
    Meta = _meta("events")

    contact_id = UnicodeAttribute(hash_key=True)
    at = UnicodeAttribute(range_key=True)  # "2026-11-22T10:00:00.000Z#evt-123": time-ordered
    id = UnicodeAttribute()
    type = UnicodeAttribute()
    properties = MapAttribute(default=dict)
    received_at = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


class EventId(Model):
    Meta = _meta("event-ids")

    id = UnicodeAttribute(hash_key=True)
    contact_id = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


class ApiKey(Model):
    Meta = _meta("api-keys")

    id = UnicodeAttribute(hash_key=True)  # the first 24 hex digits of the digest
    digest = UnicodeAttribute()  # SHA-256 of the whole key
    role = UnicodeAttribute()
    name = UnicodeAttribute()
    created_at = UnicodeAttribute()


MODELS: list[type[Model]] = [Contact, ContactKey, Event, EventId, ApiKey]


def transaction() -> TransactWrite:
    """A write transaction (all items or none) in the app's region."""
    return TransactWrite(connection=Connection(region=_settings.region))
