"""POST /events: one event or a batch of up to 500."""
from __future__ import annotations

from chalice import Response

from chalicelib.api.auth import INGEST
from chalicelib.api.http import BEACON_TYPES, PUBLIC_CORS, ApiError, read_json
from chalicelib.api.routing import ApiBlueprint
from chalicelib.config import settings
from chalicelib.events import service
from chalicelib.problems import Invalid, Problem

bp = ApiBlueprint(__name__)


@bp.route("/events", methods=["POST"], cors=PUBLIC_CORS, content_types=BEACON_TYPES, roles=INGEST)
def post_events() -> Response:
    principal = bp.current_request.principal  # type: ignore[attr-defined]  # set by the role check
    body = read_json(bp.current_request)
    batch = isinstance(body, dict) and "events" in body
    if batch:
        events = body["events"]
        if not isinstance(events, list) or not events:
            raise Invalid([Problem("events", "events must be a non-empty list")])
        if len(events) > settings().max_batch:
            raise ApiError(413, "too_large", f"A batch holds at most {settings().max_batch} events;"
                           f" this one has {len(events)}.")
    else:
        events = [body]
    try:
        report = service.ingest(events, public=principal.role == "ingest", paths=None if batch else [""])
    except service.NotQueued:
        raise ApiError(503, "unavailable", "The events were stored but could not be handed to automation yet;"
                       " post the same request again (nothing is stored twice).") from None
    if report.only_unavailable:
        raise ApiError(503, "unavailable", "The service is busy; post the same request again in a moment.",
                       [Problem(**error) for rejected in report.rejected for error in rejected["errors"]])
    if not report.accepted and not report.duplicates:
        details = [Problem(**error) for rejected in report.rejected for error in rejected["errors"]]
        raise Invalid(details, "No event was accepted.")
    return Response(report.as_dict(), status_code=202)
