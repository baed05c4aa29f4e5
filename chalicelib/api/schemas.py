"""GET /schemas/scenario.json: the JSON Schema of scenario files, public so editors can fetch it."""
from __future__ import annotations

from chalice import Response

from chalicelib.api.routing import PUBLIC, ApiBlueprint
from chalicelib.scenarios.json_schema import MEDIA_TYPE, scenario_schema_json

bp = ApiBlueprint(__name__)


@bp.route("/schemas/scenario.json", methods=["GET"], roles=PUBLIC)
def scenario_schema() -> Response:
    return Response(scenario_schema_json(), status_code=200, headers={
        "Content-Type": MEDIA_TYPE, "Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"})
