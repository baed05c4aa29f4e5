"""GET /health: liveness, no key needed."""

from chalicelib.api.routing import PUBLIC, ApiBlueprint

bp = ApiBlueprint(__name__)


@bp.route("/health", methods=["GET"], roles=PUBLIC)
def health() -> dict:
    return {"status": "ok"}
