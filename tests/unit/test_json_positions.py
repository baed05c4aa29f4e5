"""cli/positions.py: the line of each JSON path in a file, as the command line shows problems."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.positions import join, line_of, lines
from examples import SCENARIO_DIR

TEXT = """{
  "id": "cart",
  "steps": [
    {"id": "w", "type": "wait",
     "duration": "P99Z"},
    {
      "id": "c", "type": "if",
      "then": [
        {"id": "x", "type": "exit", "note": "a \\"quoted\\" [text] {with} brackets"}
      ],
      "else": []
    }
  ],
  "entry": {"max_contacts": -1.5e3, "on": true, "off": null}
}
"""


def test_every_path_is_found_at_the_line_where_its_value_starts():
    found = lines(TEXT)
    assert found[""] == 1
    assert found["id"] == 2
    assert found["steps"] == 3
    assert found["steps[0]"] == 4 and found["steps[0].type"] == 4
    assert found["steps[0].duration"] == 5
    assert found["steps[1]"] == 6 and found["steps[1].id"] == 7
    assert found["steps[1].then[0].note"] == 9
    assert found["steps[1].else"] == 11
    assert found["entry.max_contacts"] == 14 and found["entry.off"] == 14


def test_an_absent_path_points_at_its_nearest_present_ancestor():
    found = lines(TEXT)
    assert line_of("steps[1].then[0].duration", found) == 9  # the step that lacks it
    assert line_of("steps[1].else[0]", found) == 11
    assert line_of("name", found) == 1  # the document
    assert line_of("steps[0].duration", found) == 5


@pytest.mark.parametrize("bad", ['{"a": 1,}', '{"a" 1}', "[1 2]", '{"a": tru}', "{} {}", ""])
def test_text_that_is_not_json_is_refused(bad):
    with pytest.raises(ValueError):
        lines(bad)


@pytest.mark.parametrize("path", sorted(SCENARIO_DIR.glob("*.json")), ids=lambda path: path.stem)
def test_each_reference_scenario_has_a_line_for_each_of_its_steps(path):
    text = path.read_text(encoding="utf-8")
    found = lines(text)
    for index, step in enumerate(json.loads(text)["steps"]):
        assert f'"{step["id"]}"' in text.splitlines()[found[f"steps[{index}].id"] - 1]


@settings(max_examples=200, derandomize=True, database=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                    | st.text(), lambda children: st.lists(children, max_size=3)
                    | st.dictionaries(st.text(alphabet="abc_", min_size=1, max_size=3), children, max_size=3),
                    max_leaves=15))
def test_indented_documents_put_each_key_at_the_line_json_dumps_wrote_it(value):
    text = json.dumps(value, indent=1)
    found = lines(text)
    rows = text.splitlines()
    assert found[""] == 1

    def walk(node, path):
        if isinstance(node, dict):
            for key, child in node.items():
                inner = join(path, key)
                assert f"{json.dumps(key)}: " in rows[found[inner] - 1], (inner, text)
                walk(child, inner)
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, join(path, index))

    walk(value, "")
