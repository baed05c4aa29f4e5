"""Mermaid flowcharts of scenarios."""
from __future__ import annotations

import json
import re

import pytest

from chalicelib.scenarios.diagram import escape, mermaid
from examples import scenario_paths

SCENARIOS = scenario_paths()

# A node line: name, opening shape, one quoted label without a raw quote, closing shape.
NODE = re.compile(r'^    (n\d+|n_end)(\(\[|\[\[|\[/|\{\{|\{|\[)"([^"]*)"(\]\)|\]\]|/\]|\}\}|\}|\])$')
EDGE = re.compile(r'^    (n\d+) -->(?:\|"([^"]*)"\|)? (n\d+|n_end)$')


def parse(text: str) -> tuple[dict[str, str], list[tuple[str, str | None, str]]]:
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str | None, str]] = []
    for line in lines[1:]:
        if node := NODE.match(line):
            nodes[node.group(1)] = node.group(3)
        elif edge := EDGE.match(line):
            edges.append((edge.group(1), edge.group(2), edge.group(3)))
        else:
            raise AssertionError(f"unexpected line {line!r}")
    for source, _, target in edges:
        assert source in nodes and target in nodes
    return nodes, edges


def by_step(nodes: dict[str, str]) -> dict[str, str]:
    """step id (first label line) -> node name."""
    return {label.split("<br/>")[0]: name for name, label in nodes.items()}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_reference_scenarios(path):
    definition = json.loads(path.read_text())
    text = mermaid(definition)
    nodes, edges = parse(text)
    names = by_step(nodes)
    assert nodes["n0"].startswith("trigger<br/>")
    assert "n_end" in nodes

    def ids(steps):
        for step in steps:
            yield step["id"]
            for key in ("then", "else"):
                yield from ids(step.get(key, []))
            for branch in step.get("branches", []):
                yield from ids(branch["steps"])

    step_ids = list(ids(definition["steps"]))
    assert [label.split("<br/>")[0] for name, label in nodes.items() if name not in ("n0", "n_end")] == step_ids
    assert ("n0", None, names[definition["steps"][0]["id"]]) in edges


def test_abandoned_cart_edges():
    definition = json.loads(next(p for p in SCENARIOS if p.stem == "abandoned-cart").read_text())
    nodes, edges = parse(mermaid(definition))
    n = by_step(nodes)
    assert nodes[n["wait-purchase"]] == "wait-purchase<br/>wait for purchase (at most PT1H)"
    assert nodes[n["why"]] == "why<br/>email: Un souci avec votre panier ?"
    assert set(edges) == {
        ("n0", None, n["wait-purchase"]),
        (n["wait-purchase"], "then", n["bought"]),
        (n["wait-purchase"], "timeout", n["why"]),
        (n["bought"], None, "n_end"),
        (n["why"], None, n["wait-answer"]),
        (n["wait-answer"], None, n["shipping-answer"]),
        (n["shipping-answer"], "then", n["free-shipping"]),
        (n["shipping-answer"], "else", n["similar"]),
        (n["free-shipping"], None, "n_end"),
        (n["similar"], None, "n_end"),
    }


def test_split_edges_carry_weights_and_branches_rejoin():
    text = mermaid({"id": "s", "name": "S", "trigger": {"date": {"field": "birthday", "annual": True, "at": "09:00"}},
                    "steps": [
                        {"id": "ab", "type": "split", "branches": [
                            {"weight": 30, "steps": [{"id": "a", "type": "score", "points": 3}]},
                            {"weight": 70, "steps": [{"id": "b", "type": "add_to_list", "list": "l"}]}]},
                        {"id": "w", "type": "wait", "until": {"date_field": "birthday", "offset": "-P2D"}},
                        {"id": "c", "type": "if", "condition": {"field": "score", "op": "gt", "value": 1},
                         "then": [{"id": "u", "type": "update_contact", "set": {"stage": "lead"}}]},
                    ]})
    nodes, edges = parse(text)
    n = by_step(nodes)
    assert nodes["n0"] == "trigger<br/>on birthday at 09:00, every year"
    assert nodes[n["a"]] == "a<br/>score +3 points"
    assert nodes[n["w"]] == "w<br/>wait until birthday -P2D"
    assert (n["ab"], "30#37;", n["a"]) in edges
    assert (n["ab"], "70#37;", n["b"]) in edges
    assert (n["a"], None, n["w"]) in edges and (n["b"], None, n["w"]) in edges
    assert (n["c"], "then", n["u"]) in edges
    assert (n["c"], "else", "n_end") in edges
    assert (n["u"], None, "n_end") in edges
    assert text.count("n_end([") == 1


def test_labels_are_escaped():
    subject = 'Say "hi" <b>#1</b> | a;b & `c`\nnext line'
    text = mermaid({"id": "x", "name": "X", "trigger": {"event": "signup"},
                    "steps": [{"id": "end", "type": "email", "subject": subject, "text": "t"},
                              {"id": "graph", "type": "exit"}]})
    nodes, _ = parse(text)
    label = nodes["n1"]
    assert label == ("end<br/>email: Say #34;hi#34; #60;b#62;#35;1#60;/b#62; #124; a#59;b #38; #96;c#96; "
                     "next line")
    assert "end" not in re.findall(r"^\s+(\w+)", text, re.M)  # step ids are never node names


def test_escape():
    assert escape('a"b') == "a#34;b"
    assert escape("<br/>") == "#60;br/#62;"
    assert escape("café (x) [y]") == "café (x) [y]"


def test_long_labels_are_shortened():
    nodes, _ = parse(mermaid({"trigger": {"event": "signup"}, "steps": [
        {"id": "e", "type": "sms", "text": "x" * 500}]}))
    assert len(nodes["n1"]) < 80
    assert nodes["n1"].endswith("…")


def test_counts_show_who_reached_each_step_and_took_each_branch():
    definition = {"id": "s", "name": "S", "trigger": {"event": "signup"}, "steps": [
        {"id": "ab", "type": "split", "branches": [{"weight": 30, "steps": [{"id": "a", "type": "exit"}]},
                                                   {"weight": 70, "steps": []}]},
        {"id": "c", "type": "wait_for", "event": "purchase", "timeout": "P1D", "then": [], "else": []}]}
    counts = {"ab": {"reached": 10, "branches": {"0": 3, "1": 7}}, "a": {"reached": 3},
              "c": {"reached": 7, "branches": {"then": 2}}}
    nodes, edges = parse(mermaid(definition, counts))
    n = by_step(nodes)
    assert nodes[n["ab"]] == "ab<br/>A/B split<br/>10 reached" and nodes[n["a"]].endswith("<br/>3 reached")
    assert (n["ab"], "30#37;: 3", n["a"]) in edges and (n["ab"], "70#37;: 7", n["c"]) in edges
    assert (n["c"], "then: 2", "n_end") in edges and (n["c"], "timeout: 0", "n_end") in edges
    assert "reached" not in mermaid(definition)
