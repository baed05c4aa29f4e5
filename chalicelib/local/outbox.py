"""The local outbox: what the embedded SES and SNS received, as they received it.

moto keeps every email SES accepted (`ses_backends[account][region].sent_messages`, raw
MIME for raw sends) and every SMS SNS published (`sns_backends[...].sms_messages`), but not
when. `install` wraps the two backend calls to note, in one sequence, the channel, the
provider's message id and the moment (the domain clock), so the outbox lists both channels
newest first with stable cursors. Emails are parsed from the raw MIME: headers as sent
(unfolded, not decoded), the decoded subject, and the text and HTML parts.
"""
from __future__ import annotations

import email
import re
import threading
from dataclasses import dataclass
from email import policy
from email.header import decode_header, make_header
from typing import Any

from chalicelib import clock


@dataclass(frozen=True)
class _Entry:
    seq: int
    channel: str  # email | sms
    provider_id: str
    account: str
    region: str
    sent_at: str


_LOCK = threading.Lock()
_LOG: list[_Entry] = []
_ORIGINALS: dict[str, Any] = {}


def install() -> None:
    """Start noting what SES and SNS receive (the local stack calls this when it starts)."""
    from moto.ses.models import SESBackend
    from moto.sns.models import SNSBackend

    reset()
    if _ORIGINALS:
        return
    send_raw, send_simple, publish = SESBackend.send_raw_email, SESBackend.send_email, SNSBackend.publish
    _ORIGINALS.update(send_raw_email=send_raw, send_email=send_simple, publish=publish)

    def send_raw_email(backend, *args, **kwargs):
        message = send_raw(backend, *args, **kwargs)
        _note("email", message.id, backend)
        return message

    def send_email(backend, *args, **kwargs):
        message = send_simple(backend, *args, **kwargs)
        _note("email", message.id, backend)
        return message

    def publish_(backend, *args, **kwargs):
        message_id = publish(backend, *args, **kwargs)
        if kwargs.get("phone_number") or (len(args) >= 3 and args[2]):
            _note("sms", message_id, backend)
        return message_id

    SESBackend.send_raw_email = send_raw_email
    SESBackend.send_email = send_email
    SNSBackend.publish = publish_


def uninstall() -> None:
    from moto.ses.models import SESBackend
    from moto.sns.models import SNSBackend

    if _ORIGINALS:
        SESBackend.send_raw_email = _ORIGINALS["send_raw_email"]
        SESBackend.send_email = _ORIGINALS["send_email"]
        SNSBackend.publish = _ORIGINALS["publish"]
        _ORIGINALS.clear()
    reset()


def reset() -> None:
    with _LOCK:
        _LOG.clear()


def _note(channel: str, provider_id: str, backend: Any) -> None:
    with _LOCK:
        _LOG.append(_Entry(len(_LOG) + 1, channel, provider_id, backend.account_id, backend.region_name,
                           clock.iso(clock.now())))


def page(limit: int, before: int | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """Up to `limit` items, newest first, older than sequence number `before`; and the cursor
    (a sequence number) of the next page, None at the end."""
    with _LOCK:
        entries = [entry for entry in _LOG if before is None or entry.seq < before]
    entries.reverse()
    chosen, more = entries[:limit], len(entries) > limit
    items = [_item(entry) for entry in chosen]
    return [item for item in items if item is not None], (chosen[-1].seq if more and chosen else None)


def find(provider_id: str) -> dict[str, Any] | None:
    """The email or SMS the embedded SES or SNS gave this id, as the outbox lists it."""
    with _LOCK:
        entry = next((entry for entry in _LOG if entry.provider_id == provider_id), None)
    return None if entry is None else _item(entry)


def _item(entry: _Entry) -> dict[str, Any] | None:
    if entry.channel == "sms":
        from moto.sns.models import sns_backends

        found = sns_backends[entry.account][entry.region].sms_messages.get(entry.provider_id)
        if found is None:
            return None
        phone, text = found
        return {"channel": "sms", "id": entry.provider_id, "to": phone, "text": text, "sent_at": entry.sent_at}
    from moto.ses.models import ses_backends

    sent = ses_backends[entry.account][entry.region].sent_messages
    message = next((item for item in reversed(sent) if getattr(item, "id", None) == entry.provider_id), None)
    if message is None:
        return None
    if hasattr(message, "raw_data"):
        return {"channel": "email", "id": entry.provider_id, "to": (message.destinations or [None])[0],
                **parse_raw(message.raw_data), "sent_at": entry.sent_at}
    destinations = getattr(message, "destinations", None) or {}
    to = (destinations.get("ToAddresses") or [None])[0] if isinstance(destinations, dict) else None
    return {"channel": "email", "id": entry.provider_id, "to": to, "subject": message.subject, "headers": {},
            "html": message.body, "text": None, "sent_at": entry.sent_at}


_FOLD = re.compile(r"\r?\n(?=[ \t])")


def parse_raw(raw: str | bytes) -> dict[str, Any]:
    """Headers (name -> value as sent, unfolded; the first of repeated names), the decoded
    subject, and the text and HTML parts of a raw MIME message."""
    text_raw = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    plain = email.message_from_string(text_raw, policy=policy.compat32)
    headers: dict[str, str] = {}
    for name, value in plain.items():
        headers.setdefault(name, _FOLD.sub("", str(value)))
    parsed = email.message_from_string(text_raw, policy=policy.default)
    html = text = None
    for part in parsed.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and text is None:
            text = part.get_content()
        elif kind == "text/html" and html is None:
            html = part.get_content()
    subject = headers.get("Subject")
    if subject is not None:
        subject = str(make_header(decode_header(subject)))
    return {"subject": subject, "headers": headers, "html": html, "text": text}
