"""A picture of a scenario's flow: a Mermaid `flowchart TD` (GET /scenarios/{id}/diagram).

Nodes are named n0, n1, ... (never a step id: `end` or `graph` would break Mermaid) and every
label is quoted with Mermaid's entity codes for the characters that could end it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.vocabulary import TERMINAL_TYPES

_MAX_TEXT = 60
# Characters that would end or confuse a quoted Mermaid label: written as #code; entities.
_SPECIAL = set('"#%&<>|`;\\')

# Node shapes by step type: (open, close).
_SHAPES: dict[str, tuple[str, str]] = {
    "if": ("{", "}"),
    "split": ("{", "}"),
    "wait": ("[/", "/]"),
    "wait_for": ("{{", "}}"),
    "exit": ("[[", "]]"),
    "delete_contact": ("[[", "]]"),
}


def escape(text: str) -> str:
    """Text made safe inside a quoted Mermaid label (entity codes, one line)."""
    out = []
    for char in text:
        if char in "\r\n\t":
            out.append(" ")
        elif char in _SPECIAL or ord(char) < 32 or ord(char) == 127:
            out.append(f"#{ord(char)};")
        else:
            out.append(char)
    return "".join(out)


def _short(value: Any) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _label(*lines: str) -> str:
    return '"' + "<br/>".join(escape(_short(line)) for line in lines if line) + '"'


def mermaid(definition: dict[str, Any], counts: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """The flowchart of a (valid) scenario definition, as Mermaid source text. With `counts`
    (a report's steps by id: `reached`, `branches`), each step says how many contacts reached
    it and each branch how many took it."""
    return _Diagram(counts).render(definition)


class _Diagram:
    def __init__(self, counts: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.counts = counts
        self.nodes: list[str] = []
        self.names: dict[int, str] = {}  # id() of a step dict -> node name, in document order
        self.edges: list[tuple[int, int, str]] = []  # (source order, sequence, line)
        self.end_used = False

    def node(self, shape: tuple[str, str], label: str, step: dict[str, Any] | None = None) -> str:
        name = f"n{len(self.nodes)}"
        self.nodes.append(f"    {name}{shape[0]}{label}{shape[1]}")
        if step is not None:
            self.names[id(step)] = name
        return name

    def declare(self, steps: Any) -> None:
        """Name and draw every step node, in document order (Mermaid lays them out so)."""
        for step in _list(steps):
            if not isinstance(step, dict):
                continue
            kind = str(step.get("type", "?"))
            lines = [str(step.get("id", "?")), _step_text(step)]
            if self.counts is not None:
                lines.append(f"{(self.counts.get(str(step.get('id'))) or {}).get('reached', 0)} reached")
            self.node(_SHAPES.get(kind, ("[", "]")), _label(*lines), step)
            for key in ("then", "else"):
                self.declare(step.get(key))
            for branch in _list(step.get("branches")):
                if isinstance(branch, dict):
                    self.declare(branch.get("steps"))

    def edge(self, source: str, target: str, label: str | None = None) -> None:
        if target == "n_end":
            self.end_used = True
        arrow = f"-->|{_label(label)}|" if label else "-->"
        self.edges.append((int(source[1:]), len(self.edges), f"    {source} {arrow} {target}"))

    def render(self, definition: dict[str, Any]) -> str:
        trigger = self.node(("([", "])"), _label(*_trigger_text(definition.get("trigger"))))
        steps = _list(definition.get("steps"))
        self.declare(steps)
        self.edge(trigger, self.steps(steps, "n_end"))
        lines = ["flowchart TD", *self.nodes]
        if self.end_used:
            lines.append('    n_end(["end"])')
        lines += [line for _, _, line in sorted(self.edges)]
        return "\n".join(lines) + "\n"

    def steps(self, steps: list[Any], follow: str) -> str:
        """Draw a list of steps continuing at node `follow`; answer its first node."""
        for step in reversed(_list(steps)):
            if isinstance(step, dict):
                follow = self.step(step, follow)
        return follow

    def taken(self, step: dict[str, Any], branch: str, label: str) -> str:
        """A branch's label, with how many took it when counts are drawn."""
        if self.counts is None:
            return label
        branches = (self.counts.get(str(step.get("id"))) or {}).get("branches") or {}
        return f"{label}: {branches.get(branch, 0)}"

    def step(self, step: dict[str, Any], follow: str) -> str:
        kind = str(step.get("type", "?"))
        name = self.names[id(step)]
        if kind == "if":
            self.edge(name, self.steps(_list(step.get("then")), follow), self.taken(step, "then", "then"))
            self.edge(name, self.steps(_list(step.get("else")), follow), self.taken(step, "else", "else"))
        elif kind == "wait_for":
            self.edge(name, self.steps(_list(step.get("then")), follow), self.taken(step, "then", "then"))
            self.edge(name, self.steps(_list(step.get("else")), follow), self.taken(step, "else", "timeout"))
        elif kind == "split":
            for index, branch in enumerate(_list(step.get("branches"))):
                if isinstance(branch, dict):
                    self.edge(name, self.steps(_list(branch.get("steps")), follow),
                              self.taken(step, str(index), f"{branch.get('weight')}%"))
        elif kind in TERMINAL_TYPES:
            self.edge(name, "n_end")
        else:
            self.edge(name, follow)
        return name


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _trigger_text(trigger: Any) -> list[str]:
    if not isinstance(trigger, dict):
        return ["trigger"]
    if "date" in trigger and isinstance(trigger["date"], dict):
        date = trigger["date"]
        when = f"on {date.get('field', '?')}"
        if date.get("at"):
            when += f" at {date['at']}"
        return ["trigger", when + (", every year" if date.get("annual") else "")]
    text = f"on event {trigger.get('event', '?')}"
    return ["trigger", text + (" (filtered)" if "where" in trigger else "")]


def _step_text(step: dict[str, Any]) -> str:
    kind = str(step.get("type", "?"))
    if kind in ("email", "sms"):
        if "template" in step:
            return f"{kind}: template {step['template']}"
        return f"{kind}: {step.get('subject') or step.get('text') or ''}"
    if kind == "wait":
        until = step.get("until")
        if isinstance(until, dict) and "time" in until:
            return f"wait until {until['time']}"
        if isinstance(until, dict):
            offset = f" {until['offset']}" if until.get("offset") else ""
            return f"wait until {until.get('date_field')}{offset}"
        return f"wait {step.get('duration')}"
    if kind == "wait_for":
        return f"wait for {step.get('event')} (at most {step.get('timeout')})"
    if kind == "if":
        return "if"
    if kind == "split":
        return "A/B split"
    if kind in ("add_to_list", "remove_from_list"):
        return f"{'add to' if kind == 'add_to_list' else 'remove from'} list {step.get('list')}"
    if kind == "score":
        points = step.get("points")
        return f"score {points:+d} points" if isinstance(points, int) else "score"
    if kind == "update_contact":
        fields = step.get("set")
        return "set " + ", ".join(map(str, fields)) if isinstance(fields, dict) else "update contact"
    if kind == "webhook":
        return f"webhook {step.get('url')}"
    if kind == "delete_contact":
        return "delete contact"
    return kind
