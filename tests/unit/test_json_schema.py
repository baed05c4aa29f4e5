"""The JSON Schema of scenarios agrees with the validator: what one accepts or refuses, so does the other."""
from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from chalicelib.scenarios.json_schema import scenario_schema, scenario_schema_json
from chalicelib.scenarios.schema import validate
from examples import HERE, scenarios
from tests.helpers import DESIGN_EXAMPLE

SCHEMA = Draft202012Validator(scenario_schema())


def schema_errors(definition: Any) -> list[str]:
    return [error.message for error in SCHEMA.iter_errors(definition)]


def base(*steps: dict, **extra: Any) -> dict:
    return {"id": "s", "name": "S", "trigger": {"event": "signup"},
            "steps": list(steps) or [{"id": "x", "type": "exit"}], **extra}


# Scenarios the validator accepts, one for each shape of the format (DESIGN.md section 6).
GOOD: dict[str, dict] = {
    "design example": DESIGN_EXAMPLE,
    "every other step type": base(
        {"id": "sms", "type": "sms", "text": "Hello {{ contact.first_name }}", "transactional": True},
        {"id": "sms-t", "type": "sms", "template": "promo-sms"},
        {"id": "nine", "type": "wait", "until": {"time": "09:00"}},
        {"id": "trial", "type": "wait", "until": {"date_field": "attributes.trial_ends_at", "offset": "-P2D"}},
        {"id": "bday", "type": "wait", "until": {"date_field": "birthday"}},
        {"id": "half", "type": "wait", "duration": "P1DT12H"},
        {"id": "ab", "type": "split", "branches": [
            {"weight": 30, "steps": [{"id": "a", "type": "add_to_list", "list": "vip"}]},
            {"weight": 70, "steps": [{"id": "b", "type": "remove_from_list", "list": "vip"}]}]},
        {"id": "points", "type": "score", "points": -5},
        {"id": "set", "type": "update_contact", "set": {"attributes.plan": "pro", "attributes.tags": ["a", 1, None],
                                                         "first_name": "Ana", "birthday": "1990-04-01",
                                                         "timezone": "Europe/Paris", "language": None}},
        {"id": "hook", "type": "webhook", "url": "https://crm.example.com/hook", "body": {"plan": "pro"}},
        {"id": "maybe", "type": "wait_for", "event": "form_submitted",
         "where": {"any": [{"field": "properties.form", "op": "in", "value": ["a", "b"]},
                           {"not": {"field": "properties.spam", "op": "exists"}}]},
         "timeout": "P1D", "then": [], "else": [{"id": "bye", "type": "delete_contact"}]}),
    "criteria of every kind": base({"id": "check", "type": "if", "condition": {"all": [
        {"in_list": "vip"}, {"in_segment": "active"},
        {"field": "created_at", "op": "before", "value": "-P30D"},
        {"field": "score", "op": "gte", "value": 10},
        {"field": "email", "op": "ends_with", "value": "@example.com"},
        {"field": "attributes.city", "op": "not_in", "value": ["Paris", "Lyon"]},
        {"field": "phone", "op": "not_exists", "value": None},
        {"event": "purchase", "within": "P6M", "count": {"gte": 2, "lt": 10}, "where": {}},
        {"not": {"event": "page_view", "within": "P6M"}}]},
        "then": [{"id": "yes", "type": "exit"}]}),
    "re-entry always, reentry never": base(entry={"reentry": "always"}, goals=[
        {"event": "purchase", "where": {"field": "properties.amount", "op": "gt", "value": 10}}]),
}

