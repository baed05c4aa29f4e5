"""Campaign tables: the campaigns, their frozen recipients, and the campaign-sends queue.

- campaigns: one item per campaign, by id; `due` / `due_at` (sparse index `by-due`) when
  something timed waits: its start (scheduled) or its A/B winner (sending). The minute
  schedule reads only those, never the table.
- campaign-recipients: hash campaign id, range contact id: who was selected (once, whatever
  the lists it was found in), the A/B variant, the send state and the skip reason.
- the campaign-sends queue (SQS): batches of recipients for the sender; a batch refused for
  now comes back as a new message with a growing delay (the automation queue's pattern).
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import boto3
from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.config import settings
from chalicelib.store.models import _meta

DUE = "due"


class ByDue(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-due"
        projection = KeysOnlyProjection()

    due = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


class Campaign(Model):
    Meta = _meta("campaigns")

    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    channel = UnicodeAttribute()
    definition = JSONAttribute()  # the campaign as posted (content, audience, ab_test, settings)
    status = UnicodeAttribute()  # draft | scheduled | sending | sent | cancelled | failed
    schedule = JSONAttribute(null=True)  # {"at", "local_time"}
    start_at = UnicodeAttribute(null=True)
    due = UnicodeAttribute(null=True)  # "due" while a start or a winner waits (sparse index)
    due_at = UnicodeAttribute(null=True)
    job_id = UnicodeAttribute(null=True)  # the selection
    release_job_id = UnicodeAttribute(null=True)  # the A/B winner's send to the rest
    selected = NumberAttribute(null=True)  # set when the selection is over
    held = NumberAttribute(null=True)  # recipients kept for the A/B winner
    expected = NumberAttribute(null=True)  # recipients to process before the campaign is sent
    winner = UnicodeAttribute(null=True)
    winner_at = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    started_at = UnicodeAttribute(null=True)
    finished_at = UnicodeAttribute(null=True)

    by_due = ByDue()


SHARDS = "0123456789abcdef"


def shard_of(contact_id: str) -> str:
    """A contact's shard (the first hex digit of its id, a random UUID): a campaign's recipients
    and counters are spread over 16 partition keys, so that 1,000 sends a second write about 60
    a second on each, far below DynamoDB's 1,000 per partition key."""
    first = contact_id[:1].lower()
    return first if first and first in SHARDS else SHARDS[0]


def recipients_key(campaign_id: str, shard: str) -> str:
    return f"{campaign_id}#{shard}"


class Recipient(Model):
    Meta = _meta("campaign-recipients")

    campaign = UnicodeAttribute(hash_key=True)  # "campaign id#shard" (shard_of the contact)
    contact_id = UnicodeAttribute(range_key=True)
    variant = UnicodeAttribute(null=True)
    state = UnicodeAttribute()  # pending | held | sent | skipped | failed
    reason = UnicodeAttribute(null=True)


CAMPAIGN_MODELS: list[type[Model]] = [Campaign, Recipient]


# -- the campaign-sends queue -----------------------------------------------------------------


@lru_cache(maxsize=1)
def _sqs() -> Any:
    return boto3.client("sqs", region_name=settings().region)


def enqueue(batches: Iterable[dict[str, Any]]) -> int:
    """Send batches of recipients, ten to a request (the SQS batch maximum)."""
    url = settings().campaign_queue_url
    pending = [json.dumps(batch, separators=(",", ":")) for batch in batches]
    for start in range(0, len(pending), 10):
        entries = [{"Id": str(index), "MessageBody": body} for index, body in enumerate(pending[start:start + 10])]
        failed = _sqs().send_message_batch(QueueUrl=url, Entries=entries).get("Failed") or []
        for entry in failed:  # an exception here fails the step that enqueues: it is run again
            _sqs().send_message(QueueUrl=url, MessageBody=entries[int(entry["Id"])]["MessageBody"])
    return len(pending)


POSTPONED = "postponed"
MAX_DELAY_SECONDS = 900  # SQS's own maximum: a batch waiting for its moment hops this far at most
MAX_POSTPONEMENTS = 800  # throttled for about two days (automation_queue.backoff): then the batch fails


def later(batch: dict[str, Any], delay: float, *, postponed: int = 0) -> bool:
    """Put a batch back for `delay` seconds (at most 15 minutes: a longer wait is a chain);
    False when it has been postponed for long enough."""
    if postponed >= MAX_POSTPONEMENTS:
        return False
    _sqs().send_message(QueueUrl=settings().campaign_queue_url, MessageBody=json.dumps(batch, separators=(",", ":")),
                        DelaySeconds=max(0, min(MAX_DELAY_SECONDS, int(delay))),
                        MessageAttributes={POSTPONED: {"DataType": "Number", "StringValue": str(postponed)}})
    return True



def postponements(record: dict) -> int:
    attribute = (record.get("messageAttributes") or {}).get(POSTPONED) or {}
    return int(attribute.get("stringValue") or 0)


def receive(max_messages: int = 10) -> list[dict]:
    """Messages waiting (the local stack's pump; on AWS, Lambda polls for us)."""
    result = _sqs().receive_message(QueueUrl=settings().campaign_queue_url, MessageAttributeNames=["All"],
                                    MaxNumberOfMessages=max_messages, WaitTimeSeconds=0)
    return result.get("Messages", [])


def delete(receipt_handle: str) -> None:
    _sqs().delete_message(QueueUrl=settings().campaign_queue_url, ReceiptHandle=receipt_handle)

