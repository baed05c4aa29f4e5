"""Report counters: numbers kept up to date as things happen, read a handful at a time.

- report-counters: hash `scope`, range `slot`, numbers added with atomic ADD updates.
  scope "scenario#ID", slot "DAY#VERSION#STEP" (STEP empty for the scenario's entries and
  endings; a report adds the days up for who is running or waiting now; earlier versions also
  kept "all#VERSION#STEP" slots, no longer read);
  scope "account", slot "DAY" (the account's day) and "totals" (contacts, consent);
  scope "contact#ID", slot "tally": what the account totals count of that contact.
  A report Queries one scope over a range of days: never a scan, never messages or journeys.
  Each counter slot is held in up to SHARDS items, `SLOT~N` (N from the contact's id), added up
  when read: a burst of contacts through one scenario spreads over them.

Counting is idempotent: a fact (a step reached, a message opened...) is counted in one
transaction that adds it to its holder's `counted` set (the journey's enrollment item, the
message item) under the condition that it is not there yet, and adds to the counters. A
retried Task, a redelivered SNS notification or a second open adds nothing.

Counter attribute names are open (`skipped:capped`, `branch:then`), so these few helpers speak
to DynamoDB directly, here in store/ where the app's raw DynamoDB calls live.
"""
from __future__ import annotations

import random
import time
import zlib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

import boto3
from boto3.dynamodb.types import TypeSerializer
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from chalicelib.config import settings
from chalicelib.store.models import _meta

ACCOUNT = "account"
TOTALS = "totals"
TALLY = "tally"
_SERIALIZER = TypeSerializer()
# Every contact's journeys and messages add to the same few counters (the day's, a step's): one
# item takes at most 1,000 write units a second and fails transactions that meet on it, so each
# counter is spread over SHARDS items, "SLOT~N" with N fixed by the contact; reads add them up.
SHARDS = 10
SHARD_MARK = "~"
CONFLICT_ATTEMPTS = 5


class ReportCounter(Model):
    """The table's keys; the counters themselves are open attributes (see the module's doc)."""

    Meta = _meta("report-counters")

    scope = UnicodeAttribute(hash_key=True)
    slot = UnicodeAttribute(range_key=True)


@lru_cache(maxsize=1)
def _client() -> Any:
    return boto3.client("dynamodb", region_name=settings().region)


def table_of(model: type[Model]) -> str:
    """The table name of a model (the installation's prefix included)."""
    return str(model.Meta.table_name)  # _TableMeta.table_name (store.models)


def _table() -> str:
    return settings().table("report-counters")


