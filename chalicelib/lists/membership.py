"""Joining and leaving static lists: the contact's `lists` set and list.joined / list.left events.

Each change is one transaction (audience.members): the contact's set, the member item, the
list's count and the event, so a retried step or import line records nothing twice. A list a
scenario names that was never created through /lists is created on first join.
"""
from __future__ import annotations

from chalicelib.audience import members


def join(contact_id: str, list_id: str, *, source: str, event_id: str | None = None) -> bool:
    """Add the contact to the list; False if it was a member already (nothing recorded)."""
    return members.change("list", list_id, contact_id, joining=True, source=source, create_list=True,
                          event=("list.joined", {"list": list_id, "source": source}, event_id)).changed


def leave(contact_id: str, list_id: str, *, source: str, event_id: str | None = None) -> bool:
    return members.change("list", list_id, contact_id, joining=False, source=source,
                          event=("list.left", {"list": list_id, "source": source}, event_id)).changed
