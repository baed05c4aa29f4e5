"""Joining and leaving static lists: the contact's `lists` set and list.joined / list.left events."""
from __future__ import annotations

from pynamodb.exceptions import UpdateError

from chalicelib import clock
from chalicelib.events import service as events
from chalicelib.store.models import Contact


def join(contact_id: str, list_id: str, *, source: str, event_id: str | None = None) -> bool:
    """Add the contact to the list; False if it was a member already (nothing recorded)."""
    try:
        Contact(contact_id).update(
            actions=[Contact.lists.add({list_id}), Contact.updated_at.set(clock.iso(clock.now()))],
            condition=Contact.id.exists() & ~Contact.lists.contains(list_id))
    except UpdateError:
        return False
    events.record_and_dispatch(contact_id, "list.joined", {"list": list_id, "source": source}, event_id=event_id)
    return True


def leave(contact_id: str, list_id: str, *, source: str, event_id: str | None = None) -> bool:
    try:
        Contact(contact_id).update(
            actions=[Contact.lists.delete({list_id}), Contact.updated_at.set(clock.iso(clock.now()))],
            condition=Contact.id.exists() & Contact.lists.contains(list_id))
    except UpdateError:
        return False
    events.record_and_dispatch(contact_id, "list.left", {"list": list_id, "source": source}, event_id=event_id)
    return True
