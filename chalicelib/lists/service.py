"""Static lists: definitions, members added and removed by the API, scenario steps and imports.

Membership itself is lists.membership (one transaction per change, with list.joined /
list.left); a list's count is kept exact by the same transactions.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.expressions.update import Action

from chalicelib import clock, faults
from chalicelib.audience import jobs, members
from chalicelib.contacts import service as contacts
from chalicelib.lists import membership
from chalicelib.problems import Invalid, Problem
from chalicelib.store.audience import AudienceList
from chalicelib.store.models import Contact

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
KEYS = ("id", "name", "description")
MAX_NAME = 200


def body_schema() -> dict[str, Any]:
    """The JSON Schema of a list body, from the rules `validate` applies (for GET /openapi.json)."""
    return {"type": "object", "required": ["id", "name"], "additionalProperties": False,
            "properties": {"id": {"type": "string", "pattern": ID.pattern},
                           "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
                           "description": {"type": ["string", "null"]}}}


class Exists(Exception):
    pass


def validate(body: Any, *, list_id: str | None = None) -> list[Problem]:
    if not isinstance(body, Mapping):
        return [Problem("", 'a list is an object {"id", "name"}')]
    problems = [Problem(str(key), f"unknown field '{key}'; a list has {', '.join(KEYS)}")
                for key in body if key not in KEYS]
    if list_id is None:
        if not isinstance(body.get("id"), str) or not ID.match(body["id"]):
            problems.append(Problem("id", "id is required: 1 to 64 letters, digits or _.:- starting with a letter "
                                          "or digit, such as loyal-customers"))
    elif body.get("id", list_id) != list_id:
        problems.append(Problem("id", f"id must stay '{list_id}'"))
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        problems.append(Problem("name", f"name is required: a text of at most {MAX_NAME} characters"))
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 2000):
        problems.append(Problem("description", "description must be a text of at most 2000 characters"))
    return problems


def get(list_id: str) -> AudienceList | None:
    try:
        found = AudienceList.get(list_id, consistent_read=True)
    except DoesNotExist:
        return None
    return None if found.status == "deleting" else found


def page(limit: int, cursor: dict | None) -> tuple[list[AudienceList], dict | None]:
    result = AudienceList.scan(limit=limit, last_evaluated_key=cursor, consistent_read=True)
    items = [item for item in result if item.status != "deleting"]
    return items, result.last_evaluated_key


def create(body: Any) -> AudienceList:
    problems = validate(body)
    if problems:
        raise Invalid(problems)
    now = clock.iso(clock.now())
    item = AudienceList(body["id"], name=body["name"].strip(), description=body.get("description"),
                        created_at=now, updated_at=now)
    try:
        item.save(condition=AudienceList.id.does_not_exist())
    except PutError as error:
        if not faults.lost_to_condition(error):
            raise
        raise Exists(body["id"]) from None
    return item


def update(item: AudienceList, body: Any) -> AudienceList:
    problems = validate(body, list_id=item.id)
    if problems:
        raise Invalid(problems)
    actions: list[Action] = [AudienceList.name.set(body["name"].strip()),
                             AudienceList.updated_at.set(clock.iso(clock.now()))]
    actions.append(AudienceList.description.set(body["description"]) if body.get("description") is not None
                   else AudienceList.description.remove())
    item.update(actions=actions)
    return item


def delete(item: AudienceList) -> dict:
    """Remove the list: its members leave it in a background job (no list.left: the list is
    gone, not the contacts), then the list item goes."""
    job_id = jobs.new_id("group_delete")
    item.update(actions=[AudienceList.status.set("deleting"), AudienceList.job_id.set(job_id)])
    return jobs.summary(jobs.start("group_delete", {"kind": "list", "id": item.id}, job_id=job_id))


def add(list_id: str, contact_id: str, *, source: str = "api") -> bool:
    return membership.join(contact_id, list_id, source=source)


def remove(list_id: str, contact_id: str, *, source: str = "api") -> bool:
    return membership.leave(contact_id, list_id, source=source)


def count(list_id: str) -> int:
    return members.count("list", list_id)


def to_api(item: AudienceList) -> dict:
    return {"id": item.id, "name": item.name or item.id, "description": item.description, "count": count(item.id),
            "created_at": item.created_at, "updated_at": item.updated_at}


def members_page(list_id: str, limit: int, cursor: dict | None) -> tuple[list[dict], dict | None]:
    items, next_key = members.page("list", list_id, limit, cursor)
    found = {contact.id: contact for contact in Contact.batch_get([item.member for item in items])}
    page_items = []
    for item in items:
        contact = found.get(item.member)
        if contact is not None:
            page_items.append({"contact_id": item.member, "joined_at": item.at, "source": item.source,
                               "contact": contacts.to_api(contact)})
    return page_items, next_key
