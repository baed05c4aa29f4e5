"""Property tests over the input formats: whatever arrives, validators answer with problems (their
documented refusal) or a clean value that DynamoDB can store; they never raise.

Inputs are drawn from JSON as a hostile client writes it: NaN and infinities, numbers outside
DynamoDB's range or precision, lone surrogates in values and keys, deep nesting, wrong types in
every place (an `op` that is a list, a `channel` that is an object), and plausible documents
(the reference scenarios, valid events) with random parts replaced.
"""
from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import limits
from chalicelib.channels import template_store
from chalicelib.contacts import payload
from chalicelib.criteria.validate import validate as validate_criteria
from chalicelib.events.validate import validate_event
from chalicelib.problems import Problem
from chalicelib.scenarios.schema import validate as validate_scenario
from chalicelib.scoring.rules import validate_settings
from examples import scenario as example_scenario
from tests.helpers import hostile_criteria, hostile_json, hostile_strings

PROPERTIES = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                      suppress_health_check=[HealthCheck.too_slow])

anything = hostile_json()
criteria = hostile_criteria()
hostile_text = hostile_strings()


def _problems(found: Any) -> list[Problem]:
    assert isinstance(found, list) and all(isinstance(problem, Problem) for problem in found), found
    return found


def _storable(value: Any) -> None:
    """What a validator accepted, DynamoDB's own serializer (boto3) accepts too."""
    def numbers(item: Any) -> Any:
        if isinstance(item, float):
            return Decimal(repr(item))
        if isinstance(item, dict):
            return {key: numbers(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [numbers(inner) for inner in item]
        return item

    assert limits.problems(value) == []
    TypeSerializer().serialize(numbers(value))
    limits.size(value)


@PROPERTIES
@given(anything)
def test_limits_flag_exactly_what_dynamodb_refuses(value):
    found = _problems(limits.problems(value))
    if not found:
        _storable(value)


@PROPERTIES
@given(st.fixed_dictionaries({}, optional={
    "id": st.one_of(st.just("evt-1"), anything), "type": st.one_of(st.just("signup"), anything),
    "contact": st.one_of(st.just({"email": "ana@example.com"}), anything),
    "traits": st.one_of(st.fixed_dictionaries({}, optional={"first_name": anything, "attributes": anything}),
                        anything),
    "consent": st.one_of(st.fixed_dictionaries({}, optional={"email": anything, "source": anything}), anything),
    "properties": anything, "timestamp": anything}) | anything)
def test_events_are_refused_or_storable(raw):
    from datetime import timedelta

    event, found = validate_event(raw, "", allow_system=False, future_tolerance=timedelta(seconds=300))
    _problems(found)
    assert (event is None) == bool(found)
    if event is not None:
        _storable(event.properties)
        _storable(event.attributes)
        assert event.consent_source is None or len(event.consent_source) <= 200


@PROPERTIES
@given(st.dictionaries(st.one_of(st.sampled_from(["email", "phone", "first_name", "attributes", "consent",
                                                   "birthday", "timezone", "score"]), hostile_text),
                       anything, max_size=5))
def test_contact_bodies_are_refused_or_storable(body):
    change, found = payload.parse_patch(body)
    if not _problems(found):
        _storable(change.traits)
        _storable(change.attributes)
        assert limits.size(body) <= limits.MAX_PART_BYTES


@PROPERTIES
@given(criteria, st.sampled_from(["contact", "properties"]))
def test_criteria_are_refused_with_paths_never_raised(tree, scope):
    for problem in _problems(validate_criteria(tree, "criteria", scope=scope)):
        assert problem.path.startswith("criteria")


@PROPERTIES
@given(st.fixed_dictionaries({}, optional={"rules": st.lists(st.fixed_dictionaries(
    {"points": anything}, optional={"event": anything, "where": criteria, "criteria": criteria}), max_size=3),
    "half_life": anything, "stages": anything}) | anything)
def test_scoring_settings_are_refused_never_raised(body):
    _problems(validate_settings(body))


def _replace(document: Any, data: st.DataObject) -> Any:
    """`document` with one part, chosen at random, replaced by hostile JSON."""
    copied = copy.deepcopy(document)
    node, key = None, None
    current = copied
    while isinstance(current, (dict, list)) and current and data.draw(st.booleans()):
        keys = list(current) if isinstance(current, dict) else list(range(len(current)))
        node, key = current, data.draw(st.sampled_from(keys))
        current = current[key]
    replacement = data.draw(st.one_of(anything, criteria))
    if node is None:
        return replacement
    node[key] = replacement
    return copied


@PROPERTIES
@given(st.sampled_from(["welcome-series", "abandoned-cart", "lead-magnet", "loyal-customers", "zero-waste",
                        "birthday"]), st.data())
def test_scenarios_with_a_hostile_part_are_refused_never_raised(name, data):
    _problems(validate_scenario(_replace(example_scenario(name), data)))


@PROPERTIES
@given(st.fixed_dictionaries({}, optional={
    "id": st.one_of(st.just("welcome"), anything), "channel": st.one_of(st.sampled_from(["email", "sms"]), anything),
    "name": anything, "subject": st.one_of(hostile_text, anything), "html": st.one_of(hostile_text, anything),
    "text": st.one_of(hostile_text, anything)}))
def test_templates_are_refused_or_compile(body):
    cleaned, found = template_store.validate(body)
    if not _problems(found):
        assert cleaned["channel"] in ("email", "sms")
        _storable({part: cleaned[part] for part in ("subject", "html", "text") if cleaned.get(part) is not None})


def test_reference_documents_stay_valid():
    # The strategies above replace parts of these: they must be valid to begin with.
    for name in ("welcome-series", "abandoned-cart", "lead-magnet", "loyal-customers", "zero-waste", "birthday"):
        assert validate_scenario(example_scenario(name)) == [], name
