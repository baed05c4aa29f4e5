"""The public links of a sent email: click redirect, open pixel, unsubscribe.

Tokens are signed (channels.tracking); a token that does not verify, or is of another kind,
is refused (the API answers 404). A click redirects only to the URL signed into its token,
so the redirect can never be pointed elsewhere. Recording is best effort: a storage error
is logged and the reader still gets the redirect or the pixel.

Repeat hits do not duplicate (see channels.feedback for the event ids): an open counts once
per message, a click once per message and URL. Nothing is recorded for a contact that no
longer exists (erased), so a late click cannot bring data back.

Unsubscribe (GET shows a page, POST unsubscribes, RFC 8058 one-click included) sets
consent.<channel> to not granted with source "unsubscribe link" and records
`email.unsubscribed` (for SMS: the SMS opt-out and `sms.opted_out`); a second POST changes
nothing and records nothing.
"""
from __future__ import annotations

from typing import Any

from chalicelib import clock
from chalicelib.channels import feedback, tracking
from chalicelib.config import settings
from chalicelib.contacts import service as contacts
from chalicelib.events import service as events
from chalicelib.logs import logger

UNSUBSCRIBE_SOURCE = "unsubscribe link"


def _read(token: str, kind: str) -> dict[str, Any] | None:
    return tracking.read_token(token, settings().token_secrets, kind)


def click(token: str) -> str | None:
    """Record the click; the URL to redirect to, or None for a token we did not sign."""
    data = _read(token, tracking.KIND_CLICK)
    if data is None:
        return None
    try:
        if contacts.get(data["contact_id"]) is not None:
            message = feedback.find_message(data["contact_id"], data["message_id"])
            feedback.record_message_event(
                data["contact_id"], message, "clicked", properties={"url": data["url"]},
                event_id=f"{data['message_id']}/clicked/{feedback.url_digest(data['url'])}",
                scenario=data["scenario"], step=data["step"], message_id=data["message_id"])
    except Exception:
        logger.exception("click not recorded", extra={"message": data["message_id"]})
    return data["url"]


def open_(token: str) -> bool:
    """Record the open; False for a token we did not sign."""
    data = _read(token, tracking.KIND_OPEN)
    if data is None:
        return False
    try:
        if contacts.get(data["contact_id"]) is not None:
            message = feedback.find_message(data["contact_id"], data["message_id"])
            feedback.record_message_event(
                data["contact_id"], message, "opened", event_id=f"{data['message_id']}/opened",
                scenario=data["scenario"], step=data["step"], message_id=data["message_id"])
    except Exception:
        logger.exception("open not recorded", extra={"message": data["message_id"]})
    return True


def unsubscribe_target(token: str) -> dict[str, Any] | None:
    """What an unsubscribe token names (contact, channel, message), or None."""
    return _read(token, tracking.KIND_UNSUBSCRIBE)


def unsubscribe(token: str) -> bool | None:
    """Unsubscribe the token's contact from its channel. None for a token we did not sign;
    True when this call changed something, False when it was already done (or the contact
    no longer exists)."""
    data = unsubscribe_target(token)
    if data is None:
        return None
    contact_id, channel, message_id = data["contact_id"], data["channel"], data["message_id"]
    contact = contacts.get(contact_id)
    if contact is None:
        return False
    message = feedback.find_message(contact_id, message_id)
    if channel == "sms":
        changed = feedback.opt_out_sms(contact_id, source=UNSUBSCRIBE_SOURCE, message=message,
                                       event_id=f"{message_id}/opted_out" if message_id else None)
        return _withdraw(contact, "sms") or changed
    if not _withdraw(contact, channel):
        return False
    origin = f"{message_id}/unsubscribed" if message_id else \
        f"{contact_id}/unsubscribed/{clock.iso(clock.now())}"
    feedback.record_message_event(contact_id, message, "unsubscribed", event_id=origin, channel=channel,
                                  properties={"source": UNSUBSCRIBE_SOURCE}, message_id=message_id)
    return True


def _withdraw(contact: contacts.Contact, channel: str) -> bool:
    """consent.<channel> not granted, source "unsubscribe link"; True if it changed."""
    upserted = contacts.patch(contact, contacts.Change(consent={channel: False}, consent_source=UNSUBSCRIBE_SOURCE))
    if not upserted.changed:
        return False
    events.queue.enqueue(events.contact_events(upserted, origin=f"unsubscribe-{contact.id}-{channel}-"
                                                                f"{clock.iso(clock.now())}"))
    return True
