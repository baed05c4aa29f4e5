"""The vocabulary of criteria: which fields a condition may name and which operators exist.

Kept apart from validation and evaluation so the segment engine, the API and the docs can
list the same names without importing any logic.
"""
from __future__ import annotations

import re

from chalicelib.vocabulary import BUILTIN_FIELDS

# In the documented order, for error messages.
OPERATOR_ORDER: tuple[str, ...] = (
    "eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "not_contains",
    "starts_with", "not_starts_with", "ends_with", "not_ends_with", "exists", "not_exists",
    "before", "after",
)
OPERATORS: frozenset[str] = frozenset(OPERATOR_ORDER)

# The operators that are the negation of another: evaluated as `not positive`, which is what
# makes a missing field satisfy them (ne, not_in, ... are True when the field is missing).
NEGATIONS: dict[str, str] = {
    "ne": "eq", "not_in": "in", "not_contains": "contains", "not_starts_with": "starts_with",
    "not_ends_with": "ends_with", "not_exists": "exists",
}
NO_VALUE: frozenset[str] = frozenset({"exists", "not_exists"})
ORDERING: frozenset[str] = frozenset({"gt", "gte", "lt", "lte"})
DATES: frozenset[str] = frozenset({"before", "after"})
TEXT: frozenset[str] = frozenset({"starts_with", "not_starts_with", "ends_with", "not_ends_with"})
MEMBERSHIP: frozenset[str] = frozenset({"in", "not_in"})
CONTAINMENT: frozenset[str] = frozenset({"contains", "not_contains"})

# Fields compared case-insensitively: addresses are stored lowercased (contacts/fields.py),
# so a criterion typed as `Ana@Example.com` must still find the contact.
CASE_INSENSITIVE: frozenset[str] = frozenset({"email"})

COUNT_KEYS: tuple[str, ...] = ("gte", "gt", "lte", "lt", "eq")

# Contact attributes are flat identifiers (contacts/fields.py); event properties are free
# JSON, so any non-empty dotted path is accepted below `properties.`.
_ATTRIBUTE = re.compile(r"^attributes\.[A-Za-z_][A-Za-z0-9_]{0,63}$")
_PROPERTY = re.compile(r"^properties(?:\.[^.]+)+$")


def field_problem(name: object, scope: str) -> str | None:
    """Why `name` cannot be used as a field path in `scope`, or None when it can."""
    if not isinstance(name, str) or not name:
        return "field must be a non-empty string such as 'email' or 'attributes.plan'"
    if scope == "properties":
        if _PROPERTY.match(name):
            return None
        return (f"unknown field {name!r}; only properties.NAME (e.g. properties.amount) "
                "can be used here")
    if name in BUILTIN_FIELDS or _ATTRIBUTE.match(name):
        return None
    return (f"unknown field {name!r}; expected one of {', '.join(sorted(BUILTIN_FIELDS))} "
            "or attributes.NAME")
