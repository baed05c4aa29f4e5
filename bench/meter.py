"""Count what AWS would bill, by hooking every botocore call made in this process.

`Meter.install()` wraps `botocore.client.BaseClient._make_api_call`, the one method every
client goes through: boto3's, PynamoDB's (which has its own botocore sessions), and clients
created before the meter started (the app caches its clients). Per call it counts
`calls.SERVICE.OPERATION` and what the call bills:

- DynamoDB: request units estimated the way DynamoDB computes them, from the sizes of the
  items involved, read from moto's backend (moto's own ConsumedCapacity is a constant):
  writes ceil(max(before, after) / 1 KB) WRU, doubled in transactions, plus one write per
  global secondary index whose entry appears, changes or goes; reads ceil(size / 4 KB) RRU,
  halved when eventually consistent, doubled in transactions; queries and scans on the
  total size read. Also the net bytes stored (items and index entries, 100 bytes of
  overhead each), for the monthly storage bill.
- SES v2 SendEmail: one email per recipient. SNS Publish: an SMS to a phone number, else a
  topic publish per 64 KB. SQS sends: one request per 64 KB of payload.
- Step Functions API calls are free; their state transitions are counted from the
  executions' histories (`transitions`), not here.

Lambda invocations are counted by wrapping handlers (`wrap`): each invocation records the
handler's own CPU (thread CPU time minus the time spent inside botocore, i.e. minus moto)
and its AWS calls, from which bench.prices models the billed duration.

Calls made by moto itself (Step Functions invoking Lambda: clients with moto's fixed "ak"
credentials) are counted apart as `internal.*`; the local queue pump's ReceiveMessage and
DeleteMessage are Lambda's event-source polling on AWS, billed per invocation instead.
"""
from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench import prices

INTERNAL_ACCESS_KEY = "ak"  # moto's Step Functions interpreter calls other services with these credentials
PUMP_THREAD = "automation-queue-pump"
PUMP_SUFFIX = "-queue-pump"  # the local pumps of every SQS consumer (automation, campaign-sends)
ITEM_OVERHEAD = 100  # bytes DynamoDB adds to each stored item and index entry


@dataclass
class _Image:
    size: int
    indexes: dict[str, tuple[str, str, int]]  # index -> (key values, projected content, entry size)


@dataclass
class _Frame:
    function: str
    bill: bool
    cpu0: float
    wall0: float
    aws_cpu: float = 0.0
    calls: list[tuple[str, str]] = field(default_factory=list)


