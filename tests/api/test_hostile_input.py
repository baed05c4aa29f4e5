"""Issue 10's fuzzing reproductions: every one answered in the error format, never a 500.

Each input here once answered 500 (or wrote what DynamoDB then refused). The answer must be
a 4xx with `{"error": {"code", "message"}}`, and nothing may be stored.
"""
from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import contact, deep, error_paths, hostile_criteria, hostile_json, one_email, signup


def refused(response: Any, *statuses: int) -> dict:
    """The error body of a refusal with one of `statuses` (400 or 422 by default)."""
    assert response.status_code in (statuses or (400, 422)), (response.status_code, response.body[:300])
    error = response.data["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str), response.data
    return error


HOLE = "<hole>"


def literal(body: dict, text: str) -> str:
    """`body` as JSON with `text`, verbatim, where HOLE stands: what json.dumps would not write."""
    return json.dumps(body).replace(json.dumps(HOLE), text)


def test_a_body_nested_4000_deep_is_refused_as_bad_json(api):
    body = "[" * 4000 + "]" * 4000
    for path in ("/events", "/contacts", "/scenarios/validate", "/segments/preview", "/templates"):
        assert refused(api.post(path, raw=body), 400)["code"] == "bad_json"


def test_a_5000_digit_integer_body_is_refused(api):
    assert refused(api.post("/events", raw="9" * 5000))
    response = api.post("/events", raw=json.dumps({"type": "signup", "contact": {"email": "ana@example.com"}})
                        .replace("}}", '}, "properties": {"n": ' + "7" * 5000 + "}}"))
    assert "properties.n" in error_paths(response)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "1e200", "1e-200",
                                    "123456789012345678901234567890123456789"])
def test_numbers_dynamodb_cannot_store_are_refused_with_their_path(api, number):
    event = {"type": "signup", "contact": {"email": "ana@example.com"}, "properties": {"amount": HOLE}}
    response = api.post("/events", raw=literal(event, number))
    refused(response, 422)
    assert error_paths(response) == ["properties.amount"]
    response = api.post("/contacts", raw=literal({"email": "ana@example.com", "attributes": {"ltv": HOLE}}, number))
    refused(response, 422)
    assert error_paths(response) == ["attributes.ltv"]
    assert api.get("/contacts?email=ana@example.com").data["items"] == []


def test_numbers_at_dynamodb_bounds_are_kept(api):
    response = api.post("/events", raw='{"type": "signup", "contact": {"email": "ana@example.com"}, '
                                       '"properties": {"big": 9.9e125, "small": 1e-130, "digits": '
                                       '1234567890123456789012345678901234567.8}}')
    assert response.status_code == 202, response.data


@pytest.mark.parametrize("where", ["first_name", "attributes", "property_key", "template"])
def test_lone_surrogates_are_refused_everywhere(api, where):
    surrogate = '"x\\ud800y"'
    if where == "first_name":
        response = api.post("/contacts", raw=literal({"email": "ana@example.com", "first_name": HOLE}, surrogate))
    elif where == "attributes":
        response = api.post("/contacts", raw=literal({"email": "ana@example.com", "attributes": {"plan": HOLE}},
                                                     surrogate))
    elif where == "property_key":
        event = {"type": "signup", "contact": {"email": "ana@example.com"}, "properties": {"k": 1}}
        response = api.post("/events", raw=json.dumps(event).replace('"k"', surrogate))
    else:
        response = api.post("/templates", raw=literal({"id": "t", "channel": "email", "subject": HOLE, "html": "hi"},
                                                      surrogate))
    assert "surrogate" in json.dumps(refused(response, 422))
    assert api.get("/contacts?email=ana@example.com").data["items"] == []


def test_an_oversized_consent_source_is_refused(api):
    response = api.post("/contacts", {"email": "ana@example.com", "consent": {"email": True, "source": "s" * 500_000}})
    refused(response, 413, 422)
    assert api.get("/contacts?email=ana@example.com").data["items"] == []


