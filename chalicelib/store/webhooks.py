"""Outbound webhook tables.

- webhooks: one item per subscription (`{"url", "events"}`), by id. A handful per account:
  the automation consumer reads them all, cached for a few seconds (channels.outbound).
- webhook-deliveries: hash `owner` ("webhook#ID" for a subscription, "scenario#ID" for a
  scenario's webhook steps), range `key` (the event's time then the webhook-id, so a
  subscription's deliveries list newest first; a step's is its webhook-id alone). A delivery
  still to retry carries `due` (a shard, "due#N") and `next_attempt_at`: the sparse `by-due`
  index is what the retry schedule reads, never the table. Delivered and dead deliveries
  drop `due`, leave the index and expire after DELIVERY_TTL_DAYS. While a delivery may still
  be sent it also carries `contact_id`, the contact its body is about: the sparse `by-contact`
  index is how erasing a contact finds the deliveries that still hold its data.
"""
from __future__ import annotations

from pynamodb.attributes import JSONAttribute, ListAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.store.models import _meta

DUE_SHARDS = 4


class WebhookSubscription(Model):
    Meta = _meta("webhooks")

    id = UnicodeAttribute(hash_key=True)
    url = UnicodeAttribute()
    events: ListAttribute[str] = ListAttribute()
    description = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class ByDue(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-due"
        projection = AllProjection()

    due = UnicodeAttribute(hash_key=True)
    next_attempt_at = UnicodeAttribute(range_key=True)


class ByContact(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-contact"
        projection = KeysOnlyProjection()

    contact_id = UnicodeAttribute(hash_key=True)


class WebhookDelivery(Model):
    Meta = _meta("webhook-deliveries")

    owner = UnicodeAttribute(hash_key=True)  # "webhook#ID" | "scenario#ID"
    key = UnicodeAttribute(range_key=True)  # "{event time}#{webhook-id}" | "{webhook-id}"
    id = UnicodeAttribute()  # the webhook-id header: the same for every attempt
    url = UnicodeAttribute()
    event_type = UnicodeAttribute()
    event_id = UnicodeAttribute(null=True)
    endpoint = JSONAttribute()  # whose secret signs it: {"webhook": ID} | {"scenario", "step"}
    body = UnicodeAttribute()  # the JSON sent, byte for byte the same on every attempt
    status = UnicodeAttribute()  # pending | delivered | dead
    outcome = UnicodeAttribute(null=True)  # the first attempt's outcome, for a retried step
    attempts = NumberAttribute(default=0)
    last_status = NumberAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    last_attempt_at = UnicodeAttribute(null=True)
    delivered_at = UnicodeAttribute(null=True)
    due = UnicodeAttribute(null=True)
    next_attempt_at = UnicodeAttribute(null=True)
    contact_id = UnicodeAttribute(null=True)  # while it may still be sent (see the module doc)
    expires_at = TTLAttribute(null=True)

    by_due = ByDue()
    by_contact = ByContact()


WEBHOOK_MODELS: list[type[Model]] = [WebhookSubscription, WebhookDelivery]
