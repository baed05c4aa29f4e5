"""What comes back from a sent message: SES notifications, SMS replies, tracking-link hits.

Each becomes an event on the right contact (`email.delivered`, `email.opened`,
`email.clicked`, `email.bounced`, `email.complained`, `email.unsubscribed`,
`sms.opted_out`), carrying `scenario`, `step` and `message_id` when the message is known,
and a line in that message's status history. Event ids are deterministic, so SNS's
at-least-once delivery, a reader opening a message twice or our pixel and SES's open
tracking both reporting one open make one event:

- `{message}/delivered`, `{message}/bounced`, `{message}/complained`, `{message}/opened`:
  once per message;
- `{message}/clicked/{sha256(url)[:16]}`: once per message and URL;
- without a known message, `ses/{SES message id}/{kind}/{address}`.

Contact state follows (`apply`, once per event id, so a redelivered notification is not
counted twice): a permanent bounce makes the address `hard_bounce`, a complaint
`complained` (both suppressed from then on by the send gate); a transient (or undetermined)
bounce adds to `soft_bounces` and marks `soft_bounce`, and `soft_bounce_limit` of them in a
row make it `hard_bounce`; a delivery resets the count (and `soft_bounce` to `valid`); an
`sms.opted_out` sets the SMS opt-out. The same `apply` runs for these events when an admin or
marketer posts them (history from another tool): the automation consumer calls it for every
stored event, and it does nothing for an event already applied.
Contact writes are conditional on the version read, and retried.
"""
from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Callable, Sequence
from datetime import timedelta
from email.utils import parseaddr
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from chalicelib import clock, faults, retry
from chalicelib.channels import tracking
from chalicelib.config import settings
from chalicelib.contacts import service as contacts
from chalicelib.contacts.fields import FieldError, normalize_email, normalize_phone
from chalicelib.events import service as events
from chalicelib.logs import logger
from chalicelib.reports import counters
from chalicelib.store.models import Contact, EventId, Message
from chalicelib.vocabulary import system_event_id

ATTEMPTS = 10
# Higher wins: a message opened then delivered (late notification) stays "opened".
STATUS_RANK = {"sending": 0, "sent": 1, "delivered": 2, "opened": 3, "clicked": 4, "unsubscribed": 5,
               "bounced": 6, "complained": 7}
UNDELIVERABLE = ("hard_bounce", "complained")
# AWS's default SMS opt-out keywords, and STOPALL; the first word of the reply decides.
STOP_KEYWORDS = frozenset({"ARRET", "CANCEL", "END", "OPT-OUT", "OPTOUT", "QUIT", "REMOVE", "STOP", "STOPALL",
                           "TD", "UNSUBSCRIBE"})


# --------------------------------------------------------------------------- messages


def find_message(contact_id: str, message_id: str | None) -> Message | None:
    if not message_id:
        return None
    try:
        return Message.get(contact_id, message_id, consistent_read=True)
    except DoesNotExist:
        return None


def message_by_provider_id(provider_id: str) -> Message | None:
    """The message SES (or SNS) gave this id, through the by-provider-id index."""
    if not isinstance(provider_id, str) or not provider_id:
        return None
    for hit in Message.by_provider_id.query(provider_id, limit=1):
        return find_message(hit.contact_id, hit.id)
    return None