def _add(table: str, key: Mapping[str, Any], counts: Mapping[str, int]) -> dict[str, Any]:
    names = {f"#c{index}": name for index, name in enumerate(counts)}
    values = {f":c{index}": {"N": str(int(value))} for index, value in enumerate(counts.values())}
    return {"Update": {"TableName": table, "Key": key,
                       "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(counts))),
                       "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}


def counter_key(scope: str, slot: str) -> dict[str, Any]:
    return {"scope": {"S": scope}, "slot": {"S": slot}}


def count_once(holder_table: str, holder_key: Mapping[str, str], facts: Iterable[str],
               adds: Mapping[tuple[str, str], Mapping[str, int]], *, append: tuple[str, list] | None = None,
               sets: Mapping[str, Any] | None = None, expect: Mapping[str, Any] | None = None) -> bool:
    """Mark `facts` counted on the holder item and add `adds` ({(scope, slot): {name: n}}), all or
    nothing. False when one of the facts was counted already, or the holder is gone, or another
    writer touched the holder meanwhile: the caller reads the holder again and decides.

    The same write may record what the facts are about on the holder: `append` (attribute, items)
    to a list, `sets` {attribute: value} (None removes the attribute), on the condition that the
    holder still has `expect`."""
    facts = sorted(set(facts))
    if not facts:
        return True
    key = {name: {"S": value} for name, value in holder_key.items()}
    first = next(iter(holder_key))
    fresh = " AND ".join(f"NOT contains(#counted, :f{index})" for index in range(len(facts)))
    names = {"#counted": "counted", "#key": first}
    values: dict[str, Any] = {":facts": {"SS": facts},
                              **{f":f{index}": {"S": fact} for index, fact in enumerate(facts)}}
    assignments, removals = [], []
    if append:
        names["#append"] = append[0]
        values[":append"], values[":none"] = _SERIALIZER.serialize(list(append[1])), {"L": []}
        assignments.append("#append = list_append(if_not_exists(#append, :none), :append)")
    for index, (name, value) in enumerate((sets or {}).items()):
        names[f"#s{index}"] = name
        if value is None:
            removals.append(f"#s{index}")
        else:
            values[f":s{index}"] = _SERIALIZER.serialize(value)
            assignments.append(f"#s{index} = :s{index}")
    condition = f"attribute_exists(#key) AND ({fresh})"
    for index, (name, value) in enumerate((expect or {}).items()):
        names[f"#x{index}"], values[f":x{index}"] = name, _SERIALIZER.serialize(value)
        condition += f" AND #x{index} = :x{index}"
    expression = ("SET " + ", ".join(assignments) + " " if assignments else "") + \
        ("REMOVE " + ", ".join(removals) + " " if removals else "") + "ADD #counted :facts"
    holder = {"Update": {
        "TableName": holder_table, "Key": key, "UpdateExpression": expression, "ConditionExpression": condition,
        "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}
    owner = holder_key[first]
    items = [holder] + [_add(_table(), counter_key(scope, shard(slot, owner)), counts)
                        for (scope, slot), counts in adds.items() if counts]
    return _transact(items)


def shard(slot: str, owner: str) -> str:
    """The item of counter `slot` that `owner` (a contact id) adds to."""
    return f"{slot}{SHARD_MARK}{zlib.crc32(owner.encode()) % SHARDS}"


def _transact(items: list[dict[str, Any]]) -> bool:
    """Write all or nothing; False when a condition failed. A transaction that met another one on
    the same item (TransactionConflict: nothing was written) is tried again: a count is never
    dropped for having come at the same moment as another."""
    for attempt in range(CONFLICT_ATTEMPTS):
        try:
            _client().transact_write_items(TransactItems=items)
            return True
        except _client().exceptions.TransactionCanceledException as error:
            codes = {reason.get("Code") for reason in error.response.get("CancellationReasons") or []}
            if "TransactionConflict" not in codes or "ConditionalCheckFailed" in codes \
                    or attempt == CONFLICT_ATTEMPTS - 1:
                return False
            time.sleep(random.uniform(0, 0.02 * 2 ** attempt))
    return False


def add(adds: Mapping[tuple[str, str], Mapping[str, int]], *, owner: str = "",
        tally: tuple[str, Mapping[str, int], Mapping[str, int] | None] | None = None) -> bool:
    """Add to counters (in `owner`'s shard, a contact id); with `tally` (scope, new values, values
    expected now or None for a new tally), also move a contact's tally, under the condition that it
    still holds the expected values. False when that condition failed (another writer moved it:
    read it again)."""
    items = [_add(_table(), counter_key(scope, shard(slot, owner)), counts)
             for (scope, slot), counts in adds.items() if counts]
    if tally is not None:
        scope, values, expected = tally
        key = counter_key(scope, TALLY)
        if expected is None:
            item = {"Item": {**key, **{name: {"N": str(value)} for name, value in values.items()}},
                    "TableName": _table(), "ConditionExpression": "attribute_not_exists(#scope)",
                    "ExpressionAttributeNames": {"#scope": "scope"}}
            items.append({"Put": item})
        elif not values:
            items.append({"Delete": {"TableName": _table(), "Key": key, **_expecting(expected)}})
        else:
            names = {f"#v{index}": name for index, name in enumerate(values)}
            given = {f":v{index}": {"N": str(value)} for index, value in enumerate(values.values())}
            condition = _expecting(expected)
            items.append({"Update": {
                "TableName": _table(), "Key": key,
                "UpdateExpression": "SET " + ", ".join(f"#v{i} = :v{i}" for i in range(len(values))),
                "ConditionExpression": condition["ConditionExpression"],
                "ExpressionAttributeNames": {**names, **condition["ExpressionAttributeNames"]},
                "ExpressionAttributeValues": {**given, **condition["ExpressionAttributeValues"]}}})
    if not items:
        return True
    return _transact(items)


def _expecting(expected: Mapping[str, int]) -> dict[str, Any]:
    names = {f"#e{index}": name for index, name in enumerate(expected)}
    values = {f":e{index}": {"N": str(value)} for index, value in enumerate(expected.values())}
    condition = " AND ".join(f"#e{index} = :e{index}" for index in range(len(expected)))
    return {"ConditionExpression": condition, "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values}


def tally(scope: str) -> dict[str, int] | None:
    """A contact's tally (what the account totals count of it), or None."""
    found = _client().get_item(TableName=_table(), Key=counter_key(scope, TALLY), ConsistentRead=True).get("Item")
    return _numbers(found) if found else None


def read(scope: str, low: str, high: str) -> list[tuple[str, dict[str, int]]]:
    """(slot, counters) of one scope, slots from `low` to `high` inclusive (their shards added up),
    in slot order."""
    found: dict[str, dict[str, int]] = {}
    start: dict[str, Any] | None = None
    while True:
        page = _client().query(
            TableName=_table(), KeyConditionExpression="#scope = :scope AND #slot BETWEEN :low AND :high",
            ExpressionAttributeNames={"#scope": "scope", "#slot": "slot"},
            ExpressionAttributeValues={":scope": {"S": scope}, ":low": {"S": low},
                                       ":high": {"S": high + SHARD_MARK * 2}},
            **({"ExclusiveStartKey": start} if start else {}))
        for item in page.get("Items", []):
            counts = found.setdefault(item["slot"]["S"].split(SHARD_MARK, 1)[0], {})
            for name, value in _numbers(item).items():
                counts[name] = counts.get(name, 0) + value
        start = page.get("LastEvaluatedKey")
        if not start:
            return sorted(found.items())


def read_one(scope: str, slot: str) -> dict[str, int]:
    return dict(read(scope, slot, slot)).get(slot, {})


def _numbers(item: Mapping[str, Any]) -> dict[str, int]:
    return {name: int(Decimal(value["N"])) for name, value in item.items() if "N" in value}


REPORT_MODELS: list[type[Model]] = [ReportCounter]
