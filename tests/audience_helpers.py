"""Helpers for the audience tests (lists, segments, scoring, activity, imports, GDPR)."""
from __future__ import annotations

from typing import Any

from tests.conftest import eventually

SCHEDULED_EVENT = {"version": "0", "account": "123456789012", "region": "eu-west-3", "detail": {},
                   "detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-01-01T00:00:00Z",
                   "id": "scheduled", "resources": []}



def run_schedule(name: str) -> Any:
    """Run one of app.py's scheduled handlers as EventBridge would."""
    import app as app_module

    return getattr(app_module, name)(SCHEDULED_EVENT, None)


def post(api: Any, event_type: str, email: str, **fields: Any) -> None:
    response = api.post("/events", {"type": event_type, "contact": {"email": email}, **fields})
    assert response.status_code == 202, response.data
    assert response.data["accepted"] + response.data["duplicates"] == 1, response.data


def contact(api: Any, email: str) -> dict:
    return eventually(lambda: (api.get(f"/contacts?email={email}").data["items"] or [None])[0])


def events_of(api: Any, contact_id: str, event_type: str | None = None) -> list[dict]:
    path = f"/contacts/{contact_id}/events?limit=500" + (f"&type={event_type}" if event_type else "")
    return api.get(path).data["items"]


def wait_event(api: Any, contact_id: str, event_type: str, **properties: Any) -> dict:
    """The contact's latest event of that type whose properties include `properties`."""
    def check() -> dict | None:
        for event in events_of(api, contact_id, event_type):
            if all(event["properties"].get(key) == value for key, value in properties.items()):
                return event
        return None

    return eventually(check, timeout=30)


def segment_ready(api: Any, segment_id: str) -> dict:
    return eventually(lambda: (lambda body: body if body["status"] == "ready" else None)(
        api.get(f"/segments/{segment_id}").data), timeout=30)


def member_ids(api: Any, segment_id: str) -> set[str]:
    return {item["id"] for item in api.get(f"/segments/{segment_id}/contacts?limit=500").data["items"]}


def error_paths(response: Any) -> list[str]:
    return [detail["path"] for detail in response.data["error"].get("details", [])]
