"""Joining and leaving static lists: the contact's `lists` set and list.joined / list.left events."""
from __future__ import annotations

from pynamodb.exceptions import UpdateError

from chalicelib import clock
from chalicelib.events import service as events
from chalicelib.store.models import Contact


def _touch() -> list:
    # PynamoDB bumps the version too, so a concurrent full write of the contact retries instead of undoing this.
    return [Contact.updated_at.set(clock.iso(clock.now()))]


def join(contact_id: str, list_id: str, *, source: str, event_id: str | None = None) -> bool:
    """Add the contact to the list; False if it was a member already (nothing recorded)."""
    try:
        Contact(contact_id).update(
            actions=[Contact.lists.add({list_id}), *_touch()],
            condition=Contact.id.exists() & (Contact.lists.does_not_exist() | ~Contact.lists.contains(list_id)),
            add_version_condition=False)
    except UpdateError:
        return False
    events.record_and_dispatch(contact_id, "list.joined", {"list": list_id, "source": source}, event_id=event_id)
    return True


def leave(contact_id: str, list_id: str, *, source: str, event_id: str | None = None) -> bool:
    try:
        Contact(contact_id).update(
            actions=[Contact.lists.delete({list_id}), *_touch()],
            condition=Contact.id.exists() & Contact.lists.contains(list_id), add_version_condition=False)
    except UpdateError:
        return False
    events.record_and_dispatch(contact_id, "list.left", {"list": list_id, "source": source}, event_id=event_id)
    return True
