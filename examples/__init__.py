"""The project's own examples: the reference scenarios and the segments and lists they use.

Tests, the benchmark and the README read these files, so a clone needs nothing beside it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCENARIO_DIR = HERE / "scenarios"
SCENARIO_NAMES: tuple[str, ...] = (
    "welcome-series", "abandoned-cart", "lead-magnet", "loyal-customers", "zero-waste", "birthday")


def _read(kind: str, name: str) -> dict[str, Any]:
    path = HERE / kind / f"{name}.json"
    if not path.is_file():
        raise KeyError(f"no example {kind[:-1]} {name!r} in {HERE / kind}")
    found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return found


def scenario(name: str) -> dict[str, Any]:
    """A fresh copy of a reference scenario (callers may change it)."""
    return _read("scenarios", name)


def segment(name: str) -> dict[str, Any]:
    """A segment body for POST /segments."""
    return _read("segments", name)


def audience_list(name: str) -> dict[str, Any]:
    """A list body for POST /lists."""
    return _read("lists", name)


def scenario_paths() -> list[Path]:
    return sorted(SCENARIO_DIR.glob("*.json"))


def scenarios() -> dict[str, dict[str, Any]]:
    """Every reference scenario by id."""
    return {path.stem: scenario(path.stem) for path in scenario_paths()}
