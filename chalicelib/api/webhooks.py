"""Outbound webhook subscriptions and their deliveries (channels.outbound)."""
from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.api.auth import READ, WRITE
from chalicelib.api.http import ApiError, decode_cursor, not_found, page, page_limit, read_object
from chalicelib.api.routing import ApiBlueprint
from chalicelib.channels import outbound, webhooks

bp = ApiBlueprint(__name__)


def webhook_schema() -> dict[str, Any]:
    return {**webhook_change_schema(), "required": ["url", "events"]}


def webhook_change_schema() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": {
        "url": {"type": "string", "description": "https on port 443, a public host name"},
        "events": {"type": "array", "minItems": 1, "maxItems": outbound.MAX_EVENTS,
                   "items": {"type": "string", "description": "an event type, PREFIX.* or *"}},
        "description": {"type": ["string", "null"], "maxLength": outbound.MAX_DESCRIPTION}}}


def _webhook_or_404(webhook_id: str) -> outbound.WebhookSubscription:
    found = outbound.get(webhook_id)
    if found is None:
        raise not_found("This webhook")
    return found


@bp.route("/webhooks", methods=["POST"], roles=WRITE, body=webhook_schema)
def create_webhook() -> Response:
    """Subscribe a URL to event types; the answer carries its signing secret, shown once."""
    try:
        subscription, secret = outbound.create(read_object(bp.current_request))
    except webhooks.Refused as error:
        raise ApiError(409, "not_configured", f"Webhooks cannot be signed: {error}.") from None
    return Response(outbound.to_api(subscription, secret=secret), status_code=201)


@bp.route("/webhooks", methods=["GET"], roles=READ)
def list_webhooks() -> dict:
    return {"items": [outbound.to_api(item) for item in outbound.all_subscriptions()], "next": None}


@bp.route("/webhooks/{webhook_id}", methods=["GET"], roles=READ)
def get_webhook(webhook_id: str) -> dict:
    return outbound.to_api(_webhook_or_404(webhook_id))


@bp.route("/webhooks/{webhook_id}", methods=["PATCH"], roles=WRITE, body=webhook_change_schema)
def patch_webhook(webhook_id: str) -> dict:
    """Change the URL, event types or description (the secret stays)."""
    subscription = _webhook_or_404(webhook_id)
    return outbound.to_api(outbound.update(subscription, read_object(bp.current_request)))


@bp.route("/webhooks/{webhook_id}", methods=["DELETE"], roles=WRITE)
def delete_webhook(webhook_id: str) -> Response:
    outbound.delete(_webhook_or_404(webhook_id))
    return Response(body="", status_code=204)


@bp.route("/webhooks/{webhook_id}/deliveries", methods=["GET"], roles=READ)
def webhook_deliveries(webhook_id: str) -> dict:
    """Deliveries newest first: status, attempts, last error, next attempt."""
    _webhook_or_404(webhook_id)
    items, next_key = outbound.deliveries(webhook_id, page_limit(bp.current_request), decode_cursor(bp.current_request))
    return page([outbound.delivery_to_api(item) for item in items], next_key)
