"""Sends paced to the account's SES and SNS rates, across every Lambda running at once.

SES refuses what goes past the account's maximum send rate, and SNS past its SMS rate; botocore
retries a few times, then the step would fail. Instead each send first takes a slot of the
current second, counted in DynamoDB (one atomic ADD, shared by every concurrent Lambda): past
the rate, the sender waits for the next second, and after a few seconds gives way with
`Throttled`, which the state machine retries later with backoff. A send thus waits for capacity,
it never fails the journey. The slots are wall-clock seconds: the quota is AWS's, in real time,
also on the local stack whose domain clock runs faster.
"""
from __future__ import annotations

import random
import time
from datetime import datetime, timezone

from chalicelib.config import settings
from chalicelib.faults import Throttled
from chalicelib.store.channels import SendPace

WAIT_SECONDS = 5.0  # in the Lambda, before giving way to the state machine's retry
KEEP_SECONDS = 300


def rate(channel: str) -> int:
    return settings().email_rate if channel == "email" else settings().sms_rate


def take(channel: str) -> None:
    """Return when a send of `channel` may go now; raise Throttled when none could be had soon."""
    if not take_many(channel, 1):
        raise Throttled(f"{channel} send rate of {rate(channel)}/s reached")


def take_many(channel: str, wanted: int) -> int:
    """Slots for up to `wanted` sends of `channel` now, claimed in one write (a campaign batch:
    one write per batch, not per send, so the pace item is not written once per message); how
    many were granted: 0 when none could be had within WAIT_SECONDS."""
    per_second = rate(channel)
    if per_second <= 0 or wanted <= 0:
        return max(0, wanted)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        second = int(time.time())
        slot = SendPace(f"{channel}#{second}")
        slot.update(actions=[SendPace.taken.add(wanted), SendPace.expires_at.set(_expiry(second))])
        before = int(slot.taken) - wanted
        granted = max(0, min(wanted, per_second - before))
        if granted:
            return granted
        if time.monotonic() >= deadline:
            return 0
        time.sleep(max(0.0, second + 1 - time.time()) + random.random() * 0.05)


def _expiry(second: int) -> datetime:
    return datetime.fromtimestamp(second + KEEP_SECONDS, tz=timezone.utc)
