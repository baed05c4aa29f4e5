"""One meaning of a scenario: simulate and the local stack take the same path, with the same step
results and the same messages, for every example scenario and several timelines.

Each case runs twice: on the stack (the contact created, its events posted as the journey reaches
them, the execution run by Step Functions), and through POST /scenarios/{id}/simulate with the
contact as it was before the journey and the same events (same ids) on a timeline.

What is compared: the journey's status; every step the stack records (actions, conditions and the
awaited events that resumed a wait), with its result; the messages sent (step, channel, address,
subject and text, the unsubscribe link aside). Duration waits and split choices leave no record of
their own on the stack (a Wait or Choice state runs no code): the steps after them show them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from examples import lists_for
from tests.helpers import DAY, eventually, outbox, publish, reference, run_schedule

PARITY_CONSENT = {"email": True, "source": "parity test"}
UNSUBSCRIBE = re.compile(r"\S+/u/\S+|\(unsubscribe link\)")


@dataclass
class Later:
    """An event posted once the journey has sent `after` (a step id), at `at` on the simulated timeline."""

    after: str
    type: str
    at: str
    properties: dict = field(default_factory=dict)


@dataclass
class Case:
    email: str
    trigger: str
    properties: dict = field(default_factory=dict)
    fields: dict = field(default_factory=dict)
    later: list[Later] = field(default_factory=list)
    history: list[tuple[str, dict]] = field(default_factory=list)  # events before the journey, ended first


def _contact(api, case: Case) -> dict:
    created = api.post("/contacts", {"email": case.email, "consent": PARITY_CONSENT, **case.fields})
    assert created.status_code in (200, 201), created.data
    return created.data


def _journey(api, contact_id: str, scenario: str, count: int = 1) -> dict:
    def ended():
        items = [item for item in api.get(f"/contacts/{contact_id}/journeys").data["items"]
                 if item["scenario"] == scenario]
        done = [item for item in items if item["status"] != "running"]
        return done if len(done) >= count else None

    return sorted(eventually(ended), key=lambda item: item["entered_at"])[count - 1]


def _sent(api, contact_id: str) -> list[str]:
    items = api.get(f"/contacts/{contact_id}/messages").data["items"]
    return [item["step"] for item in items if item["status"] not in ("sending", "skipped", "failed")]


def _post(api, contact_id: str, event_type: str, event_id: str, properties: dict) -> None:
    response = api.post("/events", {"id": event_id, "type": event_type, "contact": {"contact_id": contact_id},
                                    "properties": properties})
    assert response.status_code == 202, response.data


def run_on_stack(api, scenario: str, case: Case) -> tuple[dict, dict, list[dict]]:
    """The contact before the journey, the journey as the stack recorded it, and the emails it sent."""
    contact = _contact(api, case)
    for number, (event_type, properties) in enumerate(case.history):
        _post(api, contact["id"], event_type, f"{case.email}-history-{number}", properties)
        _journey(api, contact["id"], scenario, count=number + 1)
    before = api.get(f"/contacts/{contact['id']}").data
    earlier = {item["id"] for item in _emails(api, case.email)}
    _post(api, contact["id"], case.trigger, f"{case.email}-trigger", case.properties)
    for number, later in enumerate(case.later):
        eventually(lambda later=later: later.after in _sent(api, contact["id"]))
        _post(api, contact["id"], later.type, f"{case.email}-later-{number}", later.properties)
    journey = _journey(api, contact["id"], scenario, count=len(case.history) + 1)
    return before, journey, [item for item in _emails(api, case.email) if item["id"] not in earlier]


def _emails(api, address: str) -> list[dict]:
    return [item for item in outbox(api, limit=500) if item["channel"] == "email" and item["to"] == address]


def simulate(api, scenario: str, contact: dict, case: Case) -> dict:
    timeline = [{"id": f"{case.email}-history-{number}", "type": event_type, "properties": properties,
                 "at": f"-PT{len(case.history) - number}H"}
                for number, (event_type, properties) in enumerate(case.history)]
    timeline.append({"id": f"{case.email}-trigger", "type": case.trigger, "properties": case.properties,
                     "at": "+PT0S"})
    timeline += [{"id": f"{case.email}-later-{number}", "type": later.type, "properties": later.properties,
                  "at": later.at} for number, later in enumerate(case.later)]
    response = api.post(f"/scenarios/{scenario}/simulate", {"contact": contact, "timeline": timeline})
    assert response.status_code == 200, response.data
    return response.data


UNRECORDED = ("wait", "split", "wait_for")  # a wait_for's begin and resume are recorded by two threads


def _ids_of(steps: list[dict], kinds: tuple[str, ...]) -> set[str]:
    found = set()
    for step in steps:
        if step["type"] in kinds:
            found.add(step["id"])
        for branch in [step.get("then", []), step.get("else", [])] + [b["steps"] for b in step.get("branches", [])]:
            found |= _ids_of(branch, kinds)
    return found


def stack_steps(journey: dict, definition: dict) -> list[tuple[str, str]]:
    unrecorded = _ids_of(definition["steps"], UNRECORDED)
    return [(entry["step"], entry["result"]) for entry in journey["steps"] if entry["step"] not in unrecorded]


def simulated_steps(result: dict) -> list[tuple[str, str]]:
    return [(entry["step"], entry["result"]) for entry in result["path"] if entry["type"] not in UNRECORDED]


def _text(text: str) -> str:
    """The text part, its unsubscribe link aside, with the line ends MIME gives every email."""
    return UNSUBSCRIBE.sub("(unsubscribe)", text).replace("\r\n", "\n").strip()


def assert_same(api, scenario: str, case: Case) -> dict:
    before, journey, emails = run_on_stack(api, scenario, case)
    result = simulate(api, scenario, before, case)
    assert journey["status"] == result["status"], (journey, result)
    definition = api.get(f"/scenarios/{scenario}").data["definition"]
    assert stack_steps(journey, definition) == simulated_steps(result), (journey, result)
    sent = sorted((item["subject"], _text(item["text"])) for item in emails)
    simulated = sorted((item["subject"], _text(item["text"])) for item in result["messages"])
    assert sent == simulated
    return result


@pytest.mark.slow  # a whole reference scenario on the stack (make test keeps the split and birthday)
@pytest.mark.time_scale(DAY)
def test_welcome_series(api):
    publish(api, reference("welcome-series"))
    assert_same(api, "welcome-series", Case("ana@example.com", "signup", fields={"first_name": "Ana"}))
    assert_same(api, "welcome-series", Case("bob@example.com", "signup",
                                            fields={"attributes": {"profile_completed": True}}))


@pytest.mark.slow  # a whole reference scenario on the stack (make test keeps the split and birthday)
@pytest.mark.time_scale(DAY)
def test_abandoned_cart(api):
    publish(api, reference("abandoned-cart"))
    shipping = {"step": "why", "scenario": "abandoned-cart", "url": "https://shop.example.com/why?r=shipping-cost"}
    other = {**shipping, "url": "https://shop.example.com/why?r=changed-mind"}
    assert_same(api, "abandoned-cart", Case("ana@example.com", "cart_updated", {"items": 2},
                                            later=[Later("why", "email.clicked", "+PT3H", shipping)]))
    assert_same(api, "abandoned-cart", Case("bob@example.com", "cart_updated", {"items": 1},
                                            later=[Later("why", "email.clicked", "+PT3H", other)]))
    assert_same(api, "abandoned-cart", Case("cy@example.com", "cart_updated", {"items": 5}))


@pytest.mark.slow  # a whole reference scenario on the stack (make test keeps the split and birthday)
@pytest.mark.time_scale(DAY)
def test_lead_magnet(api):
    publish(api, reference("lead-magnet"))
    download = {"resource": "marketing-plan"}
    assert_same(api, "lead-magnet", Case("ana@example.com", "download", download))
    converted = assert_same(api, "lead-magnet", Case("bob@example.com", "download", download,
                                                     later=[Later("method", "meeting_booked", "+P4D")]))
    assert converted["status"] == "converted"


@pytest.mark.time_scale(DAY)
def test_loyal_customers(api):
    for body in lists_for("loyal-customers"):
        assert api.post("/lists", body).status_code == 201
    publish(api, reference("loyal-customers"))
    first = assert_same(api, "loyal-customers", Case("ana@example.com", "purchase", {"order_id": "o-1"}))
    assert [item["step"] for item in first["messages"]] == ["coupon"]
    repeat = assert_same(api, "loyal-customers", Case("bob@example.com", "purchase", {"order_id": "o-3"},
                                                      history=[("purchase", {"order_id": "o-2"})]))
    assert simulated_steps(repeat) == [("first-purchase", "else"), ("join-loyal", "joined"),
                                       ("loyal-points", "+10")]


@pytest.mark.time_scale(DAY)
def test_zero_waste_click(api):
    publish(api, reference("zero-waste"))
    entered = {"segment": "inactive-6-months"}
    click = {"step": "last-chance", "scenario": "zero-waste", "url": "https://example.com/news"}
    kept = assert_same(api, "zero-waste", Case("ana@example.com", "segment.entered", entered,
                                               later=[Later("last-chance", "email.clicked", "+P3D", click)]))
    assert kept["status"] == "exited"


@pytest.mark.time_scale(3600)  # an hour a second: the domain day must not turn while the test sets up
def test_birthday(api):
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from chalicelib import clock

    publish(api, reference("birthday"))
    results = {}
    for email, hour in (("ana@example.com", 7), ("bob@example.com", 6)):
        # the fixed-offset zone where it is now `hour` o'clock: 09:00 there is two or three hours ahead
        now = clock.now()
        zone = next(f"Etc/GMT{-offset:+d}" for offset in range(-12, 15)
                    if now.astimezone(ZoneInfo(f"Etc/GMT{-offset:+d}")).hour == hour)
        day = now.astimezone(ZoneInfo(zone)).date()
        contact = _contact(api, Case(email, "", fields={"first_name": email[:3].title(), "timezone": zone,
                                                        "birthday": f"1990-{day:%m-%d}"}))
        results[email] = api.get(f"/contacts/{contact['id']}").data
    start = clock.iso(clock.now())
    run_schedule("date_triggers")
    for email, before in results.items():
        journey = _journey(api, before["id"], "birthday")
        response = api.post("/scenarios/birthday/simulate", {"contact": before, "timeline": [], "start": start})
        assert response.status_code == 200, response.data
        result = response.data
        assert journey["status"] == result["status"] == "completed"
        assert stack_steps(journey, reference("birthday")) == simulated_steps(result) == [("birthday-mail", "sent")]
        sent = sorted((item["subject"], _text(item["text"])) for item in _emails(api, email))
        assert sent == sorted((item["subject"], _text(item["text"])) for item in result["messages"])
        [message] = api.get(f"/contacts/{before['id']}/messages").data["items"]
        # the stack sends when simulate enters: 09:00 in the contact's zone (give or take the polling)
        entered = clock.parse_iso(result["entered_at"])
        assert entered <= clock.parse_iso(message["sent_at"]) < entered + timedelta(minutes=30)


AB_TEST = {
    "id": "ab-welcome", "name": "A/B welcome", "trigger": {"event": "signup"},
    "entry": {"reentry": "always"},  # the bucket then depends on the trigger event's id too
    "steps": [{"id": "ab", "type": "split", "branches": [
        {"weight": 50, "steps": [{"id": "a", "type": "email", "subject": "A for {{ contact.email }}", "text": "A"}]},
        {"weight": 50, "steps": [{"id": "b", "type": "email", "subject": "B for {{ contact.email }}", "text": "B"}]},
    ]}],
}


@pytest.mark.time_scale(DAY)
def test_a_b_split_gives_each_contact_the_same_branch(api):
    publish(api, AB_TEST)
    branches = set()
    for number in range(12):
        result = assert_same(api, "ab-welcome", Case(f"c{number}@example.com", "signup"))
        branches.add(result["messages"][0]["step"])
    assert branches == {"a", "b"}  # both branches taken: the comparison covered a real split
