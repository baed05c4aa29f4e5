"""GET /local/outbox (admin, local stack only): the emails and SMS the embedded AWS received."""
from __future__ import annotations

from chalicelib.api.auth import ADMIN
from chalicelib.api.http import decode_cursor, not_found, page, page_limit
from chalicelib.api.routing import ApiBlueprint
from chalicelib.config import settings
from chalicelib.problems import Invalid, Problem

bp = ApiBlueprint(__name__)


@bp.route("/local/outbox", methods=["GET"], roles=ADMIN)
def local_outbox() -> dict:
    if not settings().local:
        raise not_found("This resource")
    from chalicelib.local import outbox  # imports moto: only ever on the local stack

    cursor = decode_cursor(bp.current_request)
    before = None
    if cursor is not None:
        before = cursor.get("before")
        if not isinstance(before, int) or isinstance(before, bool) or before < 1:
            raise Invalid([Problem("cursor", "cursor is not one this API gave")])
    items, next_seq = outbox.page(page_limit(bp.current_request), before)
    return page(items, {"before": next_seq} if next_seq else None)
