"""Stored settings (scoring, activity) and the state of their schedules, one item per name."""
from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib import clock
from chalicelib.store.audience import AudienceSetting


def read(name: str, *, consistent: bool = True) -> AudienceSetting | None:
    try:
        return AudienceSetting.get(name, consistent_read=consistent)
    except DoesNotExist:
        return None


def value(name: str) -> dict | None:
    item = read(name)
    return dict(item.value) if item is not None and item.value is not None else None


def state(name: str) -> dict:
    item = read(name)
    return dict(item.state or {}) if item is not None else {}


def write(name: str, new_value: dict) -> None:
    item = AudienceSetting(name)
    item.update(actions=[AudienceSetting.value.set(new_value), AudienceSetting.updated_at.set(clock.iso(clock.now()))])


def merge_state(name: str, changes: dict[str, Any]) -> dict:
    """Set some keys of a setting's state (read, merge, write: schedules are the only writers)."""
    current = state(name)
    current.update(changes)
    AudienceSetting(name).update(actions=[AudienceSetting.state.set(current)])
    return current
