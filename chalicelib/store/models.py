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

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.config import settings


class _TableMeta(type):
    """A model's Meta whose table name and region come from the settings each time PynamoDB
    asks (it does when it connects), so importing the models reads no configuration."""

    table: str  # the table's name without the installation's prefix

    @property
    def table_name(cls) -> str:
        return settings().table(cls.table)

    @property
    def region(cls) -> str:
        return settings().region


def _meta(name: str) -> type:
    return _TableMeta("Meta", (), {"table": name, "billing_mode": "PAY_PER_REQUEST"})


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
    # a double opt-in under way: asked then, from that source; it counts once confirmed
    pending_at = UnicodeAttribute(null=True)
    pending_source = UnicodeAttribute(null=True)
    proof = JSONAttribute(null=True)  # the confirmation: requested_at, confirmed_at, token, ip, user_agent


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
    attributes: MapAttribute[str, Any] = MapAttribute(default=dict)
    consent_email = Consent(null=True)
    consent_sms = Consent(null=True)
    email_status = UnicodeAttribute(default="valid")  # valid | soft_bounce | hard_bounce | complained
    soft_bounces = NumberAttribute(default=0)
    sms_opt_out = BooleanAttribute(default=False)
    score = NumberAttribute(default=0)
    stage = UnicodeAttribute(default="visitor")
    activity_rank = NumberAttribute(default=0)
    lists = UnicodeSetAttribute(null=True)
    segments = UnicodeSetAttribute(null=True)
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
    properties: MapAttribute[str, Any] = MapAttribute(default=dict)
    received_at = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


class EventId(Model):
    Meta = _meta("event-ids")

    id = UnicodeAttribute(hash_key=True)  # "c:" + a posted id, "s:" + a system one (vocabulary)
    contact_id = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)
    outbox = JSONAttribute(null=True)  # the records to queue, until the automation queue has them
    at = UnicodeAttribute(null=True)  # a recorded event's sort key: where a retry completes it


class ApiKey(Model):
    Meta = _meta("api-keys")

    id = UnicodeAttribute(hash_key=True)  # the first 24 hex digits of the digest
    digest = UnicodeAttribute()  # SHA-256 of the whole key
    role = UnicodeAttribute()
    name = UnicodeAttribute()
    created_at = UnicodeAttribute()


class Scenario(Model):
    """Version 0 is the scenario's head (status, live version, ARNs); 1, 2, ... its definitions."""

    Meta = _meta("scenarios")

    id = UnicodeAttribute(hash_key=True)
    version = NumberAttribute(range_key=True)
    name = UnicodeAttribute(null=True)
    definition = JSONAttribute(null=True)  # versions only
    status = UnicodeAttribute(null=True)  # head: draft | live | paused | archived
    latest_version = NumberAttribute(null=True)
    live_version = NumberAttribute(null=True)
    state_machine_arn = UnicodeAttribute(null=True)
    alias_arn = UnicodeAttribute(null=True)
    version_arn = UnicodeAttribute(null=True)  # versions: the published state-machine version
    timeouts = JSONAttribute(null=True)  # versions: wait_for timeouts, merged into execution input
    entered = NumberAttribute(default=0)  # head: entries so far, for entry.max_contacts
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)

    HEAD = 0


class Trigger(Model):
    """Which live scenarios an event type starts: one query per ingested event, no scan."""

    Meta = _meta("triggers")

    event_type = UnicodeAttribute(hash_key=True)  # an event type, or "date:birthday"
    scenario_id = UnicodeAttribute(range_key=True)
    version = NumberAttribute()


class ByScenario(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-scenario"
        projection = KeysOnlyProjection()

    scenario_id = UnicodeAttribute(hash_key=True)
    entered_at = UnicodeAttribute(range_key=True)


class Enrollment(Model):
    """One contact's journey through one scenario: the durable record, written before the execution."""

    Meta = _meta("enrollments")

    contact_id = UnicodeAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True)  # "{scenario}#{entry key}"; "{scenario}#guard" holds re-entry
    id = UnicodeAttribute(null=True)  # also the execution name
    scenario_id = UnicodeAttribute(null=True)
    version = NumberAttribute(null=True)
    status = UnicodeAttribute(null=True)  # running | completed | converted | exited | failed | stopped
    path: ListAttribute[dict[str, Any]] = ListAttribute(default=list)  # [{"step", "at", "result"}]
    current_step = UnicodeAttribute(null=True)
    bucket = NumberAttribute(null=True)
    trigger = JSONAttribute(null=True)  # the triggering event's id, type and properties
    execution_arn = UnicodeAttribute(null=True)
    entered_at = UnicodeAttribute(null=True)
    ended_at = UnicodeAttribute(null=True)
    next_entry_at = UnicodeAttribute(null=True)  # guard items: re-entry allowed from then on
    counted = UnicodeSetAttribute(null=True)  # report facts counted for this journey (store.reports)

    by_scenario = ByScenario()


class Wait(Model):
    """An execution waiting for a contact's event (wait_for): resumed with its task token."""

    Meta = _meta("waits")

    contact_id = UnicodeAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True)  # "{event type}#{enrollment key}#{step}"
    token = UnicodeAttribute()
    enrollment_key = UnicodeAttribute()
    step = UnicodeAttribute()
    where = JSONAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    resumed_by = UnicodeAttribute(null=True)  # the cause that claimed the resume (an event id, "look-back")


class BySesId(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-provider-id"
        projection = KeysOnlyProjection()

    provider_id = UnicodeAttribute(hash_key=True)


class Message(Model):
    """One send (or skipped send), with its status history; the id is fixed by enrollment and step."""

    Meta = _meta("messages")

    contact_id = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    channel = UnicodeAttribute()
    scenario = UnicodeAttribute(null=True)
    step = UnicodeAttribute(null=True)
    to = UnicodeAttribute(null=True)
    subject = UnicodeAttribute(null=True)
    status = UnicodeAttribute()  # sending | sent | skipped | delivered | opened | clicked | bounced ...
    reason = UnicodeAttribute(null=True)
    provider_id = UnicodeAttribute(null=True)  # SES MessageId / SNS MessageId
    sent_at = UnicodeAttribute(null=True)
    events: ListAttribute[dict[str, Any]] = ListAttribute(default=list)  # [{"type", "at"}]
    transactional = BooleanAttribute(default=False)
    version = NumberAttribute(null=True)  # the scenario version that sent it, for its report
    counted = UnicodeSetAttribute(null=True)  # report facts counted for this message (store.reports)
    campaign = UnicodeAttribute(null=True)  # a campaign's message: its id, A/B variant, tracked links in order
    variant = UnicodeAttribute(null=True)
    links: ListAttribute[str] = ListAttribute(null=True)

    by_provider_id = BySesId()


class Template(Model):
    """An email or SMS template (Jinja2, rendered in a sandbox)."""

    Meta = _meta("templates")

    id = UnicodeAttribute(hash_key=True)
    channel = UnicodeAttribute()  # email | sms
    name = UnicodeAttribute(null=True)
    subject = UnicodeAttribute(null=True)
    html = UnicodeAttribute(null=True)
    text = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


MODELS: list[type[Model]] = [Template, Contact, ContactKey, Event, EventId, ApiKey, Scenario, Trigger, Enrollment, Wait,
                             Message]
