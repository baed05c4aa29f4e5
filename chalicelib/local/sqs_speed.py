"""moto's SQS, made flat in the number of messages a queue holds.

A burst of signups leaves thousands of messages on the automation queue, and moto then pays
for each of them on every request:
- every SendMessage reads the queue's attributes for one flag, and the attributes count the
  queue's messages (three passes, each message asking the time, which moto reads through a
  datetime subtraction);
- every message received reads the attributes again (for the retention period);
- every ReceiveMessage lists the queue's visible messages, to take the first ten;
- every DeleteMessage walks the queue building each message's list of receipt handles.
Here a request that needs no count does not compute one, the time is read with time.time()
(the same instant, as moto's unix_time is seconds since the epoch), a receive walks the
visible messages only until it has its count, a delete finds the message it names through
the receipt handles handed out by ReceiveMessage, the attribute names moto turns into
Python names at each message are turned once, and GetQueueAttributes computes the queue's
attributes once (moto computed them again for each name asked, counting the messages three
times each: a poll of a busy queue's depth walked it nine times). What each request answers is
moto's, unchanged.
"""
from __future__ import annotations

import threading
import time
from typing import Any

from chalicelib.local.moto_direct import python_name

_light = threading.local()  # set while moto reads a queue's attributes for anything but its counts
_lazy = threading.local()  # set while moto receives: the visible messages are walked only as far as needed

COUNTS = frozenset({"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed",
                    "ApproximateNumberOfMessagesNotVisible"})


def unix_time(dt: Any = None) -> float:
    if dt is not None:
        from moto.core.utils import unix_time as moto_unix_time

        return moto_unix_time(dt)
    return time.time()


def unix_time_millis(dt: Any = None) -> float:
    return unix_time(dt) * 1000.0


def _attributes(queue: Any) -> dict[str, Any]:
    """moto's Queue.attributes, leaving the message counts out while `_light` is set."""
    light = getattr(_light, "on", False)
    result: dict[str, Any] = {}
    names = list(queue.BASE_ATTRIBUTES)
    if queue.fifo_queue:
        names += queue.FIFO_ATTRIBUTES
    if queue.kms_master_key_id:
        names += queue.KMS_ATTRIBUTES
    for name in names:
        if light and name in COUNTS:
            continue
        result[name] = getattr(queue, python_name(name))
    if queue.policy:
        result["Policy"] = queue.policy
    if queue.redrive_policy:
        import json

        result["RedrivePolicy"] = json.dumps(queue.redrive_policy)
    for key, value in result.items():
        if isinstance(value, bool):
            result[key] = str(value).lower()
    return result


def _get_queue_attributes(backend: Any, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
    """moto's SQSBackend.get_queue_attributes, reading the queue's attributes once."""
    from moto.sqs.exceptions import InvalidAttributeName

    queue = backend.get_queue(queue_name)
    if not attribute_names:
        return {}
    valid_names = ["All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES]
    invalid_name = next((name for name in attribute_names if name not in valid_names), None)
    if invalid_name or invalid_name == "":
        raise InvalidAttributeName(invalid_name)
    attributes = queue.attributes
    if "All" in attribute_names:
        return attributes
    return {name: attributes[name] for name in attribute_names if attributes.get(name) is not None}


def _lightly(method: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        previous = getattr(_light, "on", False)
        _light.on = True
        try:
            return method(*args, **kwargs)
        finally:
            _light.on = previous

    return call


def install() -> None:
    """Patch moto's SQS once per process (the patches keep moto's answers)."""
    from moto.sqs import models

    if getattr(models.SQSBackend.send_message, "light", False):
        return
    models.unix_time = unix_time
    models.unix_time_millis = unix_time_millis
    models.Queue.attributes = property(_attributes)
    models.SQSBackend.get_queue_attributes = _get_queue_attributes
    send = models.SQSBackend.send_message = _lightly(models.SQSBackend.send_message)
    send.light = True
    models.SQSBackend.is_message_valid_based_on_retention_period = _lightly(
        models.SQSBackend.is_message_valid_based_on_retention_period)

    receive, delete = models.SQSBackend.receive_message, models.Queue.delete_message

    listed = models.Queue.messages

    def messages(self: Any) -> Any:
        if getattr(_lazy, "on", False):  # in order, as moto's list: a receive stops at its count
            return (message for message in self._messages if message.visible and not message.delayed)
        return listed.fget(self)

    def receive_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        _lazy.on = True
        try:
            received = receive(self, queue_name, *args, **kwargs)
        finally:
            _lazy.on = False
        if received:
            queue = self.get_queue(queue_name)
            handles = queue.__dict__.setdefault("_parcours_handles", {})
            for message in list(queue.pending_messages):
                handles[message.receipt_handle] = message
        return received

    def delete_message(self: Any, receipt_handle: str) -> None:
        handles = self.__dict__.get("_parcours_handles")
        message = handles.get(receipt_handle) if handles else None
        if message is None or receipt_handle in self.deleted_messages:
            return delete(self, receipt_handle)
        try:
            self._messages.remove(message)  # Message has no __eq__: this finds that very message
        except ValueError:  # gone another way (a dead-letter queue): moto's own path decides
            return delete(self, receipt_handle)
        self.pending_messages.discard(message)
        self.deleted_messages.update(message.all_receipt_handles)
        for handle in message.all_receipt_handles:
            handles.pop(handle, None)
        return None

    models.Queue.messages = property(messages)
    models.SQSBackend.receive_message = receive_message
    models.Queue.delete_message = delete_message
