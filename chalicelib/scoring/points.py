"""Adding score points to a contact exactly once per reason (a retried step adds nothing).

Step points go through the same state as event points (scoring.service): they decay with the
half-life, move the stage, and record score.changed (and stage.changed) in one transaction.
"""
from __future__ import annotations


def add(contact_id: str, points: int, *, reason: dict, event_id: str) -> bool:
    """Add the points and record score.changed; False if done before (or the contact is gone)."""
    from chalicelib.scoring import service

    return service.add(contact_id, points, reason=reason, event_id=event_id)
