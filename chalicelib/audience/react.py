"""What one stored event does to the audience: score and stage, then segment memberships.

`on_event` runs first for every event the automation queue delivers (chalicelib.scenarios.
automation.handle), so a stage change or a segment entry it causes is itself an event that
can start scenarios. Redelivery is harmless: scoring is idempotent per event id, membership
changes are conditional, and the events they record have ids derived from the cause.

Cost of one event (see README, Audience): one Query of the dependency index per key (the
event type, each changed field) that the routing record lists (events.routing), the scoring
settings only for a type a rule scores, one consistent read of the contact when a segment or
a criteria scoring rule may care, and the event reads and writes of the segments it affects.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib import clock
from chalicelib.contacts import service as contacts
from chalicelib.events import routing
from chalicelib.scoring import service as scoring
from chalicelib.segments import engine
from chalicelib.vocabulary import is_system_type


def on_event(event: dict[str, Any]) -> None:
    event_type = event["type"]
    if event_type == "contact.deleted":
        return
    properties = event.get("properties") or {}
    changed: set[str] = set()
    if event_type == "contact.updated":
        changed.update(name for name in properties.get("changed") or () if isinstance(name, str))
    if not is_system_type(event_type):
        changed.add("last_activity_at")
    read: list = []

    def load():  # the contact, read once and only if a rule or a segment needs it
        if not read:
            read.append(contacts.get(event["contact_id"]))
        return read[0]

    # the routing record says which look-ups can find anything (events.routing): no read of the
    # scoring settings for a type no rule scores, no Query of a segment-deps key nothing is under
    scored = scoring.score_event(event, load) if routing.reads("score", event_type) else scoring.Applied(False)
    changed |= scored.changed
    keys = [key for key in engine.keys_for(event_type, properties, changed) if routing.reads("segment-dep", key)]
    definitions = engine.definitions_for(keys)
    if not definitions:
        return
    contact = load()
    if contact is None:  # erased since
        return
    if scored.changed:
        contact.score, contact.stage = scored.score, scored.stage
    engine.evaluate(contact.id, only=definitions, cause=event["id"], source=f"event:{event_type}", contact=contact)


def fields_changed(contact_id: str, fields: Iterable[str], *, cause: str, score: bool = True,
                   settings: dict | None = None) -> None:
    """Fields of a contact changed outside an event (activity rank, decayed score, step points):
    re-score the profile (when criteria rules exist and the score itself did not change) and
    re-evaluate the segments reading those fields. `settings`: the scoring settings, when the
    caller (a batch job) has them already."""
    changed = set(fields)
    settings = settings if settings is not None else (scoring.current() if score else None)
    if score and settings is not None and any("criteria" in rule for rule in settings["rules"]):
        contact = contacts.get(contact_id)
        if contact is None:
            return
        result = scoring.apply(contact_id, settings, points=0, at=clock.now(),
                               fields=scoring.field_points(settings, contact), cause=f"{cause}/fields",
                               reason={"reason": "profile"})
        changed |= result.changed
    if changed:
        engine.evaluate(contact_id, [f"field:{name}" for name in sorted(changed)], cause=cause, source="fields")


def score_moved(contact_id: str, changed: set[str], cause: str) -> None:
    """A scoring job moved the contact's score or stage: re-evaluate what reads them."""
    fields_changed(contact_id, changed, cause=cause, score=False)


def add_points(contact_id: str, points: int, *, reason: dict, event_id: str) -> bool:
    """A scenario step's points, once per `event_id` (False if given before, or the contact is
    gone); the segments reading score or stage follow."""
    result = scoring.add(contact_id, points, reason=reason, event_id=event_id)
    if result.applied and result.changed:
        score_moved(contact_id, result.changed, event_id)
    return result.applied
