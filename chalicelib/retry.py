"""Retry with backoff, for optimistic writes that lose a race to a concurrent writer.

An attempt reads, computes and writes conditionally; it answers its result, or None when a
concurrent writer won and it must start over from a fresh read. Between attempts the
caller's thread sleeps a random time up to an exponentially growing bound ("full jitter"), so
writers that collided once do not collide again in lockstep.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

BASE_SECONDS = 0.05
MAX_SECONDS = 1.0


def backoff(attempt: int) -> float:
    """Seconds to wait after the failed attempt number `attempt` (0 for the first)."""
    return float(min(BASE_SECONDS * 2 ** attempt, MAX_SECONDS) * random.random())


def until_settled(attempt: Callable[[], T | None], *, limit: int, what: str,
                  failure: type[Exception] = RuntimeError) -> T:
    """The first result of `attempt` that is not None; `failure` when `limit` attempts lost their race."""
    for number in range(limit):
        if number:
            time.sleep(backoff(number - 1))
        result = attempt()
        if result is not None:
            return result
    raise failure(f"{what} did not settle after {limit} attempts; retry")
