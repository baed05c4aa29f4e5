"""The JSON Schema (draft 2020-12) of scenario JSON, built from the validator's own vocabulary.

Editors use it to complete and check scenario files. It states the shape of the format: keys,
types, step types, patterns of ids, durations and times, and the criteria language. What
depends on several values at once (unique step ids, split weights adding up to 100, time
zones, webhook hosts, Step Functions limits) stays with `schema.validate`, which has the last
word: every scenario the validator accepts, this schema accepts too (tests hold both on the
examples and on a set of good and bad scenarios).
"""
from __future__ import annotations

import json
import sys
from functools import lru_cache
from typing import Any

from chalicelib import vocabulary
from chalicelib.criteria import fields
from chalicelib.scenarios import schema as validator  # its own patterns, some private: no drift

DIALECT = "https://json-schema.org/draft/2020-12/schema"
MEDIA_TYPE = "application/schema+json"

# isodate's grammar as durations.parse admits it: an optional minus, P, at least one number.
_NUMBER = r"\d+(?:[.,]\d+)?"
DURATION_PATTERN = (rf"^-?P(?=\d|T\d)(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
                    rf"(?:T(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?$")
_NOT_BLANK = r"\S"

_STEP_HELP: dict[str, str] = {
    "email": "Send an email: a template id, or inline subject with html and/or text.",
    "sms": "Send an SMS: a template id or a text.",
    "wait": 'Wait a duration ("P3D"), or until a time of day or a date field of the contact.',
    "wait_for": "Wait for an event until a timeout; then runs if it came, else if it did not.",
    "if": "Branch on criteria about the contact (fields, events, lists, segments).",
    "split": "A/B split: each contact takes one branch, by weight, fixed at entry.",
    "add_to_list": "Add the contact to a static list (created on first join).",
    "remove_from_list": "Remove the contact from a static list.",
    "score": "Add (or remove) score points; they decay like event points.",
    "update_contact": "Set contact fields or attributes.NAME.",
    "webhook": "POST a signed JSON body to an https URL.",
    "delete_contact": "Erase the contact (GDPR erasure); ends the journey.",
    "exit": "End the journey here.",
}


def _whole(pattern: str) -> str:
    """A Python pattern used with fullmatch, anchored for JSON Schema's search semantics."""
    return f"^(?:{pattern.removeprefix('^').removesuffix('$')})$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _object(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    shape: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        shape["required"] = list(required)
    shape.update(extra)
    return shape


def _text(description: str) -> dict[str, Any]:
    return {"type": "string", "pattern": _NOT_BLANK, "description": description}


def _value_rules() -> list[dict[str, Any]]:
    """What `value` a field condition takes, by operator (criteria/validate.py)."""
    scalar = _ref("scalar")
    by_operator: list[tuple[frozenset[str], dict[str, Any]]] = [
        (fields.MEMBERSHIP, {"type": "array", "items": scalar}),
        (fields.TEXT, {"type": "string"}),
        (fields.CONTAINMENT, scalar),
        (fields.ORDERING, {"type": ["number", "string"]}),
        (fields.DATES, {"type": "string", "description": "an ISO date(-time), or a duration relative to now (-P30D)"}),
        (frozenset({"eq", "ne"}), {"anyOf": [scalar, {"type": "array"}]}),
    ]
    rules: list[dict[str, Any]] = [{
        "if": {"properties": {"op": {"enum": sorted(fields.NO_VALUE)}}, "required": ["op"]},
        "then": {"properties": {"value": {"type": "null"}}},
    }]
    for operators, value in by_operator:
        rules.append({"if": {"properties": {"op": {"enum": sorted(operators)}}, "required": ["op"]},
                      "then": {"required": ["value"], "properties": {"value": value}}})
    return rules


def _criteria(name: str, field: dict[str, Any], *, contact: bool) -> dict[str, Any]:
    """Criteria over a contact, or over an event's properties (only field conditions)."""
    node = _ref(name)
    conditions: list[dict[str, Any]] = [
        _object({"all": {"type": "array", "minItems": 1, "items": node}}, ("all",)),
        _object({"any": {"type": "array", "minItems": 1, "items": node}}, ("any",)),
        _object({"not": node}, ("not",)),
        _object({"field": field, "op": {"enum": list(fields.OPERATOR_ORDER)}, "value": {}}, ("field", "op"),
                allOf=_value_rules()),
    ]
    if contact:
        conditions += [
            _object({"event": _text("an event type such as purchase or email.clicked"),
                     "where": {"anyOf": [_ref("property_criteria"), {"type": "object", "maxProperties": 0},
                                         {"type": "null"}]},
                     "within": {"anyOf": [_ref("duration"), {"type": "null"}]},
                     "count": {"anyOf": [{"type": "object", "minProperties": 1,
                                          "propertyNames": {"enum": list(fields.COUNT_KEYS)},
                                          "additionalProperties": {"type": "integer", "minimum": 0}},
                                         {"type": "null"}]}},
                    ("event",)),
            _object({"in_list": _text("a list id")}, ("in_list",)),
            _object({"in_segment": _text("a segment id")}, ("in_segment",)),
        ]
    return {"oneOf": conditions}


