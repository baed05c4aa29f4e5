"""What a criteria's outcome depends on, so the segment engine re-evaluates only what can change.

An incoming event of type T only affects segments whose criteria name T; a field change only
those naming the field; and only `time_relative` criteria need a periodic sweep.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.criteria.fields import DATES
from chalicelib.criteria.values import is_duration_text


@dataclass(frozen=True)
class Dependencies:
    """fields: contact field paths tested (an event's `where` properties are not contact
    fields and are covered by event_types); time_relative: the outcome can change with the
    mere passage of time (an event `within`, or before/after against a duration)."""

    fields: frozenset[str]
    event_types: frozenset[str]
    lists: frozenset[str]
    segments: frozenset[str]
    time_relative: bool


def dependencies(criteria: Mapping[str, Any]) -> Dependencies:
    """The fields, event types, lists and segments `criteria` reads, and whether time alone can
    change its outcome. Tolerates malformed nodes (they contribute nothing)."""
    found = _Found()
    _walk(criteria, found, in_where=False)
    return Dependencies(frozenset(found.fields), frozenset(found.event_types),
                        frozenset(found.lists), frozenset(found.segments), found.time_relative)


class _Found:
    def __init__(self) -> None:
        self.fields: set[str] = set()
        self.event_types: set[str] = set()
        self.lists: set[str] = set()
        self.segments: set[str] = set()
        self.time_relative = False


def _walk(node: Any, found: _Found, *, in_where: bool) -> None:
    if not isinstance(node, Mapping):
        return
    for kind in ("all", "any"):
        children = node.get(kind)
        if isinstance(children, list):
            for child in children:
                _walk(child, found, in_where=in_where)
    if "not" in node:
        _walk(node["not"], found, in_where=in_where)
    name = node.get("field")
    if isinstance(name, str):
        if not in_where:
            found.fields.add(name)
        if node.get("op") in DATES and is_duration_text(node.get("value")):
            found.time_relative = True
    event_type = node.get("event")
    if isinstance(event_type, str):
        found.event_types.add(event_type)
        if node.get("within"):
            found.time_relative = True
        _walk(node.get("where"), found, in_where=True)
    if isinstance(node.get("in_list"), str):
        found.lists.add(node["in_list"])
    if isinstance(node.get("in_segment"), str):
        found.segments.add(node["in_segment"])


def requirements(criteria: Mapping[str, Any]) -> frozenset[str] | None:
    """What a contact must have to match `criteria`: at least one of the returned facts
    ("event:TYPE": an event of that type, "list:ID": in the list, "segment:ID": in the segment);
    None when criteria can match a contact that has none of them (fields alone, a negation,
    a count that zero events meet). An empty set: nothing can match. Conservative: a node this
    cannot bound is None, never a set too narrow, so a segment indexed under these facts is
    always a candidate when a contact can be in it."""
    return _needs(criteria)


def _needs(node: Any) -> frozenset[str] | None:
    if not isinstance(node, Mapping) or not node:
        return None
    if "all" in node:
        children = node["all"] if isinstance(node["all"], list) else []
        bounded = [found for found in map(_needs, children) if found is not None]
        # every child must hold, so any one child's facts bound the whole: the fewest is the tightest
        return min(bounded, key=len) if bounded else None
    if "any" in node:
        children = node["any"] if isinstance(node["any"], list) else []
        union: set[str] = set()
        for found in map(_needs, children):
            if found is None:
                return None
            union |= found
        return frozenset(union)
    if "not" in node or "field" in node:
        return None
    if isinstance(node.get("event"), str):
        count = node.get("count") or {"gte": 1}
        return None if _zero_counts(count) else frozenset({f"event:{node['event']}"})
    if isinstance(node.get("in_list"), str):
        return frozenset({f"list:{node['in_list']}"})
    if isinstance(node.get("in_segment"), str):
        return frozenset({f"segment:{node['in_segment']}"})
    return None


def _zero_counts(count: Any) -> bool:
    """Whether a contact with no such event meets the `count` bounds (unreadable bounds: yes)."""
    if not isinstance(count, Mapping):
        return True
    tests = {"gte": lambda bound: 0 >= bound, "gt": lambda bound: 0 > bound, "lte": lambda bound: 0 <= bound,
             "lt": lambda bound: 0 < bound, "eq": lambda bound: bound == 0}
    for op, bound in count.items():
        if op not in tests or isinstance(bound, bool) or not isinstance(bound, (int, float)):
            return True
        if not tests[op](bound):
            return False
    return True
