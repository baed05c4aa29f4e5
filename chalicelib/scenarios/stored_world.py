"""The world the step runner acts on: stored contacts, lists and scores, real email and SMS.

Each operation is idempotent per enrollment and step (its events and messages carry ids derived
from them), so a retried Task does nothing twice.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.audience import react
from chalicelib.channels import messages, outbound
from chalicelib.contacts import service as contacts
from chalicelib.contacts.fields import clean_assignments
from chalicelib.events import service as events
from chalicelib.gdpr import erase
from chalicelib.lists import membership
from chalicelib.store.models import Contact, Enrollment


class StoredWorld:
    def __init__(self, enrollment: Enrollment, definition: dict, contact: Contact, step_id: str) -> None:
        self.enrollment = enrollment
        self.definition = definition
        self.contact = contact
        self.origin = f"{enrollment.id}/{step_id}"  # the id of what this step records

    def send(self, step: Mapping[str, Any]) -> str:
        return messages.send_step(dict(step), self.contact, self.enrollment, self.definition)

    def join_list(self, list_id: str, source: str) -> bool:
        return membership.join(self.contact.id, list_id, source=source, event_id=self.origin)

    def leave_list(self, list_id: str, source: str) -> bool:
        return membership.leave(self.contact.id, list_id, source=source, event_id=self.origin)

    def add_points(self, points: int, reason: Mapping[str, Any]) -> bool:
        return react.add_points(self.contact.id, points, reason=dict(reason), event_id=self.origin)

    def update_contact(self, step: Mapping[str, Any]) -> str:
        cleaned, problems = clean_assignments(step["set"], "set")
        if problems:
            return "invalid:" + "; ".join(problem.message for problem in problems)
        attributes = cleaned.pop("attributes", None) or {}
        upserted = contacts.patch(self.contact, contacts.Change(traits=cleaned, attributes=attributes))
        events.queue.enqueue(events.contact_events(upserted, origin=self.origin))
        return "updated" if upserted.changed else "unchanged"

    def call_webhook(self, step: Mapping[str, Any]) -> str:
        return outbound.step(step, self.contact, self.enrollment, self.definition)

    def delete_contact(self, reason: str) -> None:
        erase.erase(self.contact.id, reason=reason)
