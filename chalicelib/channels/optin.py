"""Double opt-in: consent granted through the public ingest key counts once the contact confirms.

Anyone holds the ingest key (it sits in public web pages), so a grant through it proves only
that somebody typed an address. Ingestion marks the consent `pending` and records
`contact.consent_requested`; the automation queue's consumer (here) sends the confirmation
message with a signed link; `GET /c/{token}` shows a page whose form POSTs, and the POST
grants the consent with its proof (when it was asked and confirmed, the token, the
confirming browser's address and user agent). A redelivered request sends nothing twice (the
message is claimed first) and a second POST changes nothing.
"""
from __future__ import annotations

import hashlib
from typing import Any

from pynamodb.exceptions import PutError

from chalicelib import clock, faults
from chalicelib.channels import messages, providers, render, tracking
from chalicelib.channels.headers import format_address
from chalicelib.config import settings
from chalicelib.contacts import service as contacts
from chalicelib.events import service as events
from chalicelib.logs import logger
from chalicelib.store.models import Consent, Contact, Message

REQUESTED = "contact.consent_requested"
CONFIRMED = "contact.consent_confirmed"
STEP = "consent-confirmation"  # how the confirmation shows among the contact's messages

# The confirmation email when PARCOURS_CONFIRM_TEMPLATE names no template: French and English,
# like the unsubscribe page. A configured template sees `event.confirm_url` and `event.channel`.
BUILTIN = {
    "subject": "Confirmez votre inscription / Please confirm your subscription",
    "html": ('<p>Bonjour {{ contact.first_name | default("") }},</p>'
             "<p>Pour recevoir nos messages, confirmez votre inscription :<br>"
             "To receive our messages, please confirm your subscription:</p>"
             '<p><a href="{{ event.confirm_url }}">Je confirme / I confirm</a></p>'
             "<p>Sans confirmation, vous ne recevrez rien. / Without confirmation, you will receive nothing.</p>"),
    "sms": "Confirmez votre inscription / Confirm your subscription: {{ event.confirm_url }}",
}


def _pending(contact: Contact, channel: str) -> Consent | None:
    consent = getattr(contact, f"consent_{channel}")
    return consent if consent is not None and consent.pending_at else None


def confirm_url(contact_id: str, channel: str, requested_at: str) -> str:
    token = tracking.make_confirm_token(settings().token_secret, contact_id, channel, requested_at)
    return f"{settings().public_base_url}/c/{token}"


def send_confirmation(event: dict[str, Any]) -> str | None:
    """Send the confirmation a `contact.consent_requested` event asks for; the message's status,
    or None when there is nothing to confirm any more (confirmed, withdrawn, contact erased)."""
    if event.get("type") != REQUESTED:
        return None
    channel = str((event.get("properties") or {}).get("channel"))
    contact = contacts.get(event["contact_id"])
    consent = _pending(contact, channel) if contact is not None and channel in contacts.CHANNELS else None
    if contact is None or consent is None or not consent.pending_at:
        return None
    digest = hashlib.sha256(f"{channel}#{consent.pending_at}".encode()).hexdigest()[:24]
    record = Message(contact.id, f"confirm-{digest}", channel=channel, step=STEP, status="sending",
                     transactional=True)
    try:
        record.save(condition=Message.id.does_not_exist())
    except PutError as error:  # a redelivery: the first handling sent it
        if not faults.lost_to_condition(error):
            raise
        return None
    values = render.variables(contacts.to_api(contact),
                              {"confirm_url": confirm_url(contact.id, channel, consent.pending_at),
                               "channel": channel}, None, render.Links(unsubscribe_url=""))
    try:
        to, subject, provider_id = _send(contact, channel, values)
    except Exception as error:  # the request stays pending; a new grant asks again
        logger.exception("confirmation not sent", extra={"contact_id": contact.id})
        reason = f"{type(error).__name__}: {error}"[:500]
        record.update(actions=[Message.status.set("failed"), Message.reason.set(reason),
                               Message.sent_at.set(clock.iso(clock.now()))])
        return "failed"
    now = clock.iso(clock.now())
    record.update(actions=[Message.status.set("sent"), Message.to.set(to), Message.provider_id.set(provider_id),
                           Message.sent_at.set(now), Message.events.set([{"type": "sent", "at": now}]),
                           *([Message.subject.set(subject)] if subject else [])])
    return "sent"


def _send(contact: Contact, channel: str, values: dict[str, Any]) -> tuple[str, str | None, str]:
    configured = settings().confirm_template
    content = messages.template_content(configured) if configured else None
    if configured and content is None:
        logger.warning("PARCOURS_CONFIRM_TEMPLATE names no template; the built-in one is sent",
                       extra={"template": configured})
    if channel == "sms":
        text = render.sms({"text": (content or {}).get("text") or BUILTIN["sms"]}, values)
        return contact.phone, None, providers.send_sms(contact.phone, text, transactional=True)
    rendered = render.email(content or BUILTIN, values, render.Links(unsubscribe_url=""), transactional=True)
    name = " ".join(part for part in (contact.first_name, contact.last_name) if part)
    message = providers.build_email(format_address(name, contact.email), rendered["subject"], rendered["html"],
                                    rendered["text"], {})
    return contact.email, rendered["subject"], providers.send_email(message, to=contact.email)


def target(token: str) -> dict[str, Any] | None:
    """The consent a confirmation link names, if the token is ours."""
    return tracking.read_token(token, settings().token_secret, tracking.KIND_CONFIRM)


def confirm(token: str, *, ip: str | None, user_agent: str | None) -> bool | None:
    """Grant the consent the link asks for, with its proof. True: confirmed now (or before, by
    this link); False: this link no longer confirms anything (withdrawn since, or asked again);
    None: not a link of ours, or the contact is gone."""
    data = target(token)
    if data is None:
        return None
    contact = contacts.get(data["contact_id"])
    if contact is None:
        return None
    channel, requested_at = data["channel"], data["requested_at"]
    consent = getattr(contact, f"consent_{channel}")
    if consent is not None and consent.proof and consent.proof.get("requested_at") == requested_at:
        return bool(consent.granted)  # this link confirmed it already
    if consent is None or consent.pending_at != requested_at:
        return False
    now = clock.iso(clock.now())
    proof = {"requested_at": requested_at, "requested_source": consent.pending_source, "confirmed_at": now,
             "token": hashlib.sha256(token.encode()).hexdigest()[:32], "ip": ip, "user_agent": (user_agent or "")[:300]
             or None}
    granted = Consent(granted=True, at=now, source=consent.pending_source, proof=proof)

    def grant(current: Contact) -> contacts.Upserted | None:
        current.__setattr__(f"consent_{channel}", granted)
        current.updated_at = now
        try:
            current.save()  # conditional on the version read
        except PutError as error:
            if not faults.lost_to_condition(error):
                raise
            return None
        return contacts.Upserted(current, False, [f"consent.{channel}"])

    upserted = grant(contact)
    if upserted is None:  # changed meanwhile: decide again on what is there now
        return confirm(token, ip=ip, user_agent=user_agent)
    stored = events.record(contact.id, CONFIRMED, {"channel": channel, **{k: v for k, v in proof.items() if v}},
                           event_id=f"{contact.id}/consent.{channel}/{requested_at}")
    events.queue.enqueue([*events.contact_events(upserted, origin=f"{contact.id}/confirm/{channel}/{requested_at}"),
                          *([stored] if stored else [])])
    return True
