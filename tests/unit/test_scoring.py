from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.criteria import ContactSubject
from chalicelib.scoring.rules import (
    DEFAULT_SETTINGS,
    event_points,
    field_points,
    score,
    stage_for,
    validate_settings,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)

SETTINGS = {
    "rules": [
        {"event": "page_view", "points": 1},
        {"event": "page_view", "where": {"field": "properties.path", "op": "starts_with", "value": "/pricing"},
         "points": 5},
        {"event": "purchase", "where": {"field": "properties.amount", "op": "gte", "value": 100}, "points": 30},
        {"event": "email.unsubscribed", "points": -10},
        {"criteria": {"field": "attributes.plan", "op": "eq", "value": "pro"}, "points": 15},
        {"criteria": {"all": [{"field": "consent.email", "op": "eq", "value": True},
                              {"in_list": "newsletter"}]}, "points": 2},
    ],
    "half_life": "P30D",
    "stages": {"lead": 1, "MQL": 25, "SQL": 60, "customer": 100},
}


def paths(problems):
    return [problem.path for problem in problems]


# --- validation ----------------------------------------------------------------------


def test_default_and_example_settings_are_valid():
    assert validate_settings(DEFAULT_SETTINGS) == []
    assert validate_settings(SETTINGS) == []
    assert validate_settings({"rules": [], "half_life": None, "stages": {}}) == []
    assert validate_settings({}) == []


def test_settings_must_be_an_object():
    assert paths(validate_settings([])) == [""]


def test_rule_problems_have_paths():
    problems = validate_settings({
        "rules": [
            {"event": "", "points": 1},
            {"event": "purchase", "points": 1.5},
            {"event": "purchase", "points": True},
            {"event": "purchase"},
            {"points": 3},
            {"event": "purchase", "criteria": {}, "points": 1},
            {"event": "purchase", "points": 1, "weight": 2},
            {"event": "purchase", "points": 100_000},
            "purchase",
        ],
        "colour": "blue",
    })
    assert sorted(paths(problems)) == sorted([
        "colour",
        "rules[0].event",
        "rules[1].points",
        "rules[2].points",
        "rules[3].points",
        "rules[4]",
        "rules[5]",
        "rules[6].weight",
        "rules[7].points",
        "rules[8]",
    ])


def test_event_where_is_validated_as_properties_criteria():
    problems = validate_settings({"rules": [
        {"event": "purchase", "where": {"field": "email", "op": "eq", "value": "x"}, "points": 1},
        {"event": "purchase", "where": {"field": "properties.amount", "op": "nope", "value": 1}, "points": 1},
    ]})
    assert len(problems) == 2
    assert all(path.startswith(f"rules[{index}].where") for index, path in enumerate(paths(problems)))


def test_criteria_rules_score_the_profile_only():
    problems = validate_settings({"rules": [
        {"criteria": {"field": "nope", "op": "eq", "value": 1}, "points": 1},
        {"criteria": {"any": [{"event": "purchase"}, {"field": "score", "op": "gt", "value": 10}]}, "points": 1},
        {"criteria": {"not": {"in_segment": "vip"}}, "points": 1},
        {"criteria": {"field": "stage", "op": "eq", "value": "MQL"}, "points": 1},
    ]})
    assert paths(problems) == [
        "rules[0].criteria.field",
        "rules[1].criteria.any[0]",
        "rules[1].criteria.any[1].field",
        "rules[2].criteria.not",
        "rules[3].criteria.field",
    ]
    assert "event rule" in problems[1].message


@pytest.mark.parametrize("half_life", ["30 days", "P0D", "-P30D", 30, "PT0S"])
def test_half_life_must_be_a_positive_duration_or_null(half_life):
    assert paths(validate_settings({"half_life": half_life})) == ["half_life"]


def test_half_life_in_months_is_accepted():
    assert validate_settings({"half_life": "P6M"}) == []


def test_stages_must_be_known_and_increase_in_order():
    problems = validate_settings({"stages": {"lead": 10, "MQL": 10, "SQL": 5, "customer": 50, "hot": 3, "visitor": 0}})
    assert sorted(paths(problems)) == ["stages.MQL", "stages.SQL", "stages.hot", "stages.visitor"]
    assert paths(validate_settings({"stages": {"lead": "1"}})) == ["stages.lead"]
    assert paths(validate_settings({"stages": [1, 25]})) == ["stages"]
    assert validate_settings({"stages": {"MQL": 25, "customer": 200}}) == []  # stages may be skipped


