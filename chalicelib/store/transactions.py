"""The one write transaction of the app: all items or none, failures named by label.

    write = Transaction()
    write.put("contact", contact, condition=Contact.id.does_not_exist())
    write.put("key", ContactKey(...), condition=ContactKey.key.does_not_exist())
    failed = write.commit()   # [] | ["key"] | ["#conflict"] ...
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.config import settings

CONFLICT = "#conflict"  # a concurrent transaction touched one of the items: retry


class Transaction:
    """A TransactWriteItems whose failed items can be named (PynamoDB sends checks, deletes,
    puts and updates in that order, whatever order they were added in)."""

    def __init__(self) -> None:
        self._ops: dict[str, list[tuple[str, Any, dict]]] = {"check": [], "delete": [], "put": [], "update": []}

    def check(self, label: str, model: Model, condition: Any) -> None:
        self._ops["check"].append((label, model, {"condition": condition}))

    def delete(self, label: str, model: Model, condition: Any = None, *, versioned: bool = True) -> None:
        self._ops["delete"].append((label, model, {"condition": condition, "add_version_condition": versioned}))

    def put(self, label: str, model: Model, condition: Any = None) -> None:
        self._ops["put"].append((label, model, {"condition": condition}))

    def update(self, label: str, model: Model, actions: list, condition: Any = None, *,
               versioned: bool = True) -> None:
        self._ops["update"].append((label, model, {"actions": actions, "condition": condition,
                                                   "add_version_condition": versioned}))

    def commit(self) -> list[str]:
        """Write all or nothing; [] on success, else the labels of the items whose condition
        failed (["#conflict"] for a transaction conflict: the caller may retry)."""
        labels: list[str] = []
        try:
            with TransactWrite(connection=_connection()) as write:
                for label, model, kwargs in self._ops["check"]:
                    write.condition_check(type(model), _hash(model), _range(model), **kwargs)
                    labels.append(label)
                for label, model, kwargs in self._ops["delete"]:
                    write.delete(model, **kwargs)
                    labels.append(label)
                for label, model, kwargs in self._ops["put"]:
                    write.save(model, **kwargs)
                    labels.append(label)
                for label, model, kwargs in self._ops["update"]:
                    write.update(model, **kwargs)
                    labels.append(label)
        except TransactWriteError as error:
            reasons = getattr(error, "cancellation_reasons", None) or []
            failed = [labels[index] for index, reason in enumerate(reasons)
                      if reason is not None and getattr(reason, "code", None) == "ConditionalCheckFailed"
                      and index < len(labels)]
            if failed:
                return failed
            if any(reason is not None and getattr(reason, "code", None) == "TransactionConflict"
                   for reason in reasons) or "TransactionConflict" in str(getattr(error, "cause", error)):
                return [CONFLICT]
            raise
        return []


@lru_cache(maxsize=1)
def _connection() -> Connection:
    """One connection (one botocore client, thread-safe) for every transaction: creating a
    client costs far more than the transaction itself."""
    return Connection(region=settings().region)


def _hash(model: Model) -> Any:
    return getattr(model, str(type(model)._hash_keyname))


def _range(model: Model) -> Any:
    name = type(model)._range_keyname
    return getattr(model, name) if name else None
