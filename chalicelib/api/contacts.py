"""Contacts: upsert, read, patch, list, and a contact's history."""
from __future__ import annotations

from chalice import Response

from chalicelib.api.auth import INGEST, READ, WRITE
from chalicelib.api.http import (
    BEACON_TYPES,
    PUBLIC_CORS,
    ApiError,
    decode_cursor,
    not_found,
    page,
    page_limit,
    query,
    read_object,
)
from chalicelib.api.routing import ApiBlueprint
from chalicelib.channels import messages
from chalicelib.config import settings
from chalicelib.contacts import payload, service
from chalicelib.events import service as events
from chalicelib.problems import Invalid
from chalicelib.scenarios import journeys

bp = ApiBlueprint(__name__)


def _contact_or_404(contact_id: str):
    contact = service.get(contact_id)
    if contact is None:
        raise not_found("This contact")
    return contact


def _conflict() -> ApiError:
    return ApiError(409, "conflict", f"Another contact already has this {settings().unique_key}.")


@bp.route("/contacts", methods=["POST"], cors=PUBLIC_CORS, content_types=BEACON_TYPES, roles=INGEST)
def upsert_contact() -> Response:
    public = bp.current_request.principal.role == "ingest"  # type: ignore[attr-defined]  # set by the role check
    identity, change, problems = payload.parse_upsert(read_object(bp.current_request), public=public)
    if problems:
        raise Invalid(problems)
    try:
        upserted = service.upsert(identity, change)
    except service.ContactConflict:
        raise _conflict() from None
    payload.announce(upserted)
    if public:  # write-only: the same acknowledgement whether the contact existed or not
        return Response({"status": "accepted"}, status_code=202)
    return Response(service.to_api(upserted.contact), status_code=201 if upserted.created else 200)


@bp.route("/contacts", methods=["GET"], roles=READ)
def list_contacts() -> dict:
    params = query(bp.current_request)
    lookup = {name: params[name] for name in service.IDENTIFIERS if params.get(name)}
    if lookup:
        contact, problems = payload.find_one(lookup)
        if problems:
            raise Invalid(problems)
        return page([service.to_api(contact)] if contact else [], None)
    items, next_key = service.list_page(page_limit(bp.current_request), decode_cursor(bp.current_request))
    return page([service.to_api(item) for item in items], next_key)


@bp.route("/contacts/{contact_id}", methods=["GET"], roles=READ)
def get_contact(contact_id: str) -> dict:
    return service.to_api(_contact_or_404(contact_id))


@bp.route("/contacts/{contact_id}", methods=["PATCH"], roles=WRITE)
def patch_contact(contact_id: str) -> dict:
    contact = _contact_or_404(contact_id)
    change, problems = payload.parse_patch(read_object(bp.current_request))
    if problems:
        raise Invalid(problems)
    try:
        upserted = service.patch(contact, change)
    except service.ContactConflict:
        raise _conflict() from None
    payload.announce(upserted)
    return service.to_api(upserted.contact)


@bp.route("/contacts/{contact_id}/events", methods=["GET"], roles=READ)
def contact_events(contact_id: str) -> dict:
    _contact_or_404(contact_id)
    params = query(bp.current_request)
    items, next_key = events.history(contact_id, event_type=params.get("type") or None,
                                     limit=page_limit(bp.current_request), cursor=decode_cursor(bp.current_request))
    return page(items, next_key)


@bp.route("/contacts/{contact_id}/journeys", methods=["GET"], roles=READ)
def contact_journeys(contact_id: str) -> dict:
    _contact_or_404(contact_id)
    items = sorted(journeys.of_contact(contact_id), key=lambda item: item.entered_at or "", reverse=True)
    return {"items": [journeys.to_api(item) for item in items], "next": None}


@bp.route("/contacts/{contact_id}/messages", methods=["GET"], roles=READ)
def contact_messages(contact_id: str) -> dict:
    _contact_or_404(contact_id)
    return {"items": [messages.to_api(item) for item in messages.of_contact(contact_id)], "next": None}
