"""The event format of DESIGN.md section 4, checked and normalised. Plain Python."""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib import clock, limits
from chalicelib.contacts.fields import (
    FieldError,
    clean_traits,
    normalize_email,
    normalize_phone,
)
from chalicelib.problems import Problem, join
from chalicelib.vocabulary import EVENT_TYPE_RULE, is_event_type, is_system_type

EVENT_KEYS = {"id", "type", "contact", "traits", "consent", "properties", "timestamp"}
CONTACT_KEYS = {"email", "phone", "external_id", "contact_id"}
CONSENT_KEYS = {"email", "sms", "source"}
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:@#/-]{1,128}$")
MAX_PROPERTIES_BYTES = 32 * 1024


@dataclass
class ValidEvent:
    id: str
    type: str
    identity: dict[str, str]
    traits: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    consent: dict[str, bool] = field(default_factory=dict)
    consent_source: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime = field(default_factory=clock.now)


def validate_event(raw: Any, path: str = "", *, allow_system: bool, future_tolerance: timedelta,
                   now: datetime | None = None) -> tuple[ValidEvent | None, list[Problem]]:
    """The normalised event, or None with every problem found."""
    if not isinstance(raw, dict):
        return None, [Problem(path, "an event must be a JSON object")]
    problems = [Problem(join(path, key), f"unknown field '{key}'") for key in raw if key not in EVENT_KEYS]
    storable = limits.problems(raw, path)
    if storable:  # nothing else can be read safely from a value DynamoDB would refuse
        return None, storable
    problems.extend(limits.size_problem(raw, path))
    event_id = raw.get("id")
    if event_id is None:
        event_id = str(uuid.uuid4())
    elif not isinstance(event_id, str) or not ID_PATTERN.match(event_id):
        problems.append(Problem(join(path, "id"), "id must be a string of 1 to 128 letters, digits or _.:@#/-"))
    event_type: Any = raw.get("type")
    if not is_event_type(event_type):
        problems.append(Problem(join(path, "type"), "type is required: a name such as signup, page_view or "
                                f"cart_updated ({EVENT_TYPE_RULE})"))
    elif is_system_type(event_type) and not allow_system:
        problems.append(Problem(join(path, "type"), f"'{event_type}' is a system event type; it cannot be posted"
                                " with this key"))
    identity = _identity(raw.get("contact"), join(path, "contact"), problems)
    traits, attributes = _traits(raw.get("traits"), join(path, "traits"), problems)
    consent, source = _consent(raw.get("consent"), join(path, "consent"), problems)
    properties = raw.get("properties", {})
    if not isinstance(properties, dict):
        problems.append(Problem(join(path, "properties"), "properties must be a JSON object"))
        properties = {}
    elif len(json.dumps(properties)) > MAX_PROPERTIES_BYTES:
        problems.append(Problem(join(path, "properties"), f"properties must stay under {MAX_PROPERTIES_BYTES} bytes"))
    timestamp = _timestamp(raw.get("timestamp"), join(path, "timestamp"), problems,
                           now or clock.now(), future_tolerance)
    if problems:
        return None, problems
    return ValidEvent(event_id, event_type, identity, traits, attributes, consent, source, properties,
                      timestamp), []


def _identity(raw: Any, path: str, problems: list[Problem]) -> dict[str, str]:
    if not isinstance(raw, dict):
        problems.append(Problem(path, "contact is required: an object with email, phone, external_id or contact_id"))
        return {}
    identity: dict[str, str] = {}
    for key, value in raw.items():
        if key not in CONTACT_KEYS:
            problems.append(Problem(join(path, key), f"unknown field '{key}'"))
        elif not isinstance(value, str) or not value.strip():
            problems.append(Problem(join(path, key), f"{key} must be a non-empty string"))
        else:
            try:
                identity[key] = normalize_identifier(key, value)
            except FieldError as error:
                problems.append(Problem(join(path, key), str(error)))
    if not identity and not any(p.path.startswith(path) for p in problems):
        problems.append(Problem(path, "contact needs at least one of email, phone, external_id or contact_id"))
    return identity


def normalize_identifier(key: str, value: str) -> str:
    if key == "email":
        return normalize_email(value)
    if key == "phone":
        return normalize_phone(value)
    return value.strip()


def _traits(raw: Any, path: str, problems: list[Problem]) -> tuple[dict[str, Any], dict[str, Any]]:
    if raw is None:
        return {}, {}
    cleaned, found = clean_traits(raw, path)
    problems.extend(found)
    attributes = cleaned.pop("attributes", None) or {}
    return cleaned, attributes


def _consent(raw: Any, path: str, problems: list[Problem]) -> tuple[dict[str, bool], str | None]:
    if raw is None:
        return {}, None
    if not isinstance(raw, dict):
        problems.append(Problem(path, 'consent must be an object such as {"email": true, "source": "signup form"}'))
        return {}, None
    consent: dict[str, bool] = {}
    for key, value in raw.items():
        if key not in CONSENT_KEYS:
            problems.append(Problem(join(path, key), f"unknown field '{key}'; expected email, sms or source"))
        elif key == "source":
            if not isinstance(value, str) or len(value) > 200:
                problems.append(Problem(join(path, key), "source must be a string of at most 200 characters"))
        elif not isinstance(value, bool):
            problems.append(Problem(join(path, key), f"{key} must be true or false"))
        else:
            consent[key] = value
    source = raw.get("source") if isinstance(raw.get("source"), str) else None
    return consent, source


def _timestamp(raw: Any, path: str, problems: list[Problem], now: datetime,
               tolerance: timedelta) -> datetime:
    if raw is None:
        return now
    if not isinstance(raw, str):
        problems.append(Problem(path, "timestamp must be an ISO 8601 date-time string"))
        return now
    try:
        value = clock.parse_iso(raw)
    except ValueError:
        problems.append(Problem(path, f"'{raw}' is not an ISO 8601 date-time such as 2026-11-22T10:00:00Z"))
        return now
    if value > now + tolerance:
        problems.append(Problem(path, f"timestamp is in the future (more than {int(tolerance.total_seconds())}s"
                                " ahead of the server clock)"))
    return value
