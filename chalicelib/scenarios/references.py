"""What a scenario names outside itself: templates, lists and segments, each with its JSON path;
and its steps, each with its path. Plain Python: the service checks the names exist.

Walks a definition that passed `schema.validate`, and tolerates one that did not (a malformed
node names nothing).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.problems import join


@dataclass(frozen=True)
class Reference:
    path: str  # where the id is written, e.g. steps[2].then[0].template
    kind: str  # template, list or segment
    id: str
    channel: str | None = None  # a template's: the channel of the step that sends it


def steps(definition: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every step of the scenario, nested ones included, with its path, in document order."""
    yield from _steps(definition.get("steps"), "steps")


def _steps(value: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if not isinstance(value, list):
        return
    for index, step in enumerate(value):
        if not isinstance(step, Mapping):
            continue
        where = join(path, index)
        yield where, step
        for key in ("then", "else"):
            yield from _steps(step.get(key), join(where, key))
        branches = step.get("branches")
        if isinstance(branches, list):
            for number, branch in enumerate(branches):
                if isinstance(branch, Mapping):
                    yield from _steps(branch.get("steps"), join(join(join(where, "branches"), number), "steps"))


def references(definition: Mapping[str, Any]) -> list[Reference]:
    """Every template, list and segment id the scenario names, in document order."""
    found: list[Reference] = []
    trigger = definition.get("trigger")
    if isinstance(trigger, Mapping):
        _criteria(trigger.get("where"), "trigger.where", found)
    goals = definition.get("goals")
    if isinstance(goals, list):
        for index, goal in enumerate(goals):
            if isinstance(goal, Mapping):
                _criteria(goal.get("where"), join(join("goals", index), "where"), found)
    _criteria(definition.get("exit_when"), "exit_when", found)
    for path, step in steps(definition):
        kind = step.get("type")
        if kind in ("email", "sms") and isinstance(step.get("template"), str):
            found.append(Reference(join(path, "template"), "template", step["template"], str(kind)))
        elif kind in ("add_to_list", "remove_from_list") and isinstance(step.get("list"), str):
            found.append(Reference(join(path, "list"), "list", step["list"]))
        elif kind == "if":
            _criteria(step.get("condition"), join(path, "condition"), found)
        elif kind == "wait_for":
            _criteria(step.get("where"), join(path, "where"), found)
    return found


def _criteria(node: Any, path: str, found: list[Reference]) -> None:
    if not isinstance(node, Mapping):
        return
    for kind in ("all", "any"):
        children = node.get(kind)
        if isinstance(children, list):
            for index, child in enumerate(children):
                _criteria(child, join(join(path, kind), index), found)
    if "not" in node:
        _criteria(node["not"], join(path, "not"), found)
    if isinstance(node.get("event"), str):
        _criteria(node.get("where"), join(path, "where"), found)
    if isinstance(node.get("in_list"), str):
        found.append(Reference(join(path, "in_list"), "list", node["in_list"]))
    if isinstance(node.get("in_segment"), str):
        found.append(Reference(join(path, "in_segment"), "segment", node["in_segment"]))
