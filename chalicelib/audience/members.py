"""Membership of a contact in a list or a segment, written as one transaction.

The contact's `lists` / `segments` set, the member item (what GET .../members pages through),
the group's counter and the list.joined / segment.entered event (and its idempotency record)
change together or not at all: a retried change finds the contact already in (or out) and
records nothing twice; a crash cannot leave a member without its event.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from chalicelib import clock, retry
from chalicelib.events import service as events
from chalicelib.store import queue
from chalicelib.store.audience import (
    COUNTER_PREFIX,
    FIRST_MEMBER,
    AudienceList,
    Member,
    contact_ref,
    counter_key,
    event_items,
    group_count,
)
from chalicelib.store.models import Contact
from chalicelib.store.transactions import CONFLICT, Transaction

KINDS = ("list", "segment")


@dataclass(frozen=True)
class Outcome:
    changed: bool
    event: dict | None = None


def group(kind: str, group_id: str) -> str:
    return f"{kind}#{group_id}"


def _set(kind: str) -> Any:
    return Contact.lists if kind == "list" else Contact.segments


def change(kind: str, group_id: str, contact_id: str, *, joining: bool, source: str | None = None,
           event: tuple[str, dict, str | None] | None = None, create_list: bool = False,
           dispatch: bool = True) -> Outcome:
    """Add the contact to (or remove it from) the group; Outcome(False) when it was in (out)
    already, when the contact does not exist, or when `event` (type, properties, id) was
    recorded before. The event is handed to automation unless `dispatch` is False."""
    if kind not in KINDS:
        raise ValueError(f"unknown group kind {kind!r}")
    members = _set(kind)
    key = group(kind, group_id)

    def attempt() -> Outcome | None:
        now = clock.iso(clock.now())
        write = Transaction()
        actions = [members.add({group_id}) if joining else members.delete({group_id})]
        if kind == "list":
            actions.append(Contact.updated_at.set(now))
        present = members.contains(group_id)
        write.update("contact", contact_ref(contact_id), actions,
                     condition=Contact.id.exists() & (~present if joining else present), versioned=False)
        if joining:
            write.put("member", Member(key, contact_id, at=now, source=source))
        else:
            write.delete("member", Member(key, contact_id))
        write.update("counter", Member(key, counter_key(contact_id)), [Member.count.add(1 if joining else -1)])
        if create_list and joining:
            write.update("list", AudienceList(group_id), [AudienceList.created_at.set(AudienceList.created_at | now),
                                                          AudienceList.name.set(AudienceList.name | group_id),
                                                          AudienceList.updated_at.set(now)])
        stored = None
        if event is not None:
            event_type, properties, event_id = event
            idempotency, stored = event_items(contact_id, event_type, properties, event_id or str(uuid.uuid4()))
            write.put("event_id", idempotency, condition=type(idempotency).id.does_not_exist())
            write.put("event", stored)
        failed = write.commit()
        if not failed:
            record = events.to_api(stored) if stored is not None else None
            if record is not None and dispatch:
                queue.enqueue([record])
            return Outcome(True, record)
        return None if failed == [CONFLICT] else Outcome(False)

    return retry.until_settled(attempt, limit=8, what=f"membership change of {contact_id} in {key}")


def is_member(kind: str, group_id: str, contact_id: str) -> bool:
    try:
        contact = Contact.get(contact_id, consistent_read=True)
    except Contact.DoesNotExist:
        return False
    return group_id in ((contact.lists if kind == "list" else contact.segments) or ())


ID_DIGITS = 4  # key ranges are cut at 4-hex-digit prefixes: up to 65,536 ranges


def key_range(index: int, parts: int) -> tuple[str, str | None]:
    """Range `index` of `parts` even ranges of member keys (contact ids are random UUIDs, so
    their hex prefixes spread evenly): (first, last) bounds, None for no upper bound. The
    ranges follow each other, from the first member to the last, whatever the ids."""
    def cut(position: int) -> str:
        return f"{position * 16 ** ID_DIGITS // parts:0{ID_DIGITS}x}"

    return (FIRST_MEMBER if index == 0 else cut(index)), (cut(index + 1) if index + 1 < parts else None)


def page(kind: str, group_id: str, limit: int, cursor: dict | None,
         within: tuple[str, str | None] = (FIRST_MEMBER, None)) -> tuple[list[Member], dict | None]:
    """One page of a group's member items in contact id order, within a key_range."""
    first, last = within
    condition = Member.member >= first if last is None else Member.member.between(first, last)
    result = Member.query(group(kind, group_id), condition, limit=limit, last_evaluated_key=cursor)
    items = list(result)
    return items, result.last_evaluated_key


def count(kind: str, group_id: str) -> int:
    return group_count(group(kind, group_id))


def drop_counters(kind: str, group_id: str) -> None:
    """Delete a removed group's counter items (its members are gone by then)."""
    with Member.batch_write() as batch:
        for item in Member.query(group(kind, group_id), Member.member.startswith(COUNTER_PREFIX)):
            batch.delete(item)
