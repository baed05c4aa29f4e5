"""Frequency caps: count a contact's recent marketing sends and reserve the next one atomically.

The ledger item of a contact (store.channels.SendLedger) lists the moments of its marketing
sends over the last seven days. `reserve` reads it, checks the caps (rolling day and week)
and writes the new send with a version condition: two scenarios sending to one contact at
the same moment cannot both pass a cap of one; the loser reads again and is capped.
Transactional messages are neither counted nor capped. A reservation is keyed by message id,
so a retried step finds its own reservation and goes on; `release` gives it back when the
send did not go out.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError

from chalicelib import clock, faults, retry
from chalicelib.channels import gate
from chalicelib.config import settings
from chalicelib.faults import Throttled
from chalicelib.store.channels import SendLedger

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
ATTEMPTS = 10


def configured() -> gate.Caps:
    """The caps from the settings (PARCOURS_MAX_PER_DAY / PARCOURS_MAX_PER_WEEK; 0 is no cap)."""
    return gate.Caps(settings().max_per_day or None, settings().max_per_week or None)


def _entry(at: str, message_id: str) -> str:
    return f"{at}|{message_id}"


def _split(entry: str) -> tuple[str, str]:
    at, _, message_id = entry.partition("|")
    return at, message_id


def reserve(contact_id: str, message_id: str, caps: gate.Caps, now: datetime | None = None) -> bool:
    """Count this send against the contact's caps: True when it may go, False when capped."""
    if caps.per_day is None and caps.per_week is None:
        return True
    now = now or clock.now()
    week_ago, day_ago = clock.iso(now - WEEK), clock.iso(now - DAY)

    def attempt() -> bool | None:
        try:
            ledger = SendLedger.get(contact_id, consistent_read=True)
        except DoesNotExist:
            ledger = SendLedger(contact_id)
        entries = [entry for entry in ledger.sends or [] if _split(entry)[0] >= week_ago]
        if any(_split(entry)[1] == message_id for entry in entries):
            return True  # a retried step: its reservation stands
        day = sum(1 for entry in entries if _split(entry)[0] >= day_ago)
        if gate.capped(day, len(entries), caps):
            return False
        ledger.sends = [*entries, _entry(clock.iso(now), message_id)]
        ledger.expires_at = now + WEEK + DAY
        return _saved(ledger)  # conditional on the version read (or on the item not existing yet)

    return retry.until_settled(attempt, limit=ATTEMPTS, what=f"the send ledger of contact {contact_id}",
                               failure=Throttled)


def release(contact_id: str, message_id: str) -> None:
    """Give back the reservation of a send that did not go out (idempotent)."""

    def attempt() -> bool | None:
        try:
            ledger = SendLedger.get(contact_id, consistent_read=True)
        except DoesNotExist:
            return True
        entries = [entry for entry in ledger.sends or [] if _split(entry)[1] != message_id]
        if len(entries) == len(ledger.sends or []):
            return True
        ledger.sends = entries
        return _saved(ledger)

    retry.until_settled(attempt, limit=ATTEMPTS, what=f"the send ledger of contact {contact_id}", failure=Throttled)


def recent(contact_id: str, now: datetime | None = None) -> tuple[int, int]:
    """Marketing sends in the last day and the last week (for reports and tests)."""
    now = now or clock.now()
    try:
        ledger = SendLedger.get(contact_id, consistent_read=True)
    except DoesNotExist:
        return 0, 0
    moments = [_split(entry)[0] for entry in ledger.sends or []]
    week = [at for at in moments if at >= clock.iso(now - WEEK)]
    return sum(1 for at in week if at >= clock.iso(now - DAY)), len(week)


def forget(contact_id: str) -> None:
    """Erase a contact's ledger (GDPR erasure)."""
    try:
        SendLedger(contact_id).delete(add_version_condition=False)
    except (DeleteError, DoesNotExist):
        pass


def _saved(ledger: SendLedger) -> bool | None:
    """True once saved; None when another writer changed the ledger since it was read."""
    try:
        ledger.save()
    except PutError as error:
        if faults.lost_to_condition(error):
            return None
        raise
    return True
