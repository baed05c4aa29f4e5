"""Lead scoring, pure: settings validation, points per event and per profile, decay, stages.

Settings (GET/PUT /settings/scoring):

    {"rules": [{"event": "email.clicked", "where": {...}, "points": 3},
               {"criteria": {"field": "attributes.plan", "op": "eq", "value": "pro"}, "points": 10}],
     "half_life": "P30D",
     "stages": {"lead": 1, "MQL": 25, "SQL": 60}}

- Event rules give points when an event of that type (and matching `where`, on
  `properties.NAME`) happens; those points decay: after one half-life they count half.
  Several rules may match one event; their points add up.
- Criteria rules ("field points") give points while the contact matches; they do not decay.
  They judge the profile only: event conditions belong in event rules (where they decay),
  and `score`, `stage` and segment membership are refused because they depend on the score.
- `half_life` null: no decay. A missing key takes its value from DEFAULT_SETTINGS.
- Points are integers, negative allowed (e.g. -10 for an unsubscribe); the score is not
  floored at 0. A stage is reached at its threshold; the highest reached wins; below every
  threshold the stage is "visitor".
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from chalicelib import clock, durations, vocabulary
from chalicelib.criteria import ContactSubject, matches, matches_properties, validate
from chalicelib.problems import Problem, join

STAGES = ("visitor", "lead", "MQL", "SQL", "customer")
MAX_RULES = 200
MAX_POINTS = 10_000

DEFAULT_SETTINGS: dict[str, Any] = {
    "rules": [
        {"event": "page_view", "points": 1},
        {"event": "email.opened", "points": 1},
        {"event": "email.clicked", "points": 3},
        {"event": "form_submitted", "points": 10},
        {"event": "purchase", "points": 20},
        {"event": "email.unsubscribed", "points": -10},
    ],
    "half_life": "P30D",
    "stages": {"lead": 1, "MQL": 25, "SQL": 60},
}

_REFUSED_FIELDS = {"score": "the score", "stage": "the stage"}


def with_defaults(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The settings with every missing key taken from DEFAULT_SETTINGS."""
    return {**DEFAULT_SETTINGS, **(settings or {})}


def validate_settings(settings: Any) -> list[Problem]:
    """Every problem of a scoring settings object, each with its JSON path."""
    if not isinstance(settings, Mapping):
        return [Problem("", "scoring settings must be an object with rules, half_life and stages")]
    problems: list[Problem] = []
    for key in settings:
        if key not in ("rules", "half_life", "stages"):
            problems.append(Problem(str(key), "unknown key: scoring settings have rules, half_life and stages"))
    if "rules" in settings:
        problems.extend(_validate_rules(settings["rules"]))
    if "half_life" in settings:
        problems.extend(_validate_half_life(settings["half_life"]))
    if "stages" in settings:
        problems.extend(_validate_stages(settings["stages"]))
    return problems


def _validate_rules(rules: Any) -> list[Problem]:
    if not isinstance(rules, list):
        return [Problem("rules", "must be a list of rules")]
    problems: list[Problem] = []
    if len(rules) > MAX_RULES:
        problems.append(Problem("rules", f"at most {MAX_RULES} rules"))
    for index, rule in enumerate(rules):
        path = join("rules", index)
        if not isinstance(rule, Mapping):
            problems.append(Problem(path, 'a rule is {"event": TYPE, "points": N} or {"criteria": ..., "points": N}'))
            continue
        if "event" in rule and "criteria" in rule:
            problems.append(Problem(path, "a rule has either event or criteria, not both"))
            continue
        if "event" in rule:
            allowed: tuple[str, ...] = ("event", "where", "points")
            event = rule["event"]
            if not vocabulary.is_event_type(event):
                problems.append(Problem(join(path, "event"), "must be an event type such as page_view "
                                        f"({vocabulary.EVENT_TYPE_RULE})"))
            if rule.get("where") is not None:
                problems.extend(validate(rule["where"], join(path, "where"), scope="properties"))
        elif "criteria" in rule:
            allowed = ("criteria", "points")
            problems.extend(_validate_criteria(rule["criteria"], join(path, "criteria")))
        else:
            problems.append(Problem(path, "a rule needs an event (points per event) or criteria (points per profile)"))
            continue
        for key in rule:
            if key not in allowed:
                problems.append(Problem(join(path, str(key)), f"unknown key: this rule has {', '.join(allowed)}"))
        points = rule.get("points")
        if "points" not in rule:
            problems.append(Problem(join(path, "points"), "required"))
        elif isinstance(points, bool) or not isinstance(points, int):
            problems.append(Problem(join(path, "points"), "must be a whole number (negative allowed)"))
        elif abs(points) > MAX_POINTS:
            problems.append(Problem(join(path, "points"), f"must be between -{MAX_POINTS} and {MAX_POINTS}"))
    return problems


