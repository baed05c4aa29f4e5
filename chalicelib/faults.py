"""Which AWS failures mean "not now": the call may be made again later and nothing is lost.

Botocore retries throttling and 5xx answers a few times itself; what reaches our code has
outlasted those retries. Such a failure is never the contact's or the client's fault, so it
must never end a journey or send an event to a dead-letter queue: the step runner turns it
into `Parcours.Throttled` (the state machine retries with backoff for hours), the automation
queue's consumer puts the event back on the queue with a delay.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from chalicelib.scenarios.errors import Throttled

# AWS error codes that mean "not now" (throttling, or the service unavailable for a moment).
THROTTLING = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException", "LimitExceededException",
    "RequestLimitExceeded", "ProvisionedThroughputExceededException", "ServiceUnavailable",
    "ServiceUnavailableException", "SlowDown", "MaxSendingRateExceeded", "KMSThrottlingException"})
TRANSIENT_CODES = THROTTLING | frozenset({
    "InternalFailure", "InternalError", "InternalServerError", "InternalServerErrorException", "ServiceException",
    "RequestTimeout", "RequestTimeoutException", "TransactionInProgressException"})

__all__ = ["THROTTLING", "TRANSIENT_CODES", "Throttled", "is_transient", "lost_to_condition", "through"]

T = TypeVar("T")


def is_transient(error: BaseException | None) -> bool:
    """Whether `error`, or what caused it (PynamoDB wraps botocore's errors), is a "not now"."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, Throttled):
            return True
        if isinstance(error, ClientError):
            response = error.response or {}
            code = (response.get("Error") or {}).get("Code", "")
            status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
            return code in TRANSIENT_CODES or status >= 500
        if isinstance(error, (ConnectionError, HTTPClientError)):  # timeouts, resets, unreachable endpoint
            return True
        error = getattr(error, "cause", None) or error.__cause__ or error.__context__
    return False


def lost_to_condition(error: Exception) -> bool:
    """Whether a PynamoDB write was refused by its condition (a race lost, a repeat: an expected
    answer), rather than failed: a throttle or a 5xx must never pass for "already done"."""
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


def through(call: Callable[[], T], *, attempts: int = 6) -> T:
    """`call()`, made again after a "not now" from AWS, with backoff (a few seconds in all).

    For the few writes that must follow an action that cannot be undone (a message handed to
    SES): giving up there would leave a sent message recorded as unsent."""
    for number in range(attempts):
        try:
            return call()
        except Exception as error:
            if number == attempts - 1 or not is_transient(error):
                raise
            time.sleep(min(0.05 * 4 ** number, 2.0) * (0.5 + random.random() / 2))
    raise AssertionError("unreachable")
