"""Activity rank (0-10): contacts ranked into deciles by how many counted activities they had
in the window; no activity (or fewer than `min_events`) is 0.

The rule, with N active contacts sorted by count ascending: a contact's rank is

    ceil(10 * k / N)   where k = how many active contacts have a count <= its own,

i.e. the decile of the cumulative share of active contacts at its count. Consequences:
- distinct counts give equal deciles: 500 contacts -> 50 per rank from 1 to 10;
- ties never split: one count always gives one rank, and a tied group takes the decile of
  its top member (so the deciles just below a large tie may be empty, those above unequal);
- the most active contacts always get 10, and everyone gets 10 when all counts are equal;
- with fewer than 10 active contacts the ranks spread over 1..10 by the same formula:
  3 contacts with distinct counts get 4, 7 and 10; one contact gets 10.

Settings (GET/PUT /settings/activity): {"window": "P60D", "count": [event types],
"min_events": 1, "every": "P30D"}; a missing key takes its value from DEFAULT_SETTINGS.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib import durations, vocabulary
from chalicelib.problems import Problem, join

DEFAULT_SETTINGS: dict[str, Any] = {
    "window": "P60D",
    "count": ["page_view", "email.opened", "email.clicked", "form_submitted", "purchase"],
    "min_events": 1,
    "every": "P30D",
}
MIN_EVERY_SECONDS = 86400  # a recompute reads every contact's window: at most daily
MAX_WINDOW_SECONDS = 2 * durations.ONE_YEAR_SECONDS
MAX_TYPES = 100


def with_defaults(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The settings with every missing key taken from DEFAULT_SETTINGS."""
    return {**DEFAULT_SETTINGS, **(settings or {})}


def rank(counts: Mapping[str, int], *, min_events: int = 1) -> dict[str, int]:
    """The rank (0-10) of every contact in `counts` (contact id -> counted activities in the
    window), by the rule in the module doc. Raises ValueError on a negative count or a
    min_events below 1."""
    if isinstance(min_events, bool) or not isinstance(min_events, int) or min_events < 1:
        raise ValueError("min_events must be a whole number >= 1")
    active: dict[int, int] = {}  # count -> how many active contacts have it
    for contact, count in counts.items():
        if count < 0:
            raise ValueError(f"negative activity count for {contact!r}")
        if count >= min_events:
            active[count] = active.get(count, 0) + 1
    total = sum(active.values())
    by_count: dict[int, int] = {}
    at_or_below = 0
    for count in sorted(active):
        at_or_below += active[count]
        by_count[count] = -(-10 * at_or_below // total)  # ceil(10 * k / N), exact in integers
    return {contact: by_count.get(count, 0) for contact, count in counts.items()}


def window_start(settings: Mapping[str, Any] | None, now: datetime) -> datetime:
    """The first instant of the counting window ending at `now`."""
    return durations.shift(now, "-" + with_defaults(settings)["window"])


def validate_settings(settings: Any) -> list[Problem]:
    """Every problem of an activity settings object, each with its JSON path."""
    if not isinstance(settings, Mapping):
        return [Problem("", "activity settings must be an object with window, count, min_events and every")]
    problems: list[Problem] = []
    for key in settings:
        if key not in DEFAULT_SETTINGS:
            problems.append(Problem(str(key), "unknown key: the settings are window, count, min_events and every"))
    if "window" in settings:
        problems.extend(_duration(settings["window"], "window", 1, MAX_WINDOW_SECONDS, "two years"))
    if "every" in settings:
        problems.extend(_duration(settings["every"], "every", MIN_EVERY_SECONDS, None, None))
    if "min_events" in settings:
        value = settings["min_events"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(Problem("min_events", "must be a whole number, at least 1"))
    if "count" in settings:
        problems.extend(_count(settings["count"]))
    return problems


def _duration(value: Any, path: str, least: float, most: float | None, most_text: str | None) -> list[Problem]:
    if not isinstance(value, str) or value.startswith("-"):
        return [Problem(path, "must be a positive ISO 8601 duration such as P60D")]
    try:
        length = durations.seconds(value)
    except durations.DurationError as error:
        return [Problem(path, str(error))]
    if length < least:
        return [Problem(path, "must be at least one day" if least >= 86400 else "must be a positive duration")]
    if most is not None and length > most:
        return [Problem(path, f"must be at most {most_text}")]
    return []


def _count(types: Any) -> list[Problem]:
    if not isinstance(types, list) or not types:
        return [Problem("count", "must be a non-empty list of event types such as page_view")]
    problems: list[Problem] = []
    if len(types) > MAX_TYPES:
        problems.append(Problem("count", f"at most {MAX_TYPES} event types"))
    seen: set[str] = set()
    for index, event_type in enumerate(types):
        path = join("count", index)
        if not vocabulary.is_event_type(event_type):
            problems.append(Problem(path, f"must be an event type such as page_view or email.clicked "
                                    f"({vocabulary.EVENT_TYPE_RULE})"))
        elif event_type in seen:
            problems.append(Problem(path, f"{event_type} is listed twice"))
        else:
            seen.add(event_type)
    return problems
