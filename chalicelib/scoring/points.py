"""Adding score points to a contact exactly once per reason (a retried step adds nothing)."""
from __future__ import annotations

from chalicelib import clock
from chalicelib.events import service as events
from chalicelib.store.models import Contact, Event, EventId, transaction


def add(contact_id: str, points: int, *, reason: dict, event_id: str) -> bool:
    """Add the points and record score.changed in one transaction; False if done before."""
    now = clock.now()
    stored = Event(contact_id, f"{clock.iso(now)}#{event_id}", id=event_id, type="score.changed",
                   properties={"points": points, **reason}, received_at=clock.iso(now))
    try:
        with transaction() as write:
            write.save(EventId(event_id, contact_id=contact_id), condition=EventId.id.does_not_exist())
            write.save(stored)
            # PynamoDB bumps the version, so a concurrent full write of the contact retries instead of undoing this.
            write.update(Contact(contact_id), actions=[Contact.score.add(points)],
                         condition=Contact.id.exists(), add_version_condition=False)
    except Exception as error:  # TransactWriteError: the event id was used, or the contact is gone
        if "ConditionalCheckFailed" in str(getattr(error, "cancellation_reasons", "")) or "Conditional" in str(error):
            return False
        raise
    events.queue.enqueue([events.to_api(stored)])
    return True