def test_deep_event_properties_and_simulate_contacts_are_refused(api):
    response = api.post("/events", {"type": "signup", "contact": {"email": "ana@example.com"},
                                    "properties": {"deep": deep(400)}})
    refused(response)
    assert api.post("/scenarios", one_email()).status_code == 201
    response = api.post("/scenarios/news/simulate", {"contact": {"email": "ana@example.com",
                                                                 "attributes": {"x": deep(500)}}})
    refused(response)
    # Within the bound the nesting is kept to DynamoDB's own limit of 32, with the path.
    response = api.post("/events", {"type": "signup", "contact": {"email": "ana@example.com"},
                                    "properties": {"deep": deep(40)}})
    refused(response, 422)
    assert error_paths(response)[0].startswith("properties.deep")


@pytest.mark.parametrize("op", [[], {}, ["eq"], 3])
def test_an_unhashable_op_is_refused_in_every_criteria(api, op):
    condition = {"field": "email", "op": op, "value": "x"}
    assert "criteria.op" in error_paths(api.post("/segments/preview", {"criteria": condition}))
    assert "criteria.op" in error_paths(api.post("/segments", {"id": "s", "name": "S", "criteria": condition}))
    response = api.put("/settings/scoring", {"rules": [{"criteria": condition, "points": 1}]})
    assert "rules[0].criteria.op" in error_paths(response)
    response = api.put("/settings/scoring", {"rules": [{"event": "signup", "points": 1, "where": {
        "field": "properties.x", "op": op, "value": 1}}]})
    assert "rules[0].where.op" in error_paths(response)
    definition = one_email()
    definition["trigger"]["where"] = {"field": "properties.x", "op": op, "value": 1}
    definition["steps"].insert(0, {"id": "check", "type": "if", "condition": condition,
                                   "then": [], "else": [{"id": "out", "type": "exit"}]})
    response = api.post("/scenarios/validate", definition)
    assert response.status_code == 200 and response.data["valid"] is False, response.data
    paths = {problem["path"] for problem in response.data["problems"]}
    assert {"trigger.where.op", "steps[0].condition.op"} <= paths, paths
    refused(api.post("/scenarios", definition), 422)


@pytest.mark.parametrize("duration", ["P99999999999D", "P9999999999Y", "PT99999999999999999H", "-P99999999999D",
                                      "-P3000Y"])  # before the year 1 (found by the long schemathesis run)
def test_durations_too_long_for_a_calendar_are_refused(api, duration):
    within = {"event": "purchase", "within": duration}
    assert "criteria.within" in error_paths(api.post("/segments", {"id": "s", "name": "S", "criteria": within}))
    assert "criteria.within" in error_paths(api.post("/segments/preview", {"criteria": within}))
    refused(api.put("/settings/scoring", {"rules": [], "half_life": duration}), 422)
    refused(api.put("/settings/activity", {"window": duration}), 422)
    definition = one_email()
    definition["steps"].insert(0, {"id": "pause", "type": "wait", "duration": duration})
    definition["entry"] = {"reentry": {"after": duration}}
    response = api.post("/scenarios/validate", definition)
    assert response.data["valid"] is False and {"steps[0].duration", "entry.reentry.after"} <= {
        problem["path"] for problem in response.data["problems"]}, response.data


@pytest.mark.parametrize("channel", [{}, [], 1, None])
def test_a_template_channel_that_is_not_a_name_is_refused(api, channel):
    response = api.post("/templates", {"id": "t", "channel": channel, "subject": "s", "html": "h"})
    assert "channel" in error_paths(response)


PAGINATED = ["/contacts", "/contacts/{contact}/events", "/lists", "/lists/fans/members", "/segments",
             "/segments/seg/contacts", "/templates", "/local/outbox"]


def _paginated(api: Any) -> list[str]:
    signup(api, "ana@example.com")
    assert api.post("/lists", {"id": "fans", "name": "Fans"}).status_code == 201
    assert api.post("/segments", {"id": "seg", "name": "Seg", "criteria": {"field": "email", "op": "exists"}}
                    ).status_code == 201
    return [path.format(contact=contact(api, "ana@example.com")["id"]) for path in PAGINATED]


def test_a_tampered_cursor_is_refused_on_every_paginated_route(api):
    forged = base64.urlsafe_b64encode(json.dumps({"id": "x"}).encode()).decode()
    for path in _paginated(api):
        for cursor in (forged, "%%%", "not-base64!", "e30", forged[:-3] + "abc"):
            response = api.get(f"{path}?cursor={cursor}")
            assert refused(response, 400)["code"] == "bad_cursor", path


