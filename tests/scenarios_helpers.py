"""Helpers for journey tests: reference scenarios, publishing, waiting for what contacts receive."""
from __future__ import annotations

from examples import scenario
from tests.conftest import eventually


def reference(name: str) -> dict:
    return scenario(name)


def publish(api, definition: dict) -> dict:
    created = api.post("/scenarios", definition)
    assert created.status_code == 201, created.data
    published = api.post(f"/scenarios/{definition['id']}/publish")
    assert published.status_code == 200, published.data
    return published.data


def contact_id(api, email: str) -> str:
    return eventually(lambda: (api.get(f"/contacts?email={email}").data["items"] or [{}])[0].get("id"))


def journeys(api, email: str) -> list[dict]:
    return api.get(f"/contacts/{contact_id(api, email)}/journeys").data["items"]


def journey(api, email: str, scenario: str, *, status: str | None = None, timeout: float = 60) -> dict:
    def check():
        found = [item for item in journeys(api, email) if item["scenario"] == scenario]
        if found and (status is None or found[0]["status"] == status):
            return found[0]
        return None

    return eventually(check, timeout=timeout)


def sent_steps(api, email: str) -> list[str]:
    items = api.get(f"/contacts/{contact_id(api, email)}/messages").data["items"]
    return sorted(item["step"] for item in items if item["status"] not in ("skipped", "failed", "sending"))


def post(api, event_type: str, email: str, **fields) -> None:
    response = api.post("/events", {"type": event_type, "contact": {"email": email}, **fields})
    assert response.status_code == 202, response.data