def _validate_criteria(criteria: Any, path: str) -> list[Problem]:
    found = validate(criteria, path, scope="contact")
    if found:
        return found
    problems = []
    for where, node in _conditions(criteria, path):
        if "event" in node:
            problems.append(Problem(where, "criteria rules score the profile: give event points with an event rule"))
        elif "in_segment" in node:
            problems.append(Problem(where, "segments may depend on the score, so they cannot give score points"))
        elif node.get("field") in _REFUSED_FIELDS:
            name = _REFUSED_FIELDS[node["field"]]
            problems.append(Problem(join(where, "field"), f"{name} is computed from these rules"))
    return problems


def _conditions(node: Mapping[str, Any], path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The conditions of a (valid) criteria tree with their paths."""
    for combinator in ("all", "any"):
        if combinator in node:
            for index, child in enumerate(node[combinator]):
                yield from _conditions(child, join(join(path, combinator), index))
            return
    if "not" in node:
        yield from _conditions(node["not"], join(path, "not"))
        return
    yield path, node


def _validate_half_life(half_life: Any) -> list[Problem]:
    if half_life is None:
        return []
    try:
        length = durations.seconds(half_life)
    except durations.DurationError as error:
        return [Problem("half_life", f"{error}, or null for no decay")]
    if length <= 0:
        return [Problem("half_life", "must be a positive duration such as P30D, or null for no decay")]
    return []


def _validate_stages(stages: Any) -> list[Problem]:
    if not isinstance(stages, Mapping):
        return [Problem("stages", 'must be an object of thresholds such as {"lead": 1, "MQL": 25, "SQL": 60}')]
    problems: list[Problem] = []
    previous: tuple[str, float] | None = None
    for name in stages:
        if name == "visitor":
            problems.append(Problem(join("stages", name), "visitor is the stage below every threshold: it takes none"))
        elif name not in STAGES:
            problems.append(Problem(join("stages", str(name)), "unknown stage: use lead, MQL, SQL or customer"))
    for name in STAGES[1:]:
        if name not in stages:
            continue
        threshold = stages[name]
        path = join("stages", name)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
            problems.append(Problem(path, "must be a number of points"))
            continue
        if previous is not None and threshold <= previous[1]:
            problems.append(Problem(path, f"must be above the {previous[0]} threshold ({previous[1]:g}): "
                                          "thresholds increase from lead to MQL, SQL and customer"))
        previous = (name, threshold)
    return problems


def event_points(settings: Mapping[str, Any] | None, event: Mapping[str, Any]) -> int:
    """Points an event earns: the sum over event rules of its type whose `where` matches its
    properties (0 when none matches)."""
    event_type = event.get("type")
    properties = event.get("properties") or {}
    total = 0
    for rule in with_defaults(settings)["rules"]:
        if rule.get("event") == event_type and matches_properties(rule.get("where"), properties):
            total += rule["points"]
    return total


def field_points(
    settings: Mapping[str, Any] | None, contact: Mapping[str, Any] | ContactSubject, *, now: datetime | None = None
) -> int:
    """Points of the criteria rules the contact (as the API returns it, or a ContactSubject
    carrying its lists) matches now."""
    subject = contact if isinstance(contact, ContactSubject) else ContactSubject(contact)
    total = 0
    for rule in with_defaults(settings)["rules"]:
        if "criteria" in rule and matches(rule["criteria"], subject, now=now):
            total += rule["points"]
    return total


def score(
    settings: Mapping[str, Any] | None,
    scored_events: Iterable[tuple[datetime, float]],
    field_points: float,
    now: datetime | None = None,
) -> float:
    """The score at `now` (default clock.now()): each event's points halved for every
    half-life of age (events dated after `now` count in full), plus the field points,
    rounded to 2 decimals. `scored_events` are (when, points) pairs, e.g. from event_points."""
    moment = _aware(clock.now() if now is None else now)
    half_life = with_defaults(settings)["half_life"]
    length = durations.seconds(half_life) if half_life is not None else None
    total = 0.0
    for at, points in scored_events:
        if length is None:
            total += points
        else:
            age = max((moment - _aware(at)).total_seconds(), 0.0)
            total += points * 0.5 ** (age / length)
    return round(total + field_points, 2)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def stage_for(settings: Mapping[str, Any] | None, score: float) -> str:
    """The highest stage whose threshold the score reaches; "visitor" below every threshold."""
    stages = with_defaults(settings)["stages"]
    reached = "visitor"
    for name in STAGES[1:]:
        threshold = stages.get(name)
        if threshold is not None and score >= threshold:
            reached = name
    return reached
