"""GDPR: a contact's data export, and its erasure (DELETE /contacts/{id})."""
from __future__ import annotations

from chalicelib import clock
from chalicelib.api.auth import READ, WRITE
from chalicelib.api.http import not_found
from chalicelib.api.routing import ApiBlueprint
from chalicelib.contacts import service as contacts
from chalicelib.gdpr import erase, export

bp = ApiBlueprint(__name__)


@bp.route("/contacts/{contact_id}/export", methods=["GET"], roles=READ)
def export_contact(contact_id: str) -> dict:
    bundle = export.export(contact_id)
    if bundle is None:
        raise not_found("This contact")
    return bundle


@bp.route("/contacts/{contact_id}", methods=["DELETE"], roles=WRITE)
def erase_contact(contact_id: str) -> dict:
    if contacts.get(contact_id) is None:
        raise not_found("This contact")
    principal = getattr(bp.current_request, "principal", None)
    erase.erase(contact_id, reason=f"api:{principal.key_id if principal else 'unknown'}")
    return {"id": contact_id, "erased": True, "erased_at": clock.iso(clock.now())}
