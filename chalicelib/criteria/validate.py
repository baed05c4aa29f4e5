"""Validating criteria: every problem at once, each located by its JSON path.

The API answers a 422 listing all problems so a marketer fixes a segment or a scenario in
one round trip; hence problems are collected, never raised.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from chalicelib import durations
from chalicelib.criteria.fields import (
    CONTAINMENT,
    COUNT_KEYS,
    DATES,
    MEMBERSHIP,
    NO_VALUE,
    OPERATOR_ORDER,
    OPERATORS,
    ORDERING,
    TEXT,
    field_problem,
)
from chalicelib.criteria.values import is_duration_text, is_number, to_decimal, to_moment
from chalicelib.problems import Problem, join
from chalicelib.vocabulary import EVENT_TYPE_RULE, is_event_type

Scope = Literal["contact", "properties"]

KINDS: tuple[str, ...] = ("all", "any", "not", "field", "event", "in_list", "in_segment")
_KEYS: dict[str, tuple[str, ...]] = {
    "all": ("all",), "any": ("any",), "not": ("not",), "field": ("field", "op", "value"),
    "event": ("event", "where", "within", "count"), "in_list": ("in_list",),
    "in_segment": ("in_segment",),
}
# Deep enough for any hand-written or UI-built criteria; stops a recursion bomb.
MAX_DEPTH = 32

_EXAMPLE = '{"field": "email", "op": "exists"}'
_DATE_HINT = "an ISO date-time (2026-01-31T09:00:00Z), a date (2026-01-31) or a duration relative to now (-P30D)"


def validate(criteria: Any, path: str = "", *, scope: Scope = "contact") -> list[Problem]:
    """Every problem of `criteria`, paths built from `path` (e.g. "steps[2].condition").

    scope "contact": contact fields (built-ins, attributes.NAME), events, lists, segments.
    scope "properties": only properties.NAME fields (trigger filters, goals, an event's
    `where`). An empty object is refused: callers omit an optional filter rather than send {}.
    """
    if scope not in ("contact", "properties"):
        raise ValueError(f"unknown scope {scope!r}")
    problems: list[Problem] = []
    _node(criteria, path, scope, 0, problems)
    return problems


def _node(node: Any, path: str, scope: Scope, depth: int, problems: list[Problem]) -> None:
    if depth > MAX_DEPTH:
        problems.append(Problem(path, f"criteria are nested more than {MAX_DEPTH} levels deep"))
        return
    if not isinstance(node, Mapping):
        problems.append(Problem(path, f"criteria must be an object such as {_EXAMPLE}"))
        return
    kinds = [kind for kind in KINDS if kind in node]
    if len(kinds) != 1:
        found = f"found {', '.join(kinds)}" if kinds else (
            f"found keys {', '.join(map(repr, node))}" if node else "the object is empty")
        problems.append(Problem(path, f"criteria must have exactly one of {', '.join(KINDS)}; {found}"))
        return
    kind = kinds[0]
    for key in node:
        if key not in _KEYS[kind]:
            problems.append(Problem(join(path, str(key)), f"unknown key {key!r} in a {kind} condition; "
                                    f"expected {', '.join(_KEYS[kind])}"))
    if kind in ("all", "any"):
        _group(node[kind], join(path, kind), kind, scope, depth, problems)
    elif kind == "not":
        _node(node["not"], join(path, "not"), scope, depth + 1, problems)
    elif kind == "field":
        _field(node, path, scope, problems)
    elif scope == "properties":
        problems.append(Problem(join(path, kind), f"{kind} conditions are not allowed here: "
                                "only properties.NAME fields can be tested"))
    elif kind == "event":
        _event(node, path, depth, problems)
    else:
        _identifier(node[kind], join(path, kind), kind, problems)


def _group(children: Any, path: str, kind: str, scope: Scope, depth: int, problems: list[Problem]) -> None:
    if not isinstance(children, list) or not children:
        problems.append(Problem(path, f"{kind} must be a non-empty list of criteria"))
        return
    for index, child in enumerate(children):
        _node(child, join(path, index), scope, depth + 1, problems)


def _identifier(value: Any, path: str, kind: str, problems: list[Problem]) -> None:
    if not isinstance(value, str) or not value.strip():
        problems.append(Problem(path, f"{kind} must be a non-empty id string"))


def _field(node: Mapping[str, Any], path: str, scope: Scope, problems: list[Problem]) -> None:
    message = field_problem(node["field"], scope)
    if message:
        problems.append(Problem(join(path, "field"), message))
    op = node.get("op")
    if not isinstance(op, str) or op not in OPERATORS:
        shown = "op is required" if op is None else f"unknown operator {op!r}"
        problems.append(Problem(join(path, "op"), f"{shown}; expected one of {', '.join(OPERATOR_ORDER)}"))
        return
    where = join(path, "value")
    value = node.get("value")
    if op in NO_VALUE:
        if value is not None:
            problems.append(Problem(where, f"{op} takes no value"))
        return
    if "value" not in node:
        problems.append(Problem(where, f"value is required for {op}"))
    elif value is None:
        problems.append(Problem(where, "value must not be null; use exists or not_exists "
                                "to test whether a field is set"))
    else:
        message = _value_problem(op, value)
        if message:
            problems.append(Problem(where, message))
        elif op in MEMBERSHIP:
            for index, item in enumerate(value):
                if not _scalar(item):
                    problems.append(Problem(join(where, index), "must be a string, number or boolean"))


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, bool)) or is_number(value)


def _value_problem(op: str, value: Any) -> str | None:
    """Why `value` cannot be the operand of `op`, or None when it can."""
    if op in MEMBERSHIP:
        return None if isinstance(value, list) else f"value must be a list for {op}"
    if op in TEXT:
        return None if isinstance(value, str) else f"value must be a string for {op}"
    if op in CONTAINMENT:
        return None if _scalar(value) else f"value must be a string, number or boolean for {op}"
    if op in ORDERING:
        if is_number(value) or (isinstance(value, str) and (to_decimal(value) is not None
                                                           or to_moment(value) is not None)):
            return None
        hint = "; use before/after for dates relative to now" if is_duration_text(value) else ""
        return f"value must be a number or an ISO date/date-time for {op}{hint}"
    if op in DATES:
        if isinstance(value, str) and (_is_duration(value) or to_moment(value) is not None):
            return None
        return f"value must be {_DATE_HINT}"
    # eq / ne
    return None if _scalar(value) or isinstance(value, list) else \
        f"value must be a string, number, boolean or list for {op}"


def _is_duration(text: str) -> bool:
    if not is_duration_text(text):
        return False
    try:
        durations.parse(text.strip())
    except durations.DurationError:
        return False
    return True


def _event(node: Mapping[str, Any], path: str, depth: int, problems: list[Problem]) -> None:
    event_type = node["event"]
    if not is_event_type(event_type):
        problems.append(Problem(join(path, "event"), f"event must be an event type such as 'purchase' "
                                f"({EVENT_TYPE_RULE})"))
    where = node.get("where")
    if where is not None and not (isinstance(where, Mapping) and not where):
        _node(where, join(path, "where"), "properties", depth + 1, problems)
    within = node.get("within")
    if within is not None and not _positive_duration(within):
        problems.append(Problem(join(path, "within"), "within must be a positive ISO duration such as P30D or P6M"))
    count = node.get("count")
    if count is not None:
        _count(count, join(path, "count"), problems)


def _positive_duration(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return durations.seconds(value) > 0
    except durations.DurationError:
        return False


def _count(count: Any, path: str, problems: list[Problem]) -> None:
    if not isinstance(count, Mapping) or not count:
        problems.append(Problem(path, f"count must be an object with one or more of {', '.join(COUNT_KEYS)}, "
                                'such as {"gte": 1}'))
        return
    for key, bound in count.items():
        if key not in COUNT_KEYS:
            problems.append(Problem(join(path, str(key)), f"unknown count bound {key!r}; expected one of "
                                    f"{', '.join(COUNT_KEYS)}"))
        elif not _count_bound(bound):
            problems.append(Problem(join(path, key), "must be a non-negative integer"))


def _count_bound(bound: Any) -> bool:
    """A non-negative integer; an integral Decimal counts (criteria read back from DynamoDB)."""
    if isinstance(bound, bool) or not is_number(bound) or isinstance(bound, float):
        return False
    return bool(bound >= 0 and bound == int(bound))
