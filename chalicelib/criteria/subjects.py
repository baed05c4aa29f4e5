"""What criteria are evaluated against: a Subject answers field, event, list and segment questions.

The engine never reads storage itself: the caller wraps what it already loaded (a contact
dict, an event's properties) so the same evaluation serves segments, scenario conditions,
trigger filters and goals, in Lambdas and in tests alike.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

EventSource = Callable[[str, "datetime | None"], Iterable[Mapping[str, Any]]]


def _no_events(event_type: str, since: datetime | None) -> Iterable[Mapping[str, Any]]:
    return ()


def resolve(data: Any, path: str) -> Any:
    """The value at a dotted `path` inside nested mappings, None when any step is missing.

    A key that itself contains dots (`{"utm.source": ...}`) is found too: at each level the
    whole remaining path is tried as a key before splitting it.
    """
    while True:
        if type(data) is not dict and not isinstance(data, Mapping):  # dict first: the common, quick test
            return None
        if path in data:
            return data[path]
        head, dot, rest = path.partition(".")
        if not dot or head not in data:
            return None
        data, path = data[head], rest


class Subject(Protocol):
    """Anything criteria can be evaluated against."""

    def field(self, path: str) -> Any:
        """The value of a field path ("email", "attributes.plan", "consent.email",
        "properties.amount"); None when missing."""
        ...

    def events(self, event_type: str, since: datetime | None) -> Iterable[Mapping[str, Any]]:
        """Events of that type at or after `since` (all time when None), each
        {"type", "properties": {...}, "timestamp": datetime}."""
        ...

    def in_list(self, list_id: str) -> bool: ...

    def in_segment(self, segment_id: str) -> bool: ...


class ContactSubject:
    """A contact as the API returns it (contacts.service.to_api), plus what the caller loaded
    about its events, lists and segments.

    `consent.email` / `consent.sms` resolve to the boolean `granted` of the consent record
    (a bare boolean is accepted too); no record means the field is missing (None).
    `lists` defaults to the contact's own `lists` item; pass it to override.
    """

    __slots__ = ("_contact", "_events", "_lists", "_segments")

    def __init__(self, contact: Mapping[str, Any], events: EventSource = _no_events,
                 lists: Collection[str] | None = None, segments: Collection[str] = ()) -> None:
        self._contact = contact
        self._events = events
        if lists is None:  # not given: the contact's own `lists` (as to_api writes them)
            lists = contact.get("lists") or ()
        self._lists = lists if isinstance(lists, (set, frozenset)) else frozenset(lists)
        self._segments = segments if isinstance(segments, (set, frozenset)) else frozenset(segments)

    def field(self, path: str) -> Any:
        if path.startswith("consent."):
            record = resolve(self._contact.get("consent"), path[len("consent."):])
            if type(record) is dict or isinstance(record, Mapping):
                return record.get("granted")
            return record if isinstance(record, bool) else None
        return resolve(self._contact, path)

    def events(self, event_type: str, since: datetime | None) -> Iterable[Mapping[str, Any]]:
        return self._events(event_type, since)

    def in_list(self, list_id: str) -> bool:
        return list_id in self._lists

    def in_segment(self, segment_id: str) -> bool:
        return segment_id in self._segments


class PropertiesSubject:
    """An event's (or a goal's) properties: resolves `properties.NAME`, nested dots allowed.

    It has no events, lists or segments: validation refuses those conditions in the
    "properties" scope, and evaluating one anyway is simply False.
    """

    __slots__ = ("_properties",)

    def __init__(self, properties: Mapping[str, Any]) -> None:
        self._properties = properties

    def field(self, path: str) -> Any:
        head, dot, rest = path.partition(".")
        if head != "properties" or not dot:
            return None
        return resolve(self._properties, rest)

    def events(self, event_type: str, since: datetime | None) -> Iterable[Mapping[str, Any]]:
        return ()

    def in_list(self, list_id: str) -> bool:
        return False

    def in_segment(self, segment_id: str) -> bool:
        return False
