"""The GDPR export of one contact: every field, consent record, event, message and journey."""
from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from chalicelib import clock
from chalicelib.channels import messages
from chalicelib.contacts import service as contacts
from chalicelib.events import service as events
from chalicelib.scenarios import journeys
from chalicelib.scoring import service as scoring
from chalicelib.store.audience import ActivityCount, Member


def export(contact_id: str) -> dict | None:
    """The contact's whole record, or None when there is no such contact."""
    contact = contacts.get(contact_id)
    if contact is None:
        return None
    profile = contacts.to_api(contact)
    profile.update(soft_bounces=contacts.plain(contact.soft_bounces), segments=sorted(contact.segments or ()))
    memberships: list[dict[str, str | None]] = []
    for kind, ids in (("list", contact.lists or ()), ("segment", contact.segments or ())):
        for group_id in sorted(ids):
            try:
                item = Member.get(f"{kind}#{group_id}", contact_id)
                memberships.append({"kind": kind, "id": group_id, "since": item.at, "source": item.source})
            except DoesNotExist:
                memberships.append({"kind": kind, "id": group_id, "since": None, "source": None})
    try:
        activity = ActivityCount.get(contact_id)
        counted = {"count": int(activity.count), "computed_at": activity.computed_at}
    except DoesNotExist:
        counted = None
    history, _ = events.history(contact_id, newest_first=False)
    return {
        "generated_at": clock.iso(clock.now()),
        "contact": profile,
        "consent": profile["consent"],
        "memberships": memberships,
        "score": scoring.of_contact(contact_id),
        "activity": counted,
        "events": history,
        "messages": [messages.to_api(item) for item in messages.of_contact(contact_id)],
        "journeys": [journeys.to_api(item) for item in journeys.of_contact(contact_id)],
    }
