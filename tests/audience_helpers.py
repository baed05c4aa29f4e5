"""Helpers for the audience tests (lists, segments, scoring, activity, imports, GDPR)."""
from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import eventually

SCHEDULED_EVENT = {"version": "0", "account": "123456789012", "region": "eu-west-3", "detail": {},
                   "detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-01-01T00:00:00Z",
                   "id": "scheduled", "resources": []}


@pytest.fixture(autouse=True)
def fast_transactions(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto snapshots every table a transaction touches (a deep copy, once per item) to roll
    back: each transaction costs as much as the tables are large. Check every condition
    first, then write, restoring only the touched items if a write fails: same outcome.
    (To move into chalicelib/local/stack.py, next to _serialize_dynamodb.)"""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
    )
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend.transact_write_items, "fast", False):
        return

    def transact_write_items(self, transact_items):  # noqa: ANN001, ANN202
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        seen, planned, errors, failed = set(), [], [], False
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = self.get_table(op["TableName"])
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            unique = (op["TableName"], str(sorted(key.items())))
            if unique in seen:
                raise MultipleTransactionsException()
            seen.add(unique)
            current = self.get_item(op["TableName"], key)
            condition = op.get("ConditionExpression")
            if condition is not None and not get_filter_expression(
                    condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")).expr(current):
                item = current.to_json()["Attributes"] if current is not None and op.get(
                    "ReturnValuesOnConditionCheckFailure") == "ALL_OLD" else None
                errors.append(("ConditionalCheckFailed", "The conditional request failed", item))
                failed = True
                continue
            errors.append((None, None, None))
            planned.append((op_type, op, key, None if current is None else current.to_json()["Attributes"]))
        if failed:
            raise TransactionCanceledException(errors)
        done = []
        try:
            for op_type, op, key, before in planned:
                names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    self.put_item(op["TableName"], op["Item"])
                elif op_type == "Delete":
                    self.delete_item(op["TableName"], key)
                elif op_type == "Update":
                    self.update_item(op["TableName"], key, update_expression=op["UpdateExpression"],
                                     expression_attribute_names=names, expression_attribute_values=values)
                done.append((op["TableName"], key, before))
        except Exception:
            for table_name, key, before in reversed(done):
                if before is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, before)
            raise

    transact_write_items.fast = True
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", transact_write_items)


def run_schedule(name: str) -> Any:
    """Run one of app.py's scheduled handlers as EventBridge would."""
    import app as app_module

    return getattr(app_module, name)(SCHEDULED_EVENT, None)


def post(api: Any, event_type: str, email: str, **fields: Any) -> None:
    response = api.post("/events", {"type": event_type, "contact": {"email": email}, **fields})
    assert response.status_code == 202, response.data
    assert response.data["accepted"] + response.data["duplicates"] == 1, response.data


def contact(api: Any, email: str) -> dict:
    return eventually(lambda: (api.get(f"/contacts?email={email}").data["items"] or [None])[0])


def events_of(api: Any, contact_id: str, event_type: str | None = None) -> list[dict]:
    path = f"/contacts/{contact_id}/events?limit=500" + (f"&type={event_type}" if event_type else "")
    return api.get(path).data["items"]


def wait_event(api: Any, contact_id: str, event_type: str, **properties: Any) -> dict:
    """The contact's latest event of that type whose properties include `properties`."""
    def check() -> dict | None:
        for event in events_of(api, contact_id, event_type):
            if all(event["properties"].get(key) == value for key, value in properties.items()):
                return event
        return None

    return eventually(check, timeout=30)


def segment_ready(api: Any, segment_id: str) -> dict:
    return eventually(lambda: (lambda body: body if body["status"] == "ready" else None)(
        api.get(f"/segments/{segment_id}").data), timeout=30)


def member_ids(api: Any, segment_id: str) -> set[str]:
    return {item["id"] for item in api.get(f"/segments/{segment_id}/contacts?limit=500").data["items"]}


def error_paths(response: Any) -> list[str]:
    return [detail["path"] for detail in response.data["error"].get("details", [])]
