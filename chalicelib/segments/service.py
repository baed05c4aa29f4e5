"""Segments: definitions (criteria of DESIGN.md section 5), their dependency index, builds, previews.

Saving a segment indexes it under every dependency of its criteria (segment-deps) and starts a
full build as a background job (parallel scan, segments.build); from then on events and field
changes keep it current (segments.engine) and time-relative criteria are re-checked when due
(segments.refresh). Built-in `active` and `inactive` follow the activity rank.
"""
from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.expressions.update import Action

from chalicelib import clock, criteria, faults
from chalicelib.audience import jobs, members
from chalicelib.contacts import service as contacts
from chalicelib.criteria.deps import requirements
from chalicelib.events import readers, routing
from chalicelib.problems import Invalid, Problem, join
from chalicelib.segments import engine, refresh
from chalicelib.store.audience import Segment, SegmentDep, estimated_items
from chalicelib.store.models import Contact

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
KEYS = ("id", "name", "description", "criteria")
MAX_NAME = 200
BUILTIN: dict[str, dict[str, Any]] = {
    "active": {"name": "Active contacts (activity rank 1-10)",
               "criteria": {"field": "activity_rank", "op": "gte", "value": 1}},
    "inactive": {"name": "Inactive contacts (activity rank 0)",
                 "criteria": {"field": "activity_rank", "op": "eq", "value": 0}},
}
PREVIEW_CONTACTS = 2000  # contacts a preview evaluates at most (a sample beyond that)
PREVIEW_SECONDS = 5.0
PREVIEW_SAMPLE = 10


class Exists(Exception):
    pass


class Refused(Exception):
    """The segment cannot change now (built in, in use, being deleted)."""


def get(segment_id: str) -> Segment | None:
    try:
        segment = Segment.get(segment_id, consistent_read=True)
    except DoesNotExist:
        return None
    return None if segment.status == "deleting" else segment


def page(limit: int, cursor: dict | None) -> tuple[list[Segment], dict | None]:
    ensure_builtins()
    result = Segment.scan(limit=limit, last_evaluated_key=cursor, consistent_read=True)
    items = [item for item in result if item.status != "deleting"]
    return items, result.last_evaluated_key


# -- validation -------------------------------------------------------------------------------


def validate(body: Any, *, segment_id: str | None = None) -> list[Problem]:
    """Every problem of a segment body; `segment_id` is the id when it is updated."""
    if not isinstance(body, Mapping):
        return [Problem("", 'a segment is an object {"id", "name", "criteria"}')]
    problems = [Problem(str(key), f"unknown field '{key}'; a segment has {', '.join(KEYS)}")
                for key in body if key not in KEYS]
    given = body.get("id", segment_id)
    if segment_id is None:
        if not isinstance(given, str) or not ID.match(given):
            problems.append(Problem("id", "id is required: 1 to 64 letters, digits or _.:- starting with a letter "
                                          "or digit, such as inactive-6-months"))
    elif given != segment_id:
        problems.append(Problem("id", f"id must stay '{segment_id}'"))
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        problems.append(Problem("name", f"name is required: a text of at most {MAX_NAME} characters"))
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 2000):
        problems.append(Problem("description", "description must be a text of at most 2000 characters"))
    if "criteria" not in body:
        problems.append(Problem("criteria", "criteria are required, such as "
                                            '{"field": "attributes.plan", "op": "eq", "value": "pro"}'))
        return problems
    found = criteria.validate(body["criteria"], "criteria", scope="contact")
    problems += found
    if not found and isinstance(given, str):
        problems += _reference_problems(given, body["criteria"])
    return problems


def _nodes(node: Any, path: str) -> Iterator[tuple[str, Mapping]]:
    if not isinstance(node, Mapping):
        return
    yield path, node
    for kind in ("all", "any"):
        if isinstance(node.get(kind), list):
            for index, child in enumerate(node[kind]):
                yield from _nodes(child, join(join(path, kind), index))
    if "not" in node:
        yield from _nodes(node["not"], join(path, "not"))