# Scenarios the validator refuses for a reason the schema can state too.
BAD: dict[str, dict] = {
    "not an object": [],  # type: ignore[dict-item]
    # date triggers run on birthday only (the one date indexed by day)
    "date trigger on an attribute": {
        "id": "trial", "name": "Trial", "trigger": {"date": {"field": "attributes.trial_ends_at", "at": "10:30"}},
        "steps": [{"id": "mail", "type": "email", "subject": "Hi", "text": "Your trial ends"}]},
    "date trigger on a custom date field without the attributes prefix": {
        "id": "renewal", "name": "Renewal", "trigger": {"date": {"field": "contract_start", "annual": True}},
        "steps": [{"id": "x", "type": "exit"}]},
    "missing id": {"name": "S", "trigger": {"event": "signup"}, "steps": [{"id": "x", "type": "exit"}]},
    "missing steps": {"id": "s", "name": "S", "trigger": {"event": "signup"}},
    "empty steps": base() | {"steps": []},
    "bad scenario id": base() | {"id": "Not An Id"},
    "blank name": base() | {"name": "  "},
    "unknown top-level key": base(owner="me"),
    "bad step type": base({"id": "x", "type": "fax"}),
    "step without id": base({"type": "exit"}),
    "step without type": base({"id": "x"}),
    "bad step id": base({"id": "has space", "type": "exit"}),
    "unknown key in a step": base({"id": "x", "type": "exit", "color": "red"}),
    "field of another step type": base({"id": "w", "type": "wait", "duration": "P1D", "template": "t"}),
    "bad duration": base({"id": "w", "type": "wait", "duration": "3 days"}),
    "lowercase duration": base({"id": "w", "type": "wait", "duration": "p3d"}),
    "duration and until": base({"id": "w", "type": "wait", "duration": "P1D", "until": {"time": "09:00"}}),
    "wait with nothing": base({"id": "w", "type": "wait"}),
    "bad time of day": base({"id": "w", "type": "wait", "until": {"time": "25:00"}}),
    "offset with time": base({"id": "w", "type": "wait", "until": {"time": "09:00", "offset": "P1D"}}),
    "email with template and subject": base({"id": "m", "type": "email", "template": "t", "subject": "Hi"}),
    "email with neither": base({"id": "m", "type": "email"}),
    "inline email without subject": base({"id": "m", "type": "email", "html": "<p>Hi</p>"}),
    "inline email without body": base({"id": "m", "type": "email", "subject": "Hi"}),
    "blank subject": base({"id": "m", "type": "email", "subject": " ", "text": "Hi"}),
    "transactional not a boolean": base({"id": "m", "type": "sms", "text": "Hi", "transactional": "yes"}),
    "sms with template and text": base({"id": "m", "type": "sms", "template": "t", "text": "Hi"}),
    "wait_for without timeout": base({"id": "w", "type": "wait_for", "event": "purchase"}),
    "wait_for with a bad event type": base({"id": "w", "type": "wait_for", "event": "buy now!", "timeout": "P1D"}),
    "if without then": base({"id": "i", "type": "if", "condition": {"in_list": "vip"}}),
    "if with an empty then": base({"id": "i", "type": "if", "condition": {"in_list": "vip"}, "then": []}),
    "split with one branch": base({"id": "s", "type": "split", "branches": [
        {"weight": 100, "steps": [{"id": "x", "type": "exit"}]}]}),
    "split weight out of range": base({"id": "s", "type": "split", "branches": [
        {"weight": 0, "steps": [{"id": "a", "type": "exit"}]},
        {"weight": 100, "steps": [{"id": "b", "type": "exit"}]}]}),
    "list not an id": base({"id": "l", "type": "add_to_list", "list": ""}),
    "zero points": base({"id": "p", "type": "score", "points": 0}),
    "points as text": base({"id": "p", "type": "score", "points": "5"}),
    "set a computed field": base({"id": "u", "type": "update_contact", "set": {"score": 5}}),
    "set nothing": base({"id": "u", "type": "update_contact", "set": {}}),
    "set a birthday that is not a date": base({"id": "u", "type": "update_contact", "set": {"birthday": "1st May"}}),
    "set an unknown time zone": base({"id": "u", "type": "update_contact", "set": {"timezone": "Mars/Olympus"}}),
    "webhook over http": base({"id": "h", "type": "webhook", "url": "http://crm.example.com/hook"}),
    "webhook body not an object": base({"id": "h", "type": "webhook", "url": "https://a.example.com", "body": []}),
    "trigger with neither": base() | {"trigger": {}},
    "trigger with event and date": base() | {"trigger": {"event": "signup", "date": {"field": "birthday"}}},
    "trigger filter on a contact field": base() | {"trigger": {"event": "signup",
                                                               "where": {"field": "email", "op": "exists"}}},
    "date trigger on a non-date built-in": base() | {"trigger": {"date": {"field": "email"}}},
    "reentry unknown": base(entry={"reentry": "sometimes"}),
    "reentry after a bad duration": base(entry={"reentry": {"after": "week"}}),
    "max_contacts zero": base(entry={"max_contacts": 0}),
    "goal without event": base(goals=[{"where": {"field": "properties.a", "op": "exists"}}]),
    "quiet hours without end": base(settings={"quiet_hours": {"from": "21:00"}}),
    "unknown settings key": base(settings={"colour": "blue"}),
    "unknown settings time zone": base(settings={"timezone": "Paris"}),
    "criteria with an unknown operator": base(exit_when={"field": "email", "op": "like", "value": "a"}),
    "criteria with an unknown field": base(exit_when={"field": "plan", "op": "eq", "value": "pro"}),
    "criteria with two kinds": base(exit_when={"in_list": "a", "in_segment": "b"}),
    "criteria with an empty all": base(exit_when={"all": []}),
    "in without a list": base(exit_when={"field": "email", "op": "in", "value": "a@example.com"}),
    "eq without a value": base(exit_when={"field": "email", "op": "eq"}),
    "exists with a value": base(exit_when={"field": "email", "op": "exists", "value": 1}),
    "count with an unknown bound": base(exit_when={"event": "purchase", "count": {"about": 3}}),
    "within not a duration": base(exit_when={"event": "purchase", "within": "6 months"}),
}


def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(scenario_schema())
    assert scenario_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_checked_in_copy_is_the_generated_schema():
    checked_in = (HERE / "scenario.schema.json").read_text(encoding="utf-8")
    assert checked_in == scenario_schema_json(), "regenerate it: make schema"


@pytest.mark.parametrize("name", sorted(scenarios()))
def test_every_example_is_valid_under_both(name):
    definition = scenarios()[name]
    assert validate(definition) == []
    assert schema_errors(definition) == []


@pytest.mark.parametrize("name", sorted(GOOD))
def test_valid_scenarios_are_accepted_by_both(name):
    assert validate(copy.deepcopy(GOOD[name])) == []
    assert schema_errors(GOOD[name]) == []


@pytest.mark.parametrize("name", sorted(BAD))
def test_invalid_scenarios_are_refused_by_both(name):
    assert validate(copy.deepcopy(BAD[name])) != []
    assert schema_errors(BAD[name]) != []


def test_the_schema_describes_every_step_type_for_completion():
    step = scenario_schema()["$defs"]["step"]
    types = step["properties"]["type"]
    assert len(types["enum"]) == len(types["enumDescriptions"]) == 13
    assert all(description.strip() for description in types["enumDescriptions"])
    assert json.loads(scenario_schema_json()) == scenario_schema()
