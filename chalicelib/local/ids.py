"""uuid4 without a system call per id, in the local stack's one process.

`os.urandom` lets go of Python's lock (the GIL); with a busy thread in the process (the queue's
consumer, an execution), the caller then waits up to the switch interval (5 ms) to get it back.
PynamoDB draws a uuid4 for every request (its signals' id), botocore one for every transaction's
token, the app one for every new contact: a CSV import spent an eighth of its time waiting so.
The ids are drawn as before, 16 bytes of `os.urandom` each, only read 4 KB at a time, by each
thread for itself; a forked child reads its own.
"""
from __future__ import annotations

import os
import threading
import uuid

BUFFER_BYTES = 4096


class _Draws(threading.local):
    buffer = b""
    at = 0


_draws = _Draws()


def uuid4() -> uuid.UUID:
    draws = _draws
    if draws.at + 16 > len(draws.buffer):
        draws.buffer, draws.at = os.urandom(BUFFER_BYTES), 0
    chunk = draws.buffer[draws.at:draws.at + 16]
    draws.at += 16
    return uuid.UUID(bytes=chunk, version=4)


def _forget() -> None:
    _draws.buffer, _draws.at = b"", 0


def install() -> None:
    """uuid.uuid4 is this one from now on, for the whole process (callers that look it up when
    they call, as PynamoDB, botocore and the app do)."""
    if uuid.uuid4 is uuid4:
        return
    uuid.uuid4 = uuid4
    os.register_at_fork(after_in_child=_forget)
