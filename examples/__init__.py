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


def lists_for(name: str) -> list[dict[str, Any]]:
    """The lists a reference scenario joins or leaves, as POST /lists bodies: publishing refuses a
    scenario that names a list that does not exist."""
    found: list[str] = []

    def walk(steps: Any) -> None:
        for step in steps if isinstance(steps, list) else []:
            if step.get("type") in ("add_to_list", "remove_from_list") and step["list"] not in found:
                found.append(step["list"])
            walk(step.get("then"))
            walk(step.get("else"))
            for branch in step.get("branches") or []:
                walk(branch.get("steps"))

    walk(scenario(name).get("steps"))
    return [audience_list(list_id) for list_id in found]