def _reference_problems(segment_id: str, tree: Any) -> list[Problem]:
    problems = []
    for path, node in _nodes(tree, "criteria"):
        other = node.get("in_segment")
        if not isinstance(other, str):
            continue
        where = join(path, "in_segment")
        if other == segment_id:
            problems.append(Problem(where, "a segment cannot test its own membership"))
        elif get(other) is None and other not in BUILTIN:
            problems.append(Problem(where, f"no segment '{other}'"))
        elif segment_id in _referenced(other):
            problems.append(Problem(where, f"'{other}' depends on '{segment_id}': segments cannot test each "
                                           "other's membership in a circle"))
    return problems


def _referenced(segment_id: str, seen: set[str] | None = None) -> set[str]:
    """Every segment `segment_id` tests membership of, directly or not."""
    seen = set() if seen is None else seen
    segment = get(segment_id)
    if segment is None:
        return seen
    for other in criteria.dependencies(segment.criteria).segments:
        if other not in seen:
            seen.add(other)
            _referenced(other, seen)
    return seen


# -- dependency index -------------------------------------------------------------------------


def dependency_keys(tree: Mapping) -> list[str]:
    """Where a segment is indexed: every event type, field, list and segment it reads, and
    engine.NEW_CONTACT when a contact can be in it with no event, list or segment (fields alone,
    a negation): contact.created evaluates only those. A segment that needs an event, a list or
    a segment is evaluated when that event, list.joined or segment.entered comes."""
    deps = criteria.dependencies(tree)
    keys = [engine.NEW_CONTACT] if requirements(tree) is None else []
    keys += [f"event:{name}" for name in sorted(deps.event_types)]
    keys += [f"field:{name}" for name in sorted(deps.fields)]
    keys += [f"list:{name}" for name in sorted(deps.lists)]
    keys += [f"segment:{name}" for name in sorted(deps.segments)]
    return keys


def _index(segment: Segment, previous: Mapping | None = None) -> None:
    time_relative = criteria.dependencies(segment.criteria).time_relative
    keys = dependency_keys(segment.criteria)
    routing.extend(readers.segment_facts(segment.criteria, keys))  # before events can change it
    with SegmentDep.batch_write() as batch:
        if previous is not None:
            for key in set(dependency_keys(previous)) - set(keys):
                batch.delete(SegmentDep(key, segment.id))
        for key in keys:
            batch.save(SegmentDep(key, segment.id, criteria=segment.criteria, time_relative=time_relative,
                                  generation=int(segment.generation)))


def _unindex(segment: Segment) -> None:
    with SegmentDep.batch_write() as batch:
        for key in dependency_keys(segment.criteria):
            batch.delete(SegmentDep(key, segment.id))


# -- lifecycle --------------------------------------------------------------------------------


def create(body: Any) -> Segment:
    problems = validate(body)
    if problems:
        raise Invalid(problems)
    if body["id"] in BUILTIN:
        raise Exists(body["id"])
    return _create(body["id"], body["name"].strip(), body.get("description"), body["criteria"], builtin=False)


def _create(segment_id: str, name: str, description: str | None, tree: dict, *, builtin: bool) -> Segment:
    now = clock.iso(clock.now())
    segment = Segment(segment_id, name=name, description=description, criteria=tree, builtin=builtin,
                      status="building", generation=1, created_at=now, updated_at=now)
    try:
        segment.save(condition=Segment.id.does_not_exist())
    except PutError as error:
        if not faults.lost_to_condition(error):
            raise
        raise Exists(segment_id) from None
    refresh.start_from_today()
    _index(segment)
    _build(segment)
    return segment


def update(segment: Segment, body: Any) -> Segment:
    if segment.builtin:
        raise Refused(f"'{segment.id}' is built in: it follows the activity rank and cannot change")
    problems = validate(body, segment_id=segment.id)
    if problems:
        raise Invalid(problems)
    previous = segment.criteria
    now = clock.iso(clock.now())
    actions: list[Action] = [Segment.name.set(body["name"].strip()), Segment.updated_at.set(now)]
    actions.append(Segment.description.set(body["description"]) if body.get("description") is not None
                   else Segment.description.remove())
    rebuilt = body["criteria"] != previous
    if rebuilt:
        actions += [Segment.criteria.set(body["criteria"]), Segment.generation.add(1),
                    Segment.status.set("building")]
    segment.update(actions=actions, condition=Segment.status != "deleting")
    if rebuilt:
        _index(segment, previous)
        _build(segment)
    return segment


def rebuild(segment: Segment) -> Segment:
    segment.update(actions=[Segment.status.set("building"), Segment.updated_at.set(clock.iso(clock.now()))])
    _build(segment)
    return segment


