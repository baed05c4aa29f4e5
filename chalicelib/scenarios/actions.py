"""What each action step does to a contact. Each is idempotent per enrollment and step."""
from __future__ import annotations

from chalicelib.audience import react
from chalicelib.channels import messages, webhooks
from chalicelib.contacts import service as contacts
from chalicelib.contacts.fields import clean_assignments
from chalicelib.events import service as events
from chalicelib.gdpr import erase
from chalicelib.lists import membership
from chalicelib.store.models import Contact, Enrollment


def perform(step: dict, enrollment: Enrollment, body: dict, contact: Contact) -> str:
    """Do the step; a short outcome for the journey's path (sent, skipped:no_consent, joined...)."""
    kind = step["type"]
    origin = f"{enrollment.id}/{step['id']}"
    if kind in ("email", "sms"):
        return messages.send_step(step, contact, enrollment, body)
    if kind == "add_to_list":
        source = f"scenario:{body['id']}"
        return "joined" if membership.join(contact.id, step["list"], source=source, event_id=origin) else "member"
    if kind == "remove_from_list":
        source = f"scenario:{body['id']}"
        return "left" if membership.leave(contact.id, step["list"], source=source, event_id=origin) else "absent"
    if kind == "score":
        reason = {"scenario": body["id"], "step": step["id"]}
        added = react.add_points(contact.id, int(step["points"]), reason=reason, event_id=origin)
        return f"{int(step['points']):+d}" if added else "done"
    if kind == "update_contact":
        return _update_contact(step, contact, origin)
    if kind == "webhook":
        return webhooks.call_step(step, contact, body)
    if kind == "delete_contact":
        erase.erase(contact.id, reason=f"scenario:{body['id']}")
        return "deleted"
    return "exit"


def _update_contact(step: dict, contact: Contact, origin: str) -> str:
    cleaned, problems = clean_assignments(step["set"], "set")
    if problems:
        return "invalid:" + "; ".join(problem.message for problem in problems)
    attributes = cleaned.pop("attributes", None) or {}
    upserted = contacts.patch(contact, contacts.Change(traits=cleaned, attributes=attributes))
    events.queue.enqueue(events.contact_events(upserted, origin=origin))
    return "updated" if upserted.changed else "unchanged"