# --- event points --------------------------------------------------------------------


def test_event_points_add_every_matching_rule():
    assert event_points(SETTINGS, {"type": "page_view", "properties": {"path": "/blog"}}) == 1
    assert event_points(SETTINGS, {"type": "page_view", "properties": {"path": "/pricing/pro"}}) == 6
    assert event_points(SETTINGS, {"type": "purchase", "properties": {"amount": 150}}) == 30
    assert event_points(SETTINGS, {"type": "purchase", "properties": {"amount": 50}}) == 0
    assert event_points(SETTINGS, {"type": "email.unsubscribed"}) == -10
    assert event_points(SETTINGS, {"type": "signup", "properties": {}}) == 0


def test_event_points_use_defaults_when_settings_are_missing():
    assert event_points(None, {"type": "purchase", "properties": {}}) == 20


# --- field points --------------------------------------------------------------------


def test_field_points_from_the_profile():
    contact = {"email": "ana@example.com", "attributes": {"plan": "pro"},
               "consent": {"email": {"granted": True}}, "lists": ["newsletter"]}
    assert field_points(SETTINGS, contact) == 17
    assert field_points(SETTINGS, {**contact, "lists": []}) == 15
    assert field_points(SETTINGS, {"attributes": {"plan": "free"}}) == 0


def test_field_points_accept_a_subject():
    contact = {"attributes": {}, "consent": {"email": {"granted": True}}}
    assert field_points(SETTINGS, ContactSubject(contact, lists=["newsletter"])) == 2


# --- decay ---------------------------------------------------------------------------


def test_exactly_one_half_life_gives_half_the_points():
    assert score(SETTINGS, [(NOW - timedelta(days=30), 10)], 0, NOW) == 5.0


def test_two_half_lives_give_a_quarter_and_fresh_events_count_in_full():
    events = [(NOW - timedelta(days=60), 20), (NOW, 3)]
    assert score(SETTINGS, events, 0, NOW) == 8.0


def test_field_points_do_not_decay():
    assert score(SETTINGS, [(NOW - timedelta(days=30), 10)], 15, NOW) == 20.0


def test_no_decay_without_half_life():
    settings = {**SETTINGS, "half_life": None}
    assert score(settings, [(NOW - timedelta(days=3650), 10), (NOW, 5)], 2, NOW) == 17.0


def test_score_rounds_to_two_decimals_and_future_events_count_in_full():
    assert score(SETTINGS, [(NOW - timedelta(days=10), 10)], 0, NOW) == round(10 * 0.5 ** (1 / 3), 2)
    assert score(SETTINGS, [(NOW + timedelta(days=1), 10)], 0, NOW) == 10.0


def test_negative_points_and_naive_datetimes():
    naive_now = NOW.replace(tzinfo=None)
    assert score(SETTINGS, [(naive_now - timedelta(days=30), -10)], 0, NOW) == -5.0


def test_empty_history_is_field_points_only():
    assert score(SETTINGS, [], 0, NOW) == 0.0


# --- stages --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "stage"),
    [(-5, "visitor"), (0, "visitor"), (0.99, "visitor"), (1, "lead"), (24.99, "lead"), (25, "MQL"),
     (59, "MQL"), (60, "SQL"), (99.99, "SQL"), (100, "customer"), (1000, "customer")],
)
def test_stage_is_the_highest_threshold_reached(points, stage):
    assert stage_for(SETTINGS, points) == stage


def test_without_customer_threshold_the_top_stage_is_sql():
    assert stage_for(DEFAULT_SETTINGS, 10_000) == "SQL"
    assert stage_for(None, 30) == "MQL"


def test_skipped_stages_are_never_reached():
    assert stage_for({"stages": {"MQL": 10}}, 5) == "visitor"
    assert stage_for({"stages": {"MQL": 10}}, 10) == "MQL"


def test_score_then_stage_end_to_end():
    history = [(NOW - timedelta(days=30), event_points(SETTINGS, {"type": "purchase", "properties": {"amount": 120}})),
               (NOW, event_points(SETTINGS, {"type": "page_view", "properties": {"path": "/pricing"}}))]
    contact = {"attributes": {"plan": "pro"}}
    total = score(SETTINGS, history, field_points(SETTINGS, contact), NOW)
    assert total == 15 + 6 + 15
    assert stage_for(SETTINGS, total) == "MQL"
