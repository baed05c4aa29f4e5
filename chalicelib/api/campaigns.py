"""Campaigns: one email or SMS to lists and segments, scheduled, cancelled, reported."""
from __future__ import annotations

from chalice import Response

from chalicelib.api.auth import READ, WRITE
from chalicelib.api.http import ApiError, decode_cursor, not_found, page, page_limit, read_object
from chalicelib.api.routing import ApiBlueprint
from chalicelib.campaigns import definition, report
from chalicelib.campaigns import service as campaigns

bp = ApiBlueprint(__name__)


def _campaign_or_404(campaign_id: str) -> campaigns.Campaign:
    found = campaigns.get(campaign_id)
    if found is None:
        raise not_found("This campaign")
    return found


@bp.route("/campaigns", methods=["POST"], roles=WRITE, body=definition.body_schema)
def create_campaign() -> Response:
    try:
        created = campaigns.create(read_object(bp.current_request))
    except campaigns.Exists:
        raise ApiError(409, "conflict", "A campaign with this id exists already.") from None
    return Response(campaigns.to_api(created), status_code=201)


@bp.route("/campaigns", methods=["GET"], roles=READ)
def list_campaigns() -> dict:
    items, next_key = campaigns.page(page_limit(bp.current_request), decode_cursor(bp.current_request))
    return page([campaigns.to_api(item) for item in items], next_key)


@bp.route("/campaigns/{campaign_id}", methods=["GET"], roles=READ)
def get_campaign(campaign_id: str) -> dict:
    return campaigns.to_api(_campaign_or_404(campaign_id))


@bp.route("/campaigns/{campaign_id}", methods=["PUT"], roles=WRITE, body=definition.body_schema)
def put_campaign(campaign_id: str) -> dict:
    found = _campaign_or_404(campaign_id)
    return campaigns.to_api(campaigns.update(found, read_object(bp.current_request)))


@bp.route("/campaigns/{campaign_id}", methods=["DELETE"], roles=WRITE)
def delete_campaign(campaign_id: str) -> Response:
    campaigns.delete(_campaign_or_404(campaign_id))
    return Response("", status_code=204)


@bp.route("/campaigns/{campaign_id}/schedule", methods=["POST"], roles=WRITE, body=definition.schedule_schema)
def schedule_campaign(campaign_id: str) -> dict:
    campaigns.schedule(_campaign_or_404(campaign_id), read_object(bp.current_request))
    return campaigns.to_api(_campaign_or_404(campaign_id))


@bp.route("/campaigns/{campaign_id}/cancel", methods=["POST"], roles=WRITE)
def cancel_campaign(campaign_id: str) -> dict:
    campaigns.cancel(_campaign_or_404(campaign_id))
    return campaigns.to_api(_campaign_or_404(campaign_id))


@bp.route("/campaigns/{campaign_id}/report", methods=["GET"], roles=READ)
def campaign_report(campaign_id: str) -> dict:
    return report.report(_campaign_or_404(campaign_id))
