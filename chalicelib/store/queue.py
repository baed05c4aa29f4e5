"""The automation queue: ingestion hands stored events to the scenario engine through SQS.

Step Functions and SES have rate limits far below a burst of signups; the queue absorbs the
burst and its consumer drains it with retries, so nothing is dropped or failed back to a client.
"""
from __future__ import annotations

import json
import random
from collections.abc import Iterable
from functools import lru_cache

import boto3

from chalicelib.config import settings


@lru_cache(maxsize=1)
def _sqs():
    return boto3.client("sqs", region_name=settings().region)


def enqueue(events: Iterable[dict]) -> int:
    """Send events to the automation queue, ten to a request (the SQS batch maximum)."""
    url = settings().automation_queue_url
    pending = list(events)
    if not url or not pending:
        return 0
    for start in range(0, len(pending), 10):
        chunk = pending[start:start + 10]
        entries = [{"Id": str(i), "MessageBody": json.dumps(event, default=str)} for i, event in enumerate(chunk)]
        result = _sqs().send_message_batch(QueueUrl=url, Entries=entries)
        failed = result.get("Failed") or []
        if failed:  # retry the failed entries one by one; an exception here surfaces as a 503
            for entry in failed:
                _sqs().send_message(QueueUrl=url, MessageBody=entries[int(entry["Id"])]["MessageBody"])
    return len(pending)


# An event whose handling AWS refused for now goes back on the queue with a growing delay
# (SQS's own maximum, 15 minutes, at most), as a new message: a redelivery would count towards
# the dead-letter queue's receive limit, and throttling alone must never send an event there.
POSTPONED = "postponed"
# The longest wait between two tries. A burst of entries past StartExecution's bucket is put back
# again and again until the bucket takes it: with 15 minutes, its last entries waited out long
# delays after the bucket had room (a million entries: 93 minutes for 83); with 5, 86 (bench stepcost).
MAX_DELAY_SECONDS = 300
MAX_POSTPONEMENTS = 400  # about a day at the longest delay; then the event fails like any other


def backoff(postponed: int) -> float:
    """Seconds before the next try of work AWS refused for now: 2 s doubling to MAX_DELAY_SECONDS,
    times 0.5 to 1 at random (tries put back together do not come back together)."""
    return float(min(MAX_DELAY_SECONDS, 2 ** min(postponed, 10) * 2) * (0.5 + random.random() / 2))


def postpone(body: str, postponed: int) -> bool:
    """Put a message back for later; False when it has been postponed for long enough."""
    if postponed >= MAX_POSTPONEMENTS:
        return False
    _sqs().send_message(QueueUrl=settings().automation_queue_url, MessageBody=body,
                        DelaySeconds=int(backoff(postponed)),
                        MessageAttributes={POSTPONED: {"DataType": "Number", "StringValue": str(postponed + 1)}})
    return True


def postponements(record: dict) -> int:
    """How many times a received message (a Lambda SQS record) was postponed already."""
    attribute = (record.get("messageAttributes") or {}).get(POSTPONED) or {}
    return int(attribute.get("stringValue") or 0)


def receive(max_messages: int = 10, wait_seconds: int = 0) -> list[dict]:
    """Messages waiting on the queue (the local stack's pump; on AWS, Lambda polls for us)."""
    result = _sqs().receive_message(QueueUrl=settings().automation_queue_url, MessageAttributeNames=["All"],
                                    MaxNumberOfMessages=max_messages, WaitTimeSeconds=wait_seconds)
    return result.get("Messages", [])


def delete(receipt_handle: str) -> None:
    _sqs().delete_message(QueueUrl=settings().automation_queue_url, ReceiptHandle=receipt_handle)
