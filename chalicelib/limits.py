"""What DynamoDB can store, checked before anything is written. Plain Python.

Every value a client sends ends up in a DynamoDB item (contacts, events, scenarios,
templates, segments, settings), and DynamoDB refuses, with an error the client never
caused knowingly, what lies outside its own limits:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
- numbers: at most 38 significant digits, magnitude from 1E-130 to below 1E+126; no NaN
  or Infinity;
- nesting: at most 32 levels of maps and lists;
- strings: UTF-8 (a lone surrogate such as "\\ud800" is not encodable), map keys included;
- an item: at most 400 KB.

`problems(value)` walks a decoded JSON value without recursion (a hostile body can be
nested thousands deep) and names each value DynamoDB would refuse by its JSON path.
"""
from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.problems import Problem, join

MAX_DEPTH = 32
MAX_DIGITS = 38
LARGEST = Decimal("9.9999999999999999999999999999999999999E+125")
SMALLEST = Decimal("1E-130")
MAX_ITEM_BYTES = 400 * 1024
# What one client-supplied part of an item may weigh: the rest of the item (ids, dates,
# counters, other parts) must still fit under MAX_ITEM_BYTES.
MAX_PART_BYTES = 64 * 1024
# A body's problems are listed up to this many: a hostile one can hold thousands.
MAX_PROBLEMS = 50


def number_problem(value: Any) -> str | None:
    """Why DynamoDB would refuse this number, or None when it stores it as given."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "numbers must be finite (NaN and Infinity cannot be stored)"
    if isinstance(value, int):
        # Every digit of an integer counts: boto3 (and PynamoDB) send it as written, and
        # 10**40 would need 41 digits of precision.
        if abs(value) >= 10 ** MAX_DIGITS:
            return f"numbers keep at most {MAX_DIGITS} significant digits"
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)
    except (InvalidOperation, ValueError):
        return "not a number that can be stored"
    if not number.is_finite():
        return "numbers must be finite (NaN and Infinity cannot be stored)"
    if number == 0:
        return None
    if len(number.as_tuple().digits) > MAX_DIGITS:
        return f"numbers keep at most {MAX_DIGITS} significant digits"
    if abs(number) > LARGEST:
        return "numbers must be below 1E+126 in magnitude"
    if abs(number) < SMALLEST:
        return "numbers must be 0 or at least 1E-130 in magnitude"
    return None


def text_problem(value: str) -> str | None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "text must be valid Unicode (a lone surrogate such as \\ud800 cannot be stored)"
    return None


def problems(value: Any, path: str = "", *, max_depth: int = MAX_DEPTH) -> list[Problem]:
    """Every place in `value` that DynamoDB could not store (see the module doc)."""
    found: list[Problem] = []
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack and len(found) < MAX_PROBLEMS:
        current, where, depth = stack.pop()
        if isinstance(current, (dict, list)) and depth >= max_depth:
            found.append(Problem(where, f"values may be nested at most {max_depth} levels deep"))
            continue
        if isinstance(current, dict):
            for key, item in current.items():
                if not isinstance(key, str):
                    found.append(Problem(where, "keys must be strings"))
                    continue
                message = text_problem(key)
                if message:
                    found.append(Problem(where, f"a key is not storable: {message}"))
                    continue
                stack.append((item, join(where, key), depth + 1))
        elif isinstance(current, list):
            stack.extend((item, join(where, index), depth + 1) for index, item in enumerate(current))
        elif isinstance(current, str):
            message = text_problem(current)
            if message:
                found.append(Problem(where, message))
        elif isinstance(current, (int, float, Decimal)):
            message = number_problem(current)
            if message:
                found.append(Problem(where, message))
    found.sort(key=lambda problem: problem.path)
    return found


def size(value: Any) -> int:
    """An upper estimate, in bytes, of what `value` weighs in a DynamoDB item (its JSON in UTF-8:
    DynamoDB counts names and UTF-8 strings alike, and a number never takes more than its digits)."""
    return len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"))


def size_problem(value: Any, path: str, limit: int = MAX_PART_BYTES) -> list[Problem]:
    """A problem when `value` would take more than `limit` bytes of its item."""
    weight = size(value)
    if weight > limit:
        return [Problem(path, f"this takes {weight} bytes; at most {limit} can be stored")]
    return []