def _step_shapes() -> dict[str, dict[str, Any]]:
    """The fields of each step type besides id and type, with their rules."""
    steps, nonempty = _ref("steps"), _ref("nonempty_steps")
    template = {"type": "string", "pattern": _whole(validator._REFERENCE.pattern), "description": "a template id"}
    transactional = {"type": "boolean", "description": "true: no unsubscribe link, no consent or caps check"}
    list_id = {"type": "string", "pattern": _whole(validator._REFERENCE.pattern), "description": "a list id"}
    settable: dict[str, Any] = {name: {"anyOf": [_text(name), {"type": "null"}]} for name in validator.SETTABLE_FIELDS}
    settable["birthday"] = {"anyOf": [{"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}, {"type": "null"}],
                            "description": "a date YYYY-MM-DD"}
    settable["timezone"] = {"anyOf": [_ref("timezone"), {"type": "null"}]}
    attribute_value = {"anyOf": [_ref("scalar"), {"type": "null"},
                                 {"type": "array", "items": {"anyOf": [_ref("scalar"), {"type": "null"}]}}]}
    return {
        "email": {
            "properties": {"template": template, "subject": _text("the subject (Jinja2)"),
                           "html": _text("the HTML body (Jinja2)"), "text": _text("the text body (Jinja2)"),
                           "transactional": transactional},
            "oneOf": [{"required": ["template"],
                       "not": {"anyOf": [{"required": [key]} for key in ("subject", "html", "text")]}},
                      {"required": ["subject"], "anyOf": [{"required": ["html"]}, {"required": ["text"]}],
                       "not": {"required": ["template"]}}],
        },
        "sms": {
            "properties": {"template": template, "text": _text("the message (Jinja2)"),
                           "transactional": transactional},
            "oneOf": [{"required": ["template"], "not": {"required": ["text"]}},
                      {"required": ["text"], "not": {"required": ["template"]}}],
        },
        "wait": {
            "properties": {
                "duration": _ref("duration"),
                "until": {"oneOf": [
                    _object({"time": _ref("time_of_day")}, ("time",)),
                    _object({"date_field": _ref("date_field"), "offset": _ref("duration")}, ("date_field",)),
                ], "description": '{"time": "09:00"} or {"date_field": "attributes.trial_ends_at", "offset": "-P2D"}'},
            },
            "oneOf": [{"required": ["duration"], "not": {"required": ["until"]}},
                      {"required": ["until"], "not": {"required": ["duration"]}}],
        },
        "wait_for": {
            "properties": {"event": _ref("event_type"), "where": _ref("property_criteria"),
                           "timeout": _ref("duration"), "then": steps, "else": steps},
            "required": ["event", "timeout"],
        },
        "if": {
            "properties": {"condition": _ref("criteria"), "then": nonempty, "else": steps},
            "required": ["condition", "then"],
        },
        "split": {
            "properties": {"branches": {"type": "array", "minItems": 2, "items": _object(
                {"weight": {"type": "integer", "minimum": 1, "maximum": 99,
                            "description": "a whole percentage; the weights add up to 100"},
                 "steps": nonempty}, ("weight", "steps"))}},
            "required": ["branches"],
        },
        "add_to_list": {"properties": {"list": list_id}, "required": ["list"]},
        "remove_from_list": {"properties": {"list": list_id}, "required": ["list"]},
        "score": {"properties": {"points": {"type": "integer", "not": {"const": 0}}}, "required": ["points"]},
        "update_contact": {
            "properties": {"set": {
                "type": "object", "minProperties": 1, "properties": settable,
                "patternProperties": {_whole(validator._ATTRIBUTE.pattern): attribute_value},
                "additionalProperties": False,
                "description": 'fields and values, such as {"attributes.plan": "pro"}'}},
            "required": ["set"],
        },
        "webhook": {
            "properties": {"url": {"type": "string", "pattern": "^[Hh][Tt][Tt][Pp][Ss]://[^\\s/]",
                                   "description": "an https URL on a public host name"},
                           "body": {"type": "object"}},
            "required": ["url"],
        },
        "delete_contact": {"properties": {}},
        "exit": {"properties": {}},
    }


def _step() -> dict[str, Any]:
    shapes = _step_shapes()
    if set(shapes) != set(vocabulary.STEP_FIELDS) or any(
            set(shapes[kind]["properties"]) != vocabulary.STEP_FIELDS[kind] for kind in vocabulary.STEP_FIELDS):
        raise AssertionError("json_schema is out of step with vocabulary.STEP_FIELDS")
    branches = []
    for kind in vocabulary.STEP_TYPES:
        shape = dict(shapes[kind])
        shape["properties"] = {"id": True, "type": True, **shape["properties"]}
        shape["additionalProperties"] = False
        branches.append({"if": {"properties": {"type": {"const": kind}}, "required": ["type"]}, "then": shape})
    return {
        "type": "object",
        "required": ["id", "type"],
        "properties": {
            "id": {"type": "string", "pattern": _whole(validator._STEP_ID.pattern),
                   "description": "unique in the scenario; reports are keyed by it"},
            # enumDescriptions: VS Code shows them while completing; other tools ignore the keyword.
            "type": {"enum": list(vocabulary.STEP_TYPES),
                     "enumDescriptions": [_STEP_HELP[kind] for kind in vocabulary.STEP_TYPES]},
        },
        "allOf": branches,
    }


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario (DESIGN.md section 6)."""
    bare_custom = {"type": "string", "pattern": _whole(validator._BARE_NAME.pattern),
                   "not": {"enum": sorted(vocabulary.BUILTIN_NAMES)}}
    top = {
        "id": {"type": "string", "pattern": _whole(validator._SCENARIO_ID.pattern),
               "description": "lowercase letters, digits and hyphens"},
        "name": _text("what marketers call it"),
        "description": {"type": "string"},
        "trigger": {"oneOf": [
            _object({"event": _ref("event_type"), "where": _ref("property_criteria")}, ("event",)),
            _object({"date": _object({"field": {"enum": list(vocabulary.TRIGGER_DATE_FIELDS)},
                                      "annual": {"type": "boolean"}, "at": _ref("time_of_day")},
                                     ("field",))}, ("date",)),
        ], "description": 'what enrolls a contact: {"event": TYPE, "where": criteria} or {"date": {...}}'},
        "entry": _object({
            "reentry": {"anyOf": [{"enum": ["never", "always"]},
                                  _object({"after": _ref("duration")}, ("after",))],
                        "default": "never"},
            "max_contacts": {"type": "integer", "minimum": 1},
        }),
        "goals": {"type": "array", "items": _object({"event": _ref("event_type"),
                                                      "where": _ref("property_criteria")}, ("event",)),
                  "description": "events that end the journey as converted"},
        "exit_when": {**_ref("criteria"), "description": "checked before every action; matching ends the journey"},
        "settings": _object({
            "quiet_hours": _object({"from": _ref("time_of_day"), "to": _ref("time_of_day")}, ("from", "to")),
            "timezone": _ref("timezone"),
        }),
        "steps": _ref("nonempty_steps"),
    }
    if tuple(top) != validator.SCENARIO_KEYS:
        raise AssertionError("json_schema is out of step with schema.SCENARIO_KEYS")
    return {
        "$schema": DIALECT,
        "title": "Parcours scenario",
        "description": "A marketing-automation scenario: a trigger, entry rules, goals and steps.",
        **_object(top, ("id", "name", "trigger", "steps")),
        "$defs": {
            "steps": {"type": "array", "items": _ref("step")},
            "nonempty_steps": {"type": "array", "minItems": 1, "items": _ref("step")},
            "step": _step(),
            "duration": {"type": "string", "pattern": DURATION_PATTERN,
                         "description": "an ISO 8601 duration such as PT1H, P3D or P6M", "examples": ["P3D"]},
            "time_of_day": {"type": "string", "pattern": _whole(validator._TIME.pattern),
                            "description": "HH:MM on 24 hours"},
            "event_type": {"type": "string", "pattern": _whole(vocabulary.EVENT_TYPE_PATTERN.pattern),
                           "description": "an event type such as purchase or email.clicked"},
            "date_field": {"anyOf": [{"enum": list(vocabulary.DATE_FIELDS)},
                                     {"type": "string", "pattern": _whole(validator._ATTRIBUTE.pattern)}, bare_custom],
                           "description": "a contact's date: birthday, created_at, ... or attributes.NAME"},
            "scalar": {"type": ["string", "number", "boolean"]},
            "timezone": {"enum": sorted(validator._timezones()),
                         "description": "an IANA time zone such as Europe/Paris"},
            "criteria": _criteria("criteria", {"anyOf": [
                {"enum": sorted(vocabulary.BUILTIN_FIELDS)}, {"type": "string", "pattern": fields._ATTRIBUTE.pattern}]},
                contact=True),
            "property_criteria": _criteria("property_criteria", {"type": "string", "pattern": fields._PROPERTY.pattern},
                                           contact=False),
        },
    }


def segment_schema() -> dict[str, Any]:
    """The JSON Schema of a segment body `{"id", "name", "criteria"}` (DESIGN.md section 7), its
    criteria those of scenarios (DESIGN.md section 5): for GET /openapi.json."""
    return {"type": "object", "required": ["id", "name", "criteria"],
            "properties": {"id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"},
                           "name": {"type": "string", "minLength": 1, "maxLength": 200},
                           "criteria": _ref("criteria")},
            "$defs": {name: schema for name, schema in scenario_schema()["$defs"].items()}}


@lru_cache(maxsize=1)
def scenario_schema_json() -> str:
    """The schema as served and checked in (examples/scenario.schema.json): stable, indented JSON."""
    return json.dumps(scenario_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # make schema
    sys.stdout.write(scenario_schema_json())