def test_cursors_given_by_the_api_lead_to_the_next_page_and_only_on_their_route(api):
    for index in range(3):
        signup(api, f"c{index}@example.com")
    first = api.get("/contacts?limit=2").data
    cursor = first["next"]
    assert cursor
    rest = api.get(f"/contacts?limit=2&cursor={cursor}").data["items"]
    assert {item["id"] for item in first["items"]}.isdisjoint(item["id"] for item in rest)
    assert len(first["items"]) + len(rest) == 3
    # Signed for the route that gave it: refused on another.
    assert refused(api.get(f"/templates?cursor={cursor}"), 400)["code"] == "bad_cursor"
    payload, _, signature = base64.urlsafe_b64decode(cursor).rpartition(b".")
    tampered = base64.urlsafe_b64encode(payload.replace(b'"', b'"x', 1) + b"." + signature).decode()
    assert refused(api.get(f"/contacts?limit=2&cursor={tampered}"), 400)["code"] == "bad_cursor"


@pytest.mark.parametrize("digits", ["²", "٣", "１", "-1", "0", "501", "1e2", "99999999999999999999"])
def test_limits_and_versions_in_other_digits_are_refused(api, digits):
    assert error_paths(api.get(f"/contacts?limit={digits}")) == ["limit"]
    assert api.post("/scenarios", one_email()).status_code == 201
    refused(api.get(f"/scenarios/news?version={digits}"), 404)


def test_unknown_routes_answer_404_in_the_error_format(api):
    for method, path in (("GET", "/nope"), ("POST", "/contacts/a/b/c"), ("DELETE", "/nothing/here"),
                         ("GET", "/events/x")):
        assert refused(api.request(method, path), 404)["code"] == "not_found"
        assert refused(api.request(method, path, key=""), 404)["code"] == "not_found"


def test_chalice_refusals_come_in_the_error_format(api):
    assert refused(api.request("DELETE", "/events"), 405)["code"] == "method_not_allowed"
    assert refused(api.request("DELETE", "/"), 405)["code"] == "method_not_allowed"  # / leads to the console
    response = api.post("/scenarios", raw="{}", headers={"Content-Type": "application/xml"})
    assert refused(response, 415)["code"] == "unsupported_media_type"


def test_a_good_event_still_goes_through(api):
    signup(api, "ana@example.com", first_name="Ana", attributes={"plan": "pro", "seats": 3})
    stored = contact(api, "ana@example.com")
    assert stored["first_name"] == "Ana" and stored["attributes"] == {"plan": "pro", "seats": 3}


def as_json(value: Any) -> str:
    """JSON as a client may write it: NaN, Infinity and numbers of any length written out."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(key)}:{as_json(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(as_json(item) for item in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value)


THROUGH_THE_API = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@THROUGH_THE_API
@given(body=st.one_of(hostile_json(), st.fixed_dictionaries(
    {"type": st.just("signup"), "contact": st.just({"email": "ana@example.com"})},
    optional={"traits": hostile_json(), "consent": hostile_json(), "properties": hostile_json(),
              "id": hostile_json(), "timestamp": hostile_json()})))
def test_events_and_contacts_of_any_shape_get_no_server_error(api, body):
    for path in ("/events", "/contacts"):
        response = api.post(path, raw=as_json(body))
        assert response.status_code < 500, (path, response.body[:300])
        if response.status_code >= 400:
            refused(response, response.status_code)


@THROUGH_THE_API
@given(criteria=hostile_criteria(), template=st.dictionaries(
    st.sampled_from(["id", "channel", "subject", "html", "text"]), hostile_json()))
def test_criteria_and_templates_of_any_shape_get_no_server_error(api, criteria, template):
    for method, path, body in (("POST", "/segments/preview", {"criteria": criteria}),
                               ("PUT", "/settings/scoring", {"rules": [{"criteria": criteria, "points": 1}]}),
                               ("POST", "/scenarios/validate", {**one_email(), "exit_when": criteria}),
                               ("POST", "/templates", template)):
        raw = as_json(body)
        response = api.request(method, path, raw=raw)
        assert response.status_code < 500, (path, response.body[:300])
        if response.status_code >= 400:
            refused(response, response.status_code)
