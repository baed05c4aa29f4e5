"""GET /openapi.json, and schemathesis driving the local stack over real HTTP from it.

Every request schemathesis makes from the description (random bodies, parameters and
keys; stateful sequences following the document's links) must answer something else than
a 5xx, and every refusal must come in the error format. `make test` runs a bounded number
of examples per operation; `make test-slow` a bigger run.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from chalicelib.api.routing import PUBLIC
from tests.helpers import make_run

# Tracking links are opened by mail clients and people: their refusals are pages, not JSON.
PAGES = re.compile(r"^/(t/[oc]|u)/")


class Served:
    def __init__(self, base: str, admin: str, ingest: str) -> None:
        self.base, self.admin, self.ingest = base, admin, ingest


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """`make run` on a free loopback port, shared by every example of this module."""
    from chalicelib.channels import webhooks

    def no_network(url: str, *args: Any, **kwargs: Any) -> int:
        raise webhooks.Refused("tests do not leave the machine")

    patch = pytest.MonkeyPatch()
    patch.setattr(webhooks, "post", no_network)  # subscriptions schemathesis creates would call the internet
    try:
        with make_run(patch) as (port, runtime):
            base = f"http://127.0.0.1:{port}"
            created = requests.post(f"{base}/keys", json={"role": "ingest", "name": "web"}, timeout=30,
                                    headers={"Authorization": f"Bearer {runtime.admin_key}"})
            assert created.status_code == 201, created.text
            yield Served(base, runtime.admin_key, created.json()["key"])
    finally:
        patch.undo()


@pytest.fixture(scope="module")
def described(served: Served) -> Any:
    document = requests.get(f"{served.base}/openapi.json", timeout=30).json()
    return schemathesis.openapi.from_dict(document)


def forget_everything_but_keys() -> None:
    """Empty every table of the embedded DynamoDB but the API keys."""
    import boto3

    dynamodb = boto3.resource("dynamodb")
    for table in dynamodb.tables.all():
        if table.name.endswith("api-keys"):
            continue
        names = [key["AttributeName"] for key in table.key_schema]
        with table.batch_writer() as batch:
            for item in table.scan(ProjectionExpression=", ".join(f"#k{i}" for i in range(len(names))),
                                   ExpressionAttributeNames={f"#k{i}": name for i, name in enumerate(names)}
                                   )["Items"]:
                batch.delete_item(Key=item)


def in_error_format(response: Any, path: str) -> None:
    status = response.status_code
    assert status < 500, f"{status} on {path}: {response.text[:500]}"
    if status < 400 or (PAGES.match(path) and response.headers.get("Content-Type", "").startswith("text/html")):
        return
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str), body
    assert set(body["error"]) <= {"code", "message", "details"}, body
    for detail in body["error"].get("details", []):
        assert isinstance(detail["path"], str) and isinstance(detail["message"], str), body


def test_the_description_covers_every_route_and_its_roles(api):
    import app as app_module

    response = api.get("/openapi.json", key="")
    assert response.status_code == 200
    document = response.data
    assert document["openapi"].startswith("3.1")
    described_routes = {(path, method.upper()) for path, operations in document["paths"].items()
                        for method in operations}
    assert described_routes == {(path, method) for path, methods in app_module.app.routes.items()
                                for method in methods}
    for path, methods in app_module.app.routes.items():
        for method, entry in methods.items():
            operation = document["paths"][path][method.lower()]
            assert bool(operation["security"]) == (entry.view_function.roles != PUBLIC), (path, method)
            assert {p["name"] for p in operation["parameters"] if p["in"] == "path"} == set(entry.view_args)
    schemathesis.openapi.from_dict(document)  # a description schemathesis can read


def test_the_description_is_generated_from_validators_and_pagination(api):
    document = api.get("/openapi.json", key="").data
    scenario_body = document["paths"]["/scenarios"]["post"]["requestBody"]["content"]["application/json"]
    assert scenario_body["schema"] == {"$ref": "#/components/schemas/Scenarios"}
    scenario = document["components"]["schemas"]["Scenarios"]
    assert {"id", "trigger", "steps"} <= set(scenario["properties"])
    assert "#/$defs/" not in json.dumps(document)
    for path in ("/contacts", "/lists", "/segments", "/templates", "/lists/{list_id}/members"):
        names = {p["name"] for p in document["paths"][path]["get"]["parameters"] if p["in"] == "query"}
        assert {"limit", "cursor"} <= names, path
    links = document["paths"]["/lists"]["post"]["responses"]["2XX"]["links"]
    assert links["get_lists_list_id"]["parameters"] == {"list_id": "$response.body#/id"}


schema = schemathesis.pytest.from_fixture("described")
FUZZ = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.mark.heavy
@schema.parametrize()
@FUZZ
def test_no_request_gets_a_server_error(case: Any, served: Served) -> None:
    roles = case.operation.definition.raw.get("description", "")
    keys = [served.admin] + ([served.ingest] if "ingest" in roles else [])
    for key in keys:
        response = case.call(base_url=served.base, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        in_error_format(response, case.formatted_path)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=200, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error_long_run(case: Any, served: Served) -> None:
    response = case.call(base_url=served.base, headers={"Authorization": f"Bearer {served.admin}"}, timeout=60)
    in_error_format(response, case.formatted_path)


def test_sequences_following_the_links_get_no_server_error(described, served):
    """Stateful: create a list, segment, template or scenario, then act on what was created."""
    class Workflow(described.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Each sequence starts from an empty account, as Hypothesis replays sequences and
            # expects the same answers (a POST /lists that answered 201 must not answer 409).
            forget_everything_but_keys()

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": served.base, "headers": {"Authorization": f"Bearer {served.admin}"}, "timeout": 60}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            in_error_format(response, case.formatted_path)

    Workflow.run(settings=settings(max_examples=15, stateful_step_count=6, deadline=None, database=None,
                                   derandomize=True, suppress_health_check=list(HealthCheck)))


def test_body_schemas_accept_what_the_validators_accept():
    from jsonschema import Draft202012Validator

    from chalicelib.channels import template_store
    from chalicelib.lists import service as lists
    from chalicelib.scenarios.json_schema import segment_schema
    from examples import HERE as EXAMPLES

    segment = json.loads((EXAMPLES / "segments" / "inactive-6-months.json").read_text())
    listed = json.loads((EXAMPLES / "lists" / "loyal-customers.json").read_text())
    template = {"id": "welcome", "channel": "email", "subject": "Hi {{ contact.first_name }}", "html": "<p>Hi</p>"}
    for schema, body in ((segment_schema(), segment), (lists.body_schema(), listed),
                         (template_store.body_schema(), template)):
        Draft202012Validator(schema).validate(body)
    assert lists.validate(listed) == [] and template_store.validate(template)[1] == []
    assert not Draft202012Validator(template_store.body_schema()).is_valid({**template, "channel": {}})
