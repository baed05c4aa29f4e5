"""What Lambda's SQS event source does on AWS: poll the automation queue, call the handler, delete."""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.logs import logger
from chalicelib.store import queue


class Foreground:
    """The work a marketer waits on: the HTTP requests the local stack is answering, and the
    background jobs (an uploaded import, a segment build) it is running. On AWS the API's and the
    jobs' Lambda functions and the queue's consumers run apart, and a burst of posts is answered,
    or a file imported, while the queue fills; here one process runs them all, so the pumps let
    that work go first (a while at most, so that a steady stream of it still leaves the queue
    draining)."""

    MAX_WAIT_SECONDS = 1.0

    def __init__(self) -> None:
        self._in_flight = 0
        # A pump waits on this, woken when the work is done: polling a flag every few milliseconds
        # would take Python's lock from the request that many times a second.
        self._idle = threading.Condition()

    @contextmanager
    def serving(self) -> Iterator[None]:
        with self._idle:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._idle:
                self._in_flight -= 1
                if not self._in_flight:
                    self._idle.notify_all()

    def middleware(self, event: Any, get_response: Callable[[Any], Any]) -> Any:
        with self.serving():
            return get_response(event)

    @property
    def busy(self) -> bool:
        return self._in_flight > 0

    def wait(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: not self._in_flight, timeout=self.MAX_WAIT_SECONDS)


FOREGROUND = Foreground()


class QueuePump(threading.Thread):
    IDLE_MAX_SECONDS = 0.16

    def __init__(self, handler: Callable[[dict, Any], Any], interval: float = 0.02, *,
                 receive: Callable[[], list[dict]] | None = None, delete: Callable[[str], None] | None = None,
                 name: str = "automation") -> None:
        """Pumps the automation queue, or the queue `receive` and `delete` speak to."""
        super().__init__(name=f"{name}-queue-pump", daemon=True)
        self.handler = handler
        self.interval = interval
        self.receive = receive or queue.receive
        self.delete = delete or queue.delete
        self.busy = False
        self._stopping = threading.Event()

    def run(self) -> None:
        idle = self.interval
        while not self._stopping.is_set():
            FOREGROUND.wait()
            try:
                messages = self.receive()
            except Exception:  # the stack is stopping under us
                return
            if not messages:
                # An empty receive costs as much CPU as a DynamoDB write here: an idle queue is
                # asked less and less often, as Lambda's poller backs off an empty queue.
                time.sleep(idle)
                idle = min(idle * 2, self.IDLE_MAX_SECONDS)
                continue
            idle = self.interval
            self.busy = True
            records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                        "eventSource": "aws:sqs", "attributes": {},
                        "messageAttributes": {name: {"stringValue": value.get("StringValue"),
                                                     "dataType": value.get("DataType")}
                                              for name, value in (m.get("MessageAttributes") or {}).items()}}
                       for m in messages]
            try:
                answer = self.handler({"Records": records}, _context()) or {}
                # ReportBatchItemFailures: only the records named come back; the others are done
                failed = {item["itemIdentifier"] for item in answer.get("batchItemFailures") or []}
                for message in messages:
                    if message["MessageId"] not in failed:
                        self.delete(message["ReceiptHandle"])
            except Exception:  # like Lambda: the batch becomes visible again and is retried
                logger.exception("automation batch failed; it will be retried")
            finally:
                self.busy = False

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=5)


def _context() -> Any:
    class Context:
        aws_request_id = str(uuid.uuid4())
        function_name = "parcours-local-automation"

        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return 60_000

    return Context()