class Meter:
    def __init__(self, *, account: str = "123456789012", memory_mb: dict[str, int] | None = None,
                 default_memory_mb: int = 512) -> None:
        self.account = account
        self.memory_mb = dict(memory_mb or {})
        self.default_memory_mb = default_memory_mb
        self.values: dict[str, float] = defaultdict(float)
        self.sent_emails: list[tuple[str, str]] = []  # (SES message id, recipient)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._original: Callable | None = None

    # -- installing ----------------------------------------------------------------------
    def install(self) -> Meter:
        from botocore.client import BaseClient

        if self._original is not None:
            return self
        original = self._original = BaseClient._make_api_call
        meter = self

        def _make_api_call(client: Any, operation_name: str, api_params: dict) -> Any:
            return meter._call(original, client, operation_name, api_params)

        _make_api_call.meter = self  # type: ignore[attr-defined]
        BaseClient._make_api_call = _make_api_call
        return self

    def uninstall(self) -> None:
        from botocore.client import BaseClient

        if self._original is not None:
            BaseClient._make_api_call = self._original
            self._original = None

    def __enter__(self) -> Meter:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    # -- reading -------------------------------------------------------------------------
    def add(self, key: str, amount: float = 1.0) -> None:
        with self._lock:
            self.values[key] += amount

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self.values)

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        keys = set(before) | set(after)
        changed = {key: after.get(key, 0.0) - before.get(key, 0.0) for key in keys}
        return {key: value for key, value in sorted(changed.items()) if abs(value) > 1e-12}

    # -- scoping -------------------------------------------------------------------------
    def _frames(self) -> list[_Frame]:
        frames = getattr(self._local, "frames", None)
        if frames is None:
            frames = self._local.frames = []
        return frames

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The bench's own look-ups (histories, queue depth) are not the app's usage."""
        previous = getattr(self._local, "paused", False)
        self._local.paused = True
        try:
            yield
        finally:
            self._local.paused = previous

    @contextmanager
    def invocation(self, function: str, *, bill: bool = True) -> Iterator[None]:
        """One Lambda invocation of `function` (bill=False: attribute calls to `function`, e.g.
        "ses" publishing its notifications, without counting an invocation)."""
        frames = self._frames()
        frame = _Frame(function, bill, time.thread_time(), time.perf_counter())
        frames.append(frame)
        try:
            yield
        finally:
            frames.pop()
            if bill:
                self._bill(frame)

    def wrap(self, function: str, handler: Callable, *, extra: dict[str, float] | None = None) -> Callable:
        """`handler`, counted as Lambda function `function` each time it is called."""
        meter = self

        def metered(*args: Any, **kwargs: Any) -> Any:
            with meter.invocation(function):
                if extra:
                    for key, amount in extra.items():
                        meter.add(key, amount)
                return handler(*args, **kwargs)

        metered.__wrapped__ = handler  # type: ignore[attr-defined]
        return metered

    def _bill(self, frame: _Frame) -> None:
        cpu_ms = max(0.0, (time.thread_time() - frame.cpu0 - frame.aws_cpu) * 1000)
        memory_mb = self.memory_mb.get(frame.function, self.default_memory_mb)
        billed_ms = prices.lambda_billed_ms(cpu_ms, frame.calls, memory_mb)
        memory_gb = memory_mb / 1024
        name = frame.function
        with self._lock:
            values = self.values
            values["lambda.invocations"] += 1
            values[f"lambda.invocations.{name}"] += 1
            values[f"lambda.billed_ms.{name}"] += billed_ms
            values["lambda.gb_seconds"] += billed_ms / 1000 * memory_gb
            values[f"lambda.cpu_seconds.{name}"] += cpu_ms / 1000
            values[f"lambda.wall_seconds.{name}"] += time.perf_counter() - frame.wall0

    # -- the hook ------------------------------------------------------------------------
    def _call(self, original: Callable, client: Any, operation: str, params: dict) -> Any:
        if getattr(self._local, "paused", False):
            return original(client, operation, params)
        service = client.meta.service_model.service_name
        credentials = getattr(getattr(client, "_request_signer", None), "_credentials", None)
        if getattr(credentials, "access_key", None) == INTERNAL_ACCESS_KEY:
            self.add(f"internal.{service}.{operation}")
            return original(client, operation, params)
        frames = self._frames()
        frame = frames[-1] if frames else None
        if (frame is None and service == "sqs" and operation in ("ReceiveMessage", "DeleteMessage")
                and threading.current_thread().name.endswith(PUMP_SUFFIX)):
            return original(client, operation, params)  # Lambda's SQS pollers, billed per invocation
        region = client.meta.region_name
        before = None
        if service == "dynamodb":
            try:
                before = self._ddb_images(region, operation, params)
            except Exception:  # a malformed request fails below, in botocore
                before = None
        cpu0 = time.thread_time()
        response = None
        failed = False
        try:
            response = original(client, operation, params)
            return response
        except Exception:
            failed = True
            raise
        finally:
            spent = time.thread_time() - cpu0
            if frame is not None:
                frame.aws_cpu += spent
                frame.calls.append((service, operation))
            self.add(f"calls.{service}.{operation}")
            self.add(f"calls_by.{frame.function if frame else 'client'}.{service}")
            try:
                self._account_for(service, operation, params, response, region, before, failed)
            except Exception:  # estimating must never break the app under test
                self.add("meter.errors")

    def _account_for(self, service: str, operation: str, params: dict, response: Any, region: str,
                     before: Any, failed: bool) -> None:
        if service == "dynamodb":
            self._ddb_account(region, operation, params, response or {}, before, failed)
        elif failed:
            return
        elif service == "sesv2" and operation == "SendEmail":
            destination = params.get("Destination") or {}
            recipients = [*destination.get("ToAddresses", []), *destination.get("CcAddresses", []),
                          *destination.get("BccAddresses", [])]
            self.add("ses.emails", max(1, len(recipients)))
            with self._lock:
                self.sent_emails.append((response.get("MessageId", ""), recipients[0] if recipients else ""))
        elif service == "sns" and operation == "Publish":
            if params.get("PhoneNumber"):
                self.add("sns.sms")
            else:
                self.add("sns.publishes", _chunks(len(str(params.get("Message", "")).encode())))
        elif service == "sqs" and operation == "SendMessage":
            self.add("sqs.requests", _chunks(len(str(params.get("MessageBody", "")).encode())))
        elif service == "sqs" and operation == "SendMessageBatch":
            size = sum(len(str(entry.get("MessageBody", "")).encode()) for entry in params.get("Entries", []))
            self.add("sqs.requests", _chunks(size))
        elif service == "sqs":
            self.add("sqs.requests")

    # -- DynamoDB ------------------------------------------------------------------------
    def _table(self, region: str, name: str) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[self.account][region].get_table(name)

    def _image(self, table: Any, key: dict) -> _Image | None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        item = table.get_item(hash_key, range_key)
        if item is None:
            return None
        indexes = {}
        for index in list(table.global_indexes or []) + list(table.indexes or []):
            if all(name in item.attrs for name in index.schema_key_attrs):
                projected = index.project(item)
                keys = repr([item.attrs[name].to_json() for name in index.schema_key_attrs])
                indexes[index.name] = (keys, repr(sorted(projected.to_json()["Attributes"].items())),
                                       projected.size())
        return _Image(item.size(), indexes)

    @staticmethod
    def _write_targets(operation: str, params: dict) -> list[tuple[str, dict, str, bool]]:
        """(table, key or item, kind, transactional) of each item a write touches."""
        if operation == "PutItem":
            return [(params["TableName"], params["Item"], "put", False)]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(params["TableName"], params["Key"], operation[:-4].lower(), False)]
        if operation == "TransactWriteItems":
            targets = []
            for entry in params.get("TransactItems", []):
                for kind, body in entry.items():
                    targets.append((body["TableName"], body.get("Item") or body.get("Key"),
                                    {"Put": "put", "Update": "update", "Delete": "delete"}.get(kind, "check"), True))
            return targets
        if operation == "BatchWriteItem":
            targets = []
            for table, requests in (params.get("RequestItems") or {}).items():
                for request in requests:
                    if "PutRequest" in request:
                        targets.append((table, request["PutRequest"]["Item"], "put", False))
                    elif "DeleteRequest" in request:
                        targets.append((table, request["DeleteRequest"]["Key"], "delete", False))
            return targets
        return []

    def _ddb_images(self, region: str, operation: str, params: dict) -> list | None:
        targets = self._write_targets(operation, params)
        if not targets:
            return None
        images = []
        for table_name, key, kind, transactional in targets:
            table = self._table(region, table_name)
            images.append((table, key, kind, transactional, self._image(table, key)))
        return images

    def _ddb_account(self, region: str, operation: str, params: dict, response: dict, before: list | None,
                     failed: bool) -> None:
        if before is not None:
            wru = 0.0
            stored = 0
            for table, key, kind, transactional, old in before:
                new = old if failed or kind == "check" else self._image(table, key)
                wru += _write_units(old, new, transactional, check=kind == "check")
                stored += _stored(new) - _stored(old)
            self.add("dynamodb.wru", wru)
            self.add("dynamodb.stored_bytes", stored)
            return
        if failed:
            if operation in ("GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"):
                self.add("dynamodb.rru", 0.5)
            return
        if operation == "GetItem":
            self.add("dynamodb.rru", self._read_units(region, params["TableName"], [params["Key"]],
                                                      bool(params.get("ConsistentRead")), False))
        elif operation == "BatchGetItem":
            for table_name, request in (params.get("RequestItems") or {}).items():
                self.add("dynamodb.rru", self._read_units(region, table_name, request.get("Keys", []),
                                                          bool(request.get("ConsistentRead")), False))
        elif operation == "TransactGetItems":
            for entry in params.get("TransactItems", []):
                get = entry.get("Get") or {}
                self.add("dynamodb.rru", self._read_units(region, get["TableName"], [get["Key"]], True, True))
        elif operation in ("Query", "Scan"):
            self.add("dynamodb.rru", self._query_units(region, params, response))

    def _read_units(self, region: str, table_name: str, keys: list[dict], consistent: bool,
                    transactional: bool) -> float:
        table = self._table(region, table_name)
        factor = 2.0 if transactional else (1.0 if consistent else 0.5)
        units = 0.0
        for key in keys:
            image = self._image(table, key)
            units += max(1, math.ceil((image.size if image else 0) / 4096)) * factor
        return units

    def _query_units(self, region: str, params: dict, response: dict) -> float:
        from moto.dynamodb.models.dynamo_type import DynamoType

        table = self._table(region, params["TableName"])
        index_name = params.get("IndexName")
        index = next((item for item in list(table.global_indexes or []) + list(table.indexes or [])
                      if item.name == index_name), None) if index_name else None
        items = response.get("Items") or []
        total = 0
        for item in items:
            size = None
            try:
                image = self._image(table, {name: item[name] for name in (table.hash_key_attr, table.range_key_attr)
                                            if name})
                if image is not None:
                    size = image.indexes[index.name][2] if index is not None and index.name in image.indexes \
                        else image.size
            except (KeyError, TypeError):
                size = None
            if size is None:
                size = sum(len(name.encode()) + DynamoType(value).size() for name, value in item.items())
            total += size
        count, scanned = response.get("Count", len(items)), response.get("ScannedCount", len(items))
        if items and scanned > count:  # a filter discarded items after reading them
            total = total * scanned / max(count, 1)
        elif not items and scanned:  # Select COUNT, or everything filtered out: a guess per item
            total = scanned * 256
        consistent = bool(params.get("ConsistentRead")) and index_name is None
        return max(1, math.ceil(total / 4096)) * (1.0 if consistent else 0.5)


def _chunks(size: int) -> int:
    return max(1, math.ceil(size / 65536))


def _write_units(old: _Image | None, new: _Image | None, transactional: bool, *, check: bool = False) -> float:
    size = max(old.size if old else 0, new.size if new else 0)
    units = max(1, math.ceil(size / 1024)) * (2 if transactional else 1)
    if check:
        return float(units)
    for name in set(old.indexes if old else {}) | set(new.indexes if new else {}):
        before = old.indexes.get(name) if old else None
        after = new.indexes.get(name) if new else None
        if before is None and after is not None:
            units += max(1, math.ceil(after[2] / 1024))
        elif before is not None and after is None:
            units += max(1, math.ceil(before[2] / 1024))
        elif before is not None and after is not None:
            if before[0] != after[0]:  # the index key changed: the entry is deleted and put again
                units += max(1, math.ceil(before[2] / 1024)) + max(1, math.ceil(after[2] / 1024))
            elif before[1] != after[1]:
                units += max(1, math.ceil(after[2] / 1024))
    return float(units)


def _stored(image: _Image | None) -> int:
    if image is None:
        return 0
    return image.size + ITEM_OVERHEAD + sum(entry[2] + ITEM_OVERHEAD for entry in image.indexes.values())