def _build(segment: Segment) -> None:
    if segment.job_id:
        jobs.cancel(segment.job_id, "replaced by a newer build")
    parts = jobs.scan_parts(Contact)
    job_id = jobs.new_id("segment_build")
    segment.update(actions=[Segment.job_id.set(job_id)])
    jobs.start("segment_build", {"segment": segment.id, "generation": int(segment.generation), "total": parts},
               job_id=job_id)


def delete(segment: Segment) -> dict:
    if segment.builtin:
        raise Refused(f"'{segment.id}' is built in and cannot be deleted")
    users = sorted(dep.segment_id for dep in SegmentDep.query(f"segment:{segment.id}"))
    if users:
        raise Refused(f"segments {', '.join(users)} test membership of '{segment.id}': change them first")
    if segment.job_id:
        jobs.cancel(segment.job_id, "the segment was deleted")
    _unindex(segment)
    job_id = jobs.new_id("group_delete")
    segment.update(actions=[Segment.status.set("deleting"), Segment.job_id.set(job_id),
                            Segment.updated_at.set(clock.iso(clock.now()))])
    return jobs.summary(jobs.start("group_delete", {"kind": "segment", "id": segment.id}, job_id=job_id))


def ensure_builtins() -> None:
    """Create the built-in segments if they are missing (first use after install)."""
    present = {item.id for item in Segment.batch_get(list(BUILTIN))}
    for segment_id, spec in BUILTIN.items():
        if segment_id not in present:
            try:
                _create(segment_id, spec["name"], None, spec["criteria"], builtin=True)
            except Exists:
                pass


# -- reading ----------------------------------------------------------------------------------


def count(segment_id: str) -> int:
    return members.count("segment", segment_id)


def to_api(segment: Segment, *, with_build: bool = False) -> dict:
    body = {"id": segment.id, "name": segment.name, "description": segment.description,
            "criteria": segment.criteria, "builtin": bool(segment.builtin), "status": segment.status,
            "count": count(segment.id), "time_relative": criteria.dependencies(segment.criteria).time_relative,
            "built_at": segment.built_at, "created_at": segment.created_at, "updated_at": segment.updated_at}
    if with_build:
        body["build"] = jobs.summary(jobs.get(segment.job_id)) if segment.job_id else None
    return body


def contacts_page(segment_id: str, limit: int, cursor: dict | None) -> tuple[list[dict], dict | None]:
    items, next_key = members.page("segment", segment_id, limit, cursor)
    found = {contact.id: contact for contact in Contact.batch_get([item.member for item in items])}
    page_items = []
    for item in items:
        contact = found.get(item.member)
        if contact is not None:
            page_items.append({**contacts.to_api(contact), "entered_at": item.at})
    return page_items, next_key


def preview(tree: Any) -> dict:
    """The count and a sample of the contacts matching unsaved criteria. Evaluates at most
    PREVIEW_CONTACTS contacts within PREVIEW_SECONDS: exact on a small base, estimated from a
    random slice of the base (a parallel-scan segment) beyond that."""
    problems = criteria.validate(tree, "criteria", scope="contact")
    if problems:
        raise Invalid(problems)
    total = estimated_items(Contact)
    slices = max(1, -(-total // PREVIEW_CONTACTS))
    scan: dict[str, Any] = {"limit": 100}
    if slices > 1:
        scan.update(segment=random.randrange(slices), total_segments=slices)
    deadline = time.monotonic() + PREVIEW_SECONDS
    now = clock.now()
    evaluated = matched = 0
    sample: list[dict] = []
    cursor = None
    complete = False
    while time.monotonic() < deadline and evaluated < PREVIEW_CONTACTS:
        result = Contact.scan(last_evaluated_key=cursor, **scan)
        for contact in result:
            evaluated += 1
            if engine.matches(tree, contact, now=now):
                matched += 1
                if len(sample) < PREVIEW_SAMPLE:
                    sample.append(contacts.to_api(contact))
        cursor = result.last_evaluated_key
        if not cursor:
            complete = True
            break
    exact = complete and slices == 1
    estimate = matched if exact else round(matched * max(total, evaluated) / max(evaluated, 1))
    return {"count": estimate, "exact": exact, "evaluated": evaluated, "matched": matched, "sample": sample}
