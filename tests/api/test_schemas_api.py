"""GET /schemas/scenario.json: what an editor fetches to complete and check scenario files."""
from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from examples import scenarios


def test_the_scenario_schema_is_public_and_checks_the_examples(api):
    response = api.get("/schemas/scenario.json", key="")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/schema+json"
    schema = json.loads(response.body)
    checker = Draft202012Validator(schema)
    assert all(not list(checker.iter_errors(definition)) for definition in scenarios().values())
    assert list(checker.iter_errors({"id": "x", "name": "X", "trigger": {"event": "signup"},
                                     "steps": [{"id": "a", "type": "fax"}]}))


def test_a_scenario_the_schema_refuses_is_refused_by_the_api_too(api):
    definition = {"id": "x", "name": "X", "trigger": {"event": "signup"},
                  "steps": [{"id": "w", "type": "wait", "duration": "3 days"}]}
    schema = json.loads(api.get("/schemas/scenario.json", key="").body)
    assert list(Draft202012Validator(schema).iter_errors(definition))
    refused = api.post("/scenarios/validate", definition)
    assert refused.data["valid"] is False
    assert [problem["path"] for problem in refused.data["problems"]] == ["steps[0].duration"]
