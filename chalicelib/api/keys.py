"""API keys (admin only). The clear key is shown once, in the answer to POST."""
from __future__ import annotations

from chalice import Response

from chalicelib import keys
from chalicelib.api.auth import ADMIN
from chalicelib.api.http import not_found, read_object
from chalicelib.api.routing import ApiBlueprint
from chalicelib.problems import Invalid, Problem

bp = ApiBlueprint(__name__)


@bp.route("/keys", methods=["POST"], roles=ADMIN)
def create_key() -> Response:
    body = read_object(bp.current_request)
    problems = [Problem(key, f"unknown field '{key}'") for key in body if key not in ("role", "name")]
    if body.get("role") not in keys.ROLES:
        problems.append(Problem("role", f"role must be one of {', '.join(keys.ROLES)}"))
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100:
        problems.append(Problem("name", "name must be a string of 1 to 100 characters"))
    if problems:
        raise Invalid(problems)
    record, key = keys.create(body["role"], str(name).strip())
    return Response({**keys.to_api(record), "key": key}, status_code=201)


@bp.route("/keys", methods=["GET"], roles=ADMIN)
def list_keys() -> dict:
    return {"items": [keys.to_api(record) for record in keys.list_keys()], "next": None}


@bp.route("/keys/{key_id}", methods=["DELETE"], roles=ADMIN)
def delete_key(key_id: str) -> Response:
    if not keys.revoke(key_id):
        raise not_found("This key")
    return Response(body="", status_code=204)
