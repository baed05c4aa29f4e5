"""GET /openapi.json: the API's OpenAPI 3.1 description, generated from the app's own routes.

Nothing here lists routes: every path and method comes from the Chalice app's route table,
the roles from each route's declaration (api/routing.ApiBlueprint), a JSON body from the
view reading one, `limit` and `cursor` from the view paginating, and body schemas from the
validators that can state their shape (the scenario JSON Schema). A route added to a
blueprint is described as soon as it exists.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from functools import cache
from types import FunctionType
from typing import Any

from chalice import Response

from chalicelib.api import http
from chalicelib.api.routing import PUBLIC, ApiBlueprint

bp = ApiBlueprint(__name__)

_PATH_PARAMETER = re.compile(r"{(\w+)}")
# Who reads what from the query string: a view calling one of these takes that parameter.
_QUERY_READERS: dict[Callable[..., Any], dict[str, Any] | list[dict[str, Any]]] = {
    http.page_limit: {"name": "limit", "in": "query", "required": False,
                      "description": "items per page",
                      "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
    http.decode_cursor: {"name": "cursor", "in": "query", "required": False,
                         "description": "the `next` of the previous page (signed; only this route's are accepted)",
                         "schema": {"type": "string"}},
    http.date_range: [{"name": name, "in": "query", "required": False, "description": f"{what} day (UTC)",
                       "schema": {"type": "string", "format": "date"}}
                      for name, what in (("from", "the first"), ("to", "the last"))],
}
_JSON_READERS = (http.read_json, http.read_object)
ERROR = {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "properties": {"error": {
        "type": "object", "required": ["code", "message"], "additionalProperties": False,
        "properties": {
            "code": {"type": "string"}, "message": {"type": "string"},
            "details": {"type": "array", "items": {
                "type": "object", "required": ["path", "message"],
                "properties": {"path": {"type": "string"}, "message": {"type": "string"}}}},
        }}},
}


@bp.route("/openapi.json", methods=["GET"], roles=PUBLIC)
def openapi() -> Response:
    return Response(document_json(bp.current_app), status_code=200, headers={
        "Content-Type": "application/json", "Cache-Control": "public, max-age=300",
        "Access-Control-Allow-Origin": "*"})


def document_json(app: Any) -> str:
    return _cached(app)


@cache
def _cached(app: Any) -> str:
    return json.dumps(document(app), separators=(",", ":"))


def document(app: Any) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route of `app` (a Chalice app)."""
    components: dict[str, Any] = {"Error": ERROR}
    paths: dict[str, Any] = {}
    for path in sorted(app.routes):
        operations = paths.setdefault(path, {})
        for method, entry in sorted(app.routes[path].items()):
            operations[method.lower()] = _operation(path, method, entry, components)
    _link_creations(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Parcours", "version": "1",
                 "description": "Serverless marketing automation. Errors always come as "
                                '{"error": {"code", "message", "details"}}.'},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "an API key: Authorization: Bearer KEY"}},
        },
    }


def _operation(path: str, method: str, entry: Any, components: dict[str, Any]) -> dict[str, Any]:
    view = entry.view_function
    roles = getattr(view, "roles", PUBLIC)
    calls = set(_called(getattr(view, "__wrapped__", view)))
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
                  for name in _PATH_PARAMETER.findall(path)]
    for reader, spec in _QUERY_READERS.items():
        if reader in calls:
            parameters += spec if isinstance(spec, list) else [spec]
    operation: dict[str, Any] = {
        "operationId": f"{method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', path).rstrip('_')}",
        "summary": (view.__doc__ or view.__name__).strip().splitlines()[0],
        "parameters": parameters,
        "responses": {
            "default": {"description": "a refusal, in the error format",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "2XX": {"description": "done"},
        },
    }
    if roles:
        operation["security"] = [{"apiKey": []}]
        operation["description"] = "roles: " + ", ".join(sorted(roles))
    else:
        operation["security"] = []
    body = _body(path, entry, view, calls, components)
    if body:
        operation["requestBody"] = body
    return operation


def _body(path: str, entry: Any, view: Any, calls: set[Any], components: dict[str, Any]) -> dict[str, Any] | None:
    content_types = [kind for kind in entry.content_types if kind != "application/json"]
    if any(reader in calls for reader in _JSON_READERS):
        factory = getattr(view, "body_schema", None)
        schema = _components(factory(), _component_name(path), components) if factory else {"type": "object"}
        return {"required": True, "content": {"application/json": {"schema": schema}}}
    if content_types:  # a body read as it is (CSV imports)
        return {"required": True, "content": {kind: {"schema": {"type": "string"}} for kind in content_types}}
    return None


def _component_name(path: str) -> str:
    """A body's component is named after its collection: /scenarios/{id} takes a Scenarios body."""
    return path.strip("/").split("/")[0].title()


def _link_creations(paths: dict[str, Any]) -> None:
    """Links (for stateful testing and for readers): what POST /things creates, answered with its
    `id`, is what every /things/{thing_id}... operation takes."""
    for path, operations in paths.items():
        if "post" not in operations or "requestBody" not in operations["post"]:
            continue
        links: dict[str, Any] = {}
        for target, target_operations in paths.items():
            match = re.fullmatch(re.escape(path) + r"/{(\w+)}(/.*)?", target)
            if not match:
                continue
            for operation in target_operations.values():
                links[operation["operationId"]] = {"operationId": operation["operationId"],
                                                   "parameters": {match.group(1): "$response.body#/id"}}
        if links:
            operations["post"]["responses"]["2XX"]["links"] = links


def _components(schema: dict[str, Any], name: str, components: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema with its own `$defs`, moved under components (refs rewritten to point there)."""
    prefix = f"{name}."
    text = json.dumps({key: value for key, value in schema.items() if key not in ("$schema", "$id")})
    text = text.replace('"#/$defs/', f'"#/components/schemas/{prefix}')
    moved = json.loads(text)
    for key, value in moved.pop("$defs", {}).items():
        components[prefix + key] = value
    components[name] = moved
    return {"$ref": f"#/components/schemas/{name}"}


def _called(function: Any, depth: int = 2) -> Iterator[Any]:
    """The functions `function` names, and those its module's own helpers name (one level down):
    enough to see a view paginate or read JSON through a small helper."""
    code = getattr(function, "__code__", None)
    if code is None:
        return
    namespace = function.__globals__
    for name in code.co_names:
        target = namespace.get(name)
        if not isinstance(target, FunctionType):
            continue
        yield target
        if depth > 1 and target.__module__ == function.__module__:
            yield from _called(target, depth - 1)