def url_digest(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def record_message_event(contact_id: str, message: Message | None, kind: str, *, event_id: str,
                         channel: str = "email", properties: dict[str, Any] | None = None,
                         scenario: str | None = None, step: str | None = None,
                         message_id: str | None = None, apply_effects: bool = False) -> dict | None:
    """Record `{channel}.{kind}` once per event id, and add it to the message's history; with
    `apply_effects`, apply what it does to the contact (see `apply`) before it goes to automation.

    Answers the stored event, or None when this event id was recorded before."""
    extra = {key: value for key, value in (properties or {}).items() if value is not None}
    context = {"scenario": message.scenario if message else scenario,
               "step": message.step if message else step,
               "message_id": message.id if message else message_id,
               # a campaign's message: criteria can ask for its opens and clicks, link N of it
               "campaign": message.campaign if message else None, "variant": message.variant if message else None,
               "link": counters.link_of(message, extra.get("url")) if kind == "clicked" else None}
    stored = events.record(contact_id, f"{channel}.{kind}", {**{k: v for k, v in context.items() if v}, **extra},
                           event_id=event_id)
    try:
        if message is not None:  # a repeat too: a fault may have come between the event and its note
            note(message, kind, stored["timestamp"] if stored else clock.iso(clock.now()), extra,
                 repeat=stored is None)
            counters.campaign_hit(message, kind, extra.get("url"))
        if stored is not None and apply_effects:
            apply(stored)
    finally:
        # Handed to automation only now: its consumer applies feedback too (a posted bounce), and
        # would otherwise race this handler for the claim, the contact changing after we answered.
        if stored is not None:
            events.dispatch([stored])
    return stored


def note(message: Message, kind: str, at: str, extra: dict[str, Any] | None = None, *, repeat: bool = False) -> None:
    """Append `{"type": kind, "at": at, ...}` to the message's history and raise its status; for a
    `repeat` of an event already recorded, only what its first handling did not get to."""
    entry = {"type": kind, "at": at, **{key: value for key, value in (extra or {}).items()
                                         if key in ("url", "bounce_type", "source")}}
    rank = STATUS_RANK.get(kind)
    if kind in counters.MESSAGE_FACTS:
        # The first of its kind is noted, raised and counted in one write, by whichever delivery
        # of the event comes first: a repeat (SNS delivers twice, Lambda retries) reads the
        # message again, and one that lost the race adds its entry only if none is there.
        current: Message | None = None if repeat else message
        raced = False
        for _ in range(counters.ATTEMPTS):
            if current is None:
                current = _current(message)
                if current is None:
                    return  # the message is gone (erased with its contact)
            if _holds(current, entry) or kind in (current.counted or ()):
                break
            raise_to = kind if rank is not None and STATUS_RANK.get(current.status, rank) < rank else None
            if counters.noted(current, kind, entry, raise_to):
                return
            current, raced = None, True  # another writer came first: read again
        repeat = repeat or raced
    item = Message(message.contact_id, message.id)
    if not (repeat and _noted(item, entry)):  # the rest is idempotent: counted once, status raised once
        try:
            item.update(actions=[Message.events.set((Message.events | []).append([entry]))],
                        condition=Message.id.exists())
        except UpdateError as error:
            if not faults.lost_to_condition(error):
                raise
            return  # the message is gone (erased with its contact)
    counters.message(message, kind)
    if rank is None:
        return
    lower = [status for status, value in STATUS_RANK.items() if value < rank]
    try:
        item.update(actions=[Message.status.set(kind)], condition=Message.status.is_in(*lower))
    except UpdateError as error:
        if not faults.lost_to_condition(error):
            raise  # otherwise already at this status or beyond


# --------------------------------------------------------------------------- contacts


def update_contact(contact_id: str, plan: Callable[[Contact], dict[str, Any]]) -> tuple[Contact | None, list[str]]:
    """Apply `plan(contact)` (attribute -> new value), conditional on the version read; retried.

    Answers the contact (None if it does not exist) and the attributes that changed."""

    def attempt() -> tuple[Contact | None, list[str]] | None:
        contact = contacts.get(contact_id)
        if contact is None:
            return None, []
        values = {name: value for name, value in plan(contact).items() if getattr(contact, name) != value}
        if not values:
            return contact, []
        actions = [getattr(Contact, name).set(value) for name, value in values.items()]
        actions.append(Contact.updated_at.set(clock.iso(clock.now())))
        try:
            contact.update(actions=actions)
        except UpdateError as error:
            if not faults.lost_to_condition(error):
                raise
            return None
        return contact, list(values)

    return retry.until_settled(attempt, limit=ATTEMPTS, what=f"update of contact {contact_id}")


def _announce(contact_id: str, changed: list[str], origin: str) -> None:
    """contact.updated for the public fields that changed (segments, webhooks)."""
    public = [name for name in changed if name in ("email_status", "sms_opt_out")]
    if public:
        events.record_and_dispatch(contact_id, "contact.updated", {"changed": public},
                                   event_id=f"{origin}/contact.updated")


def mark_bounce(contact_id: str, *, permanent: bool, origin: str) -> list[str]:
    limit = settings().soft_bounce_limit

    def plan(contact: Contact) -> dict[str, Any]:
        status = contact.email_status or "valid"
        if permanent:
            return {"email_status": status if status == "complained" else "hard_bounce"}
        count = int(contact.soft_bounces or 0) + 1
        if status in UNDELIVERABLE:
            return {"soft_bounces": count}
        return {"soft_bounces": count, "email_status": "hard_bounce" if limit and count >= limit else "soft_bounce"}

    _, changed = update_contact(contact_id, plan)
    _announce(contact_id, changed, origin)
    return changed


def mark_complaint(contact_id: str, *, origin: str) -> list[str]:
    _, changed = update_contact(contact_id, lambda contact: {"email_status": "complained"})
    _announce(contact_id, changed, origin)
    return changed


def mark_delivered(contact_id: str, *, origin: str) -> list[str]:
    def plan(contact: Contact) -> dict[str, Any]:
        values: dict[str, Any] = {"soft_bounces": 0}
        if contact.email_status == "soft_bounce":
            values["email_status"] = "valid"
        return values

    _, changed = update_contact(contact_id, plan)
    _announce(contact_id, changed, origin)
    return changed


def opt_out_sms(contact_id: str, *, source: str, event_id: str | None = None,
                message: Message | None = None) -> bool:
    """Record `sms.opted_out` and set the contact's SMS opt-out, unless it is already set."""
    contact = contacts.get(contact_id)
    if contact is None or contact.sms_opt_out:
        return False
    origin = event_id or f"{contact_id}/sms.opted_out/{clock.iso(clock.now())}"
    stored = record_message_event(contact_id, message, "opted_out", event_id=origin, channel="sms",
                                  properties={"source": source})
    return stored is not None and bool(apply(stored))


# --------------------------------------------------------------------------- effects

EFFECTS = ("email.bounced", "email.complained", "email.delivered", "sms.opted_out")


def apply(event: dict[str, Any]) -> list[str]:
    """What a stored feedback event does to its contact, once per event id, whoever reported it
    (SES, SNS, or a posted event); the contact attributes it changed."""
    if event.get("type") not in EFFECTS or not _claim(event):
        return []
    try:
        return _effects(event)
    except Exception:  # give the claim back: the event's next delivery applies it
        faults.through(lambda: EventId(system_event_id(f"{event['id']}/applied")).delete())
        raise


def _effects(event: dict[str, Any]) -> list[str]:
    contact_id, origin, kind = event["contact_id"], event["id"], event["type"]
    properties = event.get("properties") or {}
    if kind == "email.bounced":
        return mark_bounce(contact_id, permanent=properties.get("bounce_type") == "Permanent", origin=origin)
    if kind == "email.complained":
        return mark_complaint(contact_id, origin=origin)
    if kind == "email.delivered":
        return mark_delivered(contact_id, origin=origin)
    _, changed = update_contact(contact_id, lambda contact: {"sms_opt_out": True})
    _announce(contact_id, changed, origin)
    return changed


def _current(message: Message) -> Message | None:
    try:
        return Message.get(message.contact_id, message.id, consistent_read=True)
    except DoesNotExist:
        return None


def _noted(item: Message, entry: dict[str, Any]) -> bool:
    """Whether the message's history holds this entry already (or the message is gone)."""
    current = _current(item)
    return current is None or _holds(current, entry)


def _holds(message: Message, entry: dict[str, Any]) -> bool:
    same = ("type", "url", "bounce_type", "source")
    return any(all(seen.get(key) == entry.get(key) for key in same) for seen in message.events or [])


def _claim(event: dict[str, Any]) -> bool:
    """The right to apply this event: one conditional write on the events' idempotency table."""
    ttl_days = settings().event_ttl_days
    claim = EventId(system_event_id(f"{event['id']}/applied"), contact_id=event["contact_id"],
                    expires_at=clock.now() + timedelta(days=ttl_days) if ttl_days else None)
    try:
        claim.save(condition=EventId.id.does_not_exist())
        return True
    except PutError as error:
        if faults.lost_to_condition(error):
            return False
        raise


# --------------------------------------------------------------------------- SES


_SES_KINDS = {"Bounce": "bounced", "Complaint": "complained", "Delivery": "delivered", "Open": "opened",
              "Click": "clicked"}


def _address(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    address = parseaddr(value)[1].strip().lower()
    return address if "@" in address else None


def _contact_for(message: Message | None, address: str | None, only_recipient: bool) -> tuple[str | None,
                                                                                            Message | None]:
    """The contact an SES notification is about: the message's (when the address is its
    recipient, or the only one), else the contact that has the address."""
    if message is not None and (only_recipient or (address and (message.to or "").lower() == address)):
        return message.contact_id, message
    if address:
        try:
            found = contacts.find_by("email", normalize_email(address))
        except FieldError:  # an address our contacts could not have
            found = None
        if found is not None:
            return found.id, None
    return None, None


def _unwrap_click(link: str) -> str:
    """SES reports the link as it was in the message: ours when we rewrote it."""
    prefix = f"{settings().public_base_url}/t/c/"
    if isinstance(link, str) and link.startswith(prefix):
        data = tracking.read_token(link[len(prefix):].split("?", 1)[0], settings().token_secrets,
                                   tracking.KIND_CLICK)
        if data is not None:
            return data["url"]
    return link


def handle_ses(raw: str | dict) -> dict[str, int]:
    """One SES notification (event publishing `eventType`, or notification `notificationType`).

    Answers counts of what it did: {"recorded": n, "duplicates": n, "ignored": n}."""
    report = {"recorded": 0, "duplicates": 0, "ignored": 0}
    try:
        data = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
    except (ValueError, TypeError):
        logger.warning("SES notification is not JSON; dropped")
        report["ignored"] += 1
        return report
    if not isinstance(data, dict):
        report["ignored"] += 1
        return report
    kind_name = data.get("eventType") or data.get("notificationType")
    kind_name = kind_name if isinstance(kind_name, str) else ""
    kind = _SES_KINDS.get(kind_name)
    mail = data["mail"] if isinstance(data.get("mail"), dict) else {}
    ses_id = mail.get("messageId")
    if kind is None or not isinstance(ses_id, str) or not ses_id:
        logger.info("SES notification ignored", extra={"type": str(kind_name)[:40]})
        report["ignored"] += 1
        return report
    detail = data.get(kind_name[0].lower() + kind_name[1:])
    detail = detail if isinstance(detail, dict) else {}
    message = message_by_provider_id(ses_id)
    destination = [address for item in mail.get("destination") or [] if (address := _address(item))]
    for address, properties in _recipients(kind, detail, destination):
        contact_id, found = _contact_for(message, address, len(destination) <= 1)
        if contact_id is None:
            report["ignored"] += 1
            continue
        suffix = kind
        if kind == "clicked":
            suffix = f"clicked/{url_digest(properties['url'])}"
        event_id = f"{found.id}/{suffix}" if found else f"ses/{ses_id}/{suffix}/{address}"
        stored = record_message_event(contact_id, found, kind, event_id=event_id, properties=properties,
                                      apply_effects=True)
        if stored is None:
            report["duplicates"] += 1
            continue
        report["recorded"] += 1
    return report


def _recipients(kind: str, detail: dict, destination: Sequence[str | None]) -> list[tuple[str | None, dict[str, Any]]]:
    """(address, event properties) for each recipient the notification is about."""
    def listed(key: str) -> list[dict]:
        items = detail.get(key)
        return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []

    if kind == "bounced":
        bounce_type = detail.get("bounceType") if detail.get("bounceType") in ("Permanent", "Transient") \
            else "Undetermined"
        return [(_address(item.get("emailAddress")), {
            "bounce_type": bounce_type, "bounce_subtype": _text(detail.get("bounceSubType")),
            "status": _text(item.get("status")), "diagnostic": _text(item.get("diagnosticCode"))})
            for item in listed("bouncedRecipients")] or [(None, {"bounce_type": bounce_type})]
    if kind == "complained":
        return [(_address(item.get("emailAddress")), {"feedback_type": _text(detail.get("complaintFeedbackType"))})
                for item in listed("complainedRecipients")] or [(None, {})]
    if kind == "delivered":
        recipients = [_address(item) for item in detail.get("recipients") or [] if _address(item)]
        return [(address, {}) for address in recipients or destination] or [(None, {})]
    if kind == "clicked":
        link = detail.get("link")
        url = _unwrap_click(link) if isinstance(link, str) and link else None
        if not url:
            return []
        return [(address, {"url": url}) for address in destination[:1] or [None]]
    return [(address, {}) for address in destination[:1] or [None]]  # opened


def _text(value: Any, limit: int = 300) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


# --------------------------------------------------------------------------- SMS


def _keyword(body: str) -> str:
    words = body.strip().split()
    if not words:
        return ""
    word = unicodedata.normalize("NFKD", words[0]).encode("ascii", "ignore").decode("ascii")
    return word.strip(".,;:!?\"'()").upper()


def handle_sms_inbound(raw: str | dict) -> dict[str, int]:
    """An inbound SMS (SNS two-way SMS JSON: originationNumber, messageBody, ...): a STOP
    keyword opts out every contact with that number. Other replies are ignored."""
    report = {"opted_out": 0, "ignored": 0}
    try:
        data = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
    except (ValueError, TypeError):
        data = None
    if not isinstance(data, dict):
        report["ignored"] += 1
        return report
    number, body = data.get("originationNumber"), data.get("messageBody")
    if not isinstance(number, str) or not isinstance(body, str) or _keyword(body) not in STOP_KEYWORDS:
        report["ignored"] += 1
        return report
    inbound = data.get("inboundMessageId") if isinstance(data.get("inboundMessageId"), str) else None
    replied_to = data.get("previousPublishedMessageId")
    message = message_by_provider_id(replied_to) if isinstance(replied_to, str) else None
    for contact_id in contacts_with_phone(number):
        origin = f"sms-inbound/{inbound}/{contact_id}" if inbound else None
        if opt_out_sms(contact_id, source="STOP reply", event_id=origin,
                       message=message if message is not None and message.contact_id == contact_id else None):
            report["opted_out"] += 1
    return report


def contacts_with_phone(number: str) -> list[str]:
    try:
        phone = normalize_phone(number)
    except FieldError:
        return []
    return sorted({hit.id for hit in Contact.by_phone.query(phone)})
