"""The send gate: may this contact be sent this message now? Plain Python, no AWS.

Checked before every send, in this order; the first reason found is recorded on the skipped
message and the journey goes on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

UNDELIVERABLE = ("hard_bounce", "complained")


@dataclass(frozen=True)
class Caps:
    per_day: int | None = None
    per_week: int | None = None


def refuse(channel: str, contact: dict[str, Any], *, transactional: bool = False, suppressed: bool = False,
           sent_last_day: int = 0, sent_last_week: int = 0, caps: Caps = Caps()) -> str | None:
    """The reason not to send (no_address, no_consent, unsubscribed, suppressed, capped), or None."""
    if channel == "email":
        if not contact.get("email"):
            return "no_address"
        consent = (contact.get("consent") or {}).get("email")
        if contact.get("email_status") in UNDELIVERABLE or suppressed:
            return "suppressed"
        if not transactional:
            if consent and consent.get("granted") is False:
                return "unsubscribed"
            if not consent or consent.get("granted") is not True:
                return "no_consent"
    else:
        if not contact.get("phone"):
            return "no_address"
        if contact.get("sms_opt_out"):
            return "unsubscribed"
        consent = (contact.get("consent") or {}).get("sms")
        if not transactional:
            if consent and consent.get("granted") is False:
                return "unsubscribed"
            if not consent or consent.get("granted") is not True:
                return "no_consent"
    if not transactional and capped(sent_last_day, sent_last_week, caps):
        return "capped"
    return None


def capped(sent_last_day: int, sent_last_week: int, caps: Caps) -> bool:
    """Whether one more marketing message would exceed a cap (transactional ones are not counted)."""
    if caps.per_day is not None and sent_last_day >= caps.per_day:
        return True
    return caps.per_week is not None and sent_last_week >= caps.per_week
