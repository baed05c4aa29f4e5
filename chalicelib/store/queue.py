"""The automation queue: ingestion hands stored events to the scenario engine through SQS.

Step Functions and SES have rate limits far below a burst of signups; the queue absorbs the
burst and its consumer drains it with retries, so nothing is dropped or failed back to a client.
"""
from __future__ import annotations

import json
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


def receive(max_messages: int = 10, wait_seconds: int = 0) -> list[dict]:
    """Messages waiting on the queue (the local stack's pump; on AWS, Lambda polls for us)."""
    result = _sqs().receive_message(QueueUrl=settings().automation_queue_url,
                                    MaxNumberOfMessages=max_messages, WaitTimeSeconds=wait_seconds)
    return result.get("Messages", [])


def delete(receipt_handle: str) -> None:
    _sqs().delete_message(QueueUrl=settings().automation_queue_url, ReceiptHandle=receipt_handle)
