"""Where a JSON path (`steps[2].then[0].duration`, as the API reports problems) sits in a file's text.

A small JSON reader that notes the line of every value it reads, by the path the API would give
it. A problem about something absent (`name is required`) points at the nearest thing present:
the object that lacks it.
"""
from __future__ import annotations

import re
from json.decoder import scanstring  # type: ignore[attr-defined]  # the C reader of JSON strings, untyped

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_LITERALS = ("true", "false", "null")


def join(path: str, key: str | int) -> str:
    """The API's way of extending a path (chalicelib.problems.join), which the reader follows."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def lines(text: str) -> dict[str, int]:
    """Every path of the JSON document `text`, with the line (from 1) where its value starts.
    The document itself is the path "". Raises ValueError on text that is not JSON."""
    found: dict[str, int] = {}
    end = _value(text, _skip(text, 0), "", found)
    if _skip(text, end) != len(text):
        raise ValueError(f"extra data after the document, line {_line(text, end)}")
    return found


def line_of(path: str, positions: dict[str, int]) -> int | None:
    """The line of `path`, or of its nearest ancestor present in the file."""
    while True:
        if path in positions:
            return positions[path]
        if not path:
            return None
        path = _parent(path)


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _skip(text: str, offset: int) -> int:
    match = _WHITESPACE.match(text, offset)
    return match.end() if match else offset


def _value(text: str, offset: int, path: str, found: dict[str, int]) -> int:
    found[path] = _line(text, offset)
    char = text[offset:offset + 1]
    if char == "{":
        return _object(text, offset + 1, path, found)
    if char == "[":
        return _array(text, offset + 1, path, found)
    if char == '"':
        return scanstring(text, offset + 1)[1]
    for literal in _LITERALS:
        if text.startswith(literal, offset):
            return offset + len(literal)
    number = _NUMBER.match(text, offset)
    if number and number.end() > offset:
        return number.end()
    raise ValueError(f"not JSON at line {_line(text, offset)}")


def _object(text: str, offset: int, path: str, found: dict[str, int]) -> int:
    offset = _skip(text, offset)
    if text.startswith("}", offset):
        return offset + 1
    while True:
        if not text.startswith('"', offset):
            raise ValueError(f"expected a key at line {_line(text, offset)}")
        key, offset = scanstring(text, offset + 1)
        offset = _skip(text, offset)
        if not text.startswith(":", offset):
            raise ValueError(f"expected ':' at line {_line(text, offset)}")
        offset = _skip(text, _value(text, _skip(text, offset + 1), join(path, key), found))
        if text.startswith("}", offset):
            return offset + 1
        if not text.startswith(",", offset):
            raise ValueError(f"expected ',' or '}}' at line {_line(text, offset)}")
        offset = _skip(text, offset + 1)


def _array(text: str, offset: int, path: str, found: dict[str, int]) -> int:
    offset = _skip(text, offset)
    if text.startswith("]", offset):
        return offset + 1
    index = 0
    while True:
        offset = _skip(text, _value(text, offset, join(path, index), found))
        index += 1
        if text.startswith("]", offset):
            return offset + 1
        if not text.startswith(",", offset):
            raise ValueError(f"expected ',' or ']' at line {_line(text, offset)}")
        offset = _skip(text, offset + 1)
