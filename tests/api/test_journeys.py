"""Reference scenarios run end to end on the local stack (clock-scaled), through the HTTP API."""
from __future__ import annotations

import pytest

from examples import lists_for
from tests.helpers import (
    CONSENT,
    DAY,
    contact_id,
    eventually,
    journey,
    journeys,
    post,
    publish,
    reference,
    run_schedule,
    sent_steps,
)


@pytest.mark.time_scale(DAY)
def test_welcome_series_profile_completed_and_not(api):
    publish(api, reference("welcome-series"))
    post(api, "signup", "ana@example.com", consent=CONSENT, traits={"first_name": "Ana"})
    post(api, "signup", "bob@example.com", consent=CONSENT)
    post(api, "profile_saved", "ana@example.com", traits={"attributes": {"profile_completed": True}})
    ana = journey(api, "ana@example.com", "welcome-series", status="completed")
    bob = journey(api, "bob@example.com", "welcome-series", status="completed")
    assert ana["path"] == ["welcome", "profile-done", "discover"]
    assert bob["path"] == ["welcome", "profile-done", "complete-profile"]
    assert sent_steps(api, "ana@example.com") == ["discover", "welcome"]
    assert sent_steps(api, "bob@example.com") == ["complete-profile", "welcome"]


def _click(api, email, step, url):
    post(api, "email.clicked", email, properties={"step": step, "url": url, "scenario": "abandoned-cart"})


@pytest.mark.time_scale(360)  # the hour lasts 10 s: time to post the purchase
def test_abandoned_cart_bought_within_the_hour_converts(api):
    publish(api, reference("abandoned-cart"))
    post(api, "cart_updated", "ana@example.com", consent=CONSENT, properties={"items": 2})
    journey(api, "ana@example.com", "abandoned-cart")
    post(api, "purchase", "ana@example.com", properties={"order_id": "o-1"})
    done = journey(api, "ana@example.com", "abandoned-cart", status="converted")
    assert "why" not in done["path"]
    assert sent_steps(api, "ana@example.com") == []


@pytest.mark.time_scale(DAY // 4)  # a day lasts 4 s: the click stays within P3D however late the P2D wait ends
def test_abandoned_cart_clicked_shipping_reason_gets_free_shipping(api):
    publish(api, reference("abandoned-cart"))
    post(api, "cart_updated", "bob@example.com", consent=CONSENT, properties={"items": 1})
    eventually(lambda: "why" in sent_steps(api, "bob@example.com"))
    _click(api, "bob@example.com", "why", "https://shop.example.com/why?r=shipping-cost")
    done = journey(api, "bob@example.com", "abandoned-cart", status="completed")
    assert done["path"] == ["wait-purchase", "why", "shipping-answer", "free-shipping"]
    assert sent_steps(api, "bob@example.com") == ["free-shipping", "why"]


@pytest.mark.time_scale(DAY)
def test_abandoned_cart_no_purchase_no_click_gets_similar_items(api):
    publish(api, reference("abandoned-cart"))
    post(api, "cart_updated", "cy@example.com", consent=CONSENT, properties={"items": 3})
    post(api, "cart_updated", "empty@example.com", consent=CONSENT, properties={"items": 0})
    eventually(lambda: "why" in sent_steps(api, "cy@example.com"))
    _click(api, "cy@example.com", "why", "https://shop.example.com/why?r=changed-mind")
    done = journey(api, "cy@example.com", "abandoned-cart", status="completed")
    assert done["path"] == ["wait-purchase", "why", "shipping-answer", "similar"]
    assert sent_steps(api, "cy@example.com") == ["similar", "why"]
    assert journeys(api, "empty@example.com") == []  # the trigger filter: an empty cart is no trigger


@pytest.mark.time_scale(DAY // 2)  # the goal is posted within the P3D wait after "method": 6 s, under load too
def test_lead_magnet_sequence_and_goal_mid_journey(api):
    publish(api, reference("lead-magnet"))
    post(api, "download", "ana@example.com", consent=CONSENT, properties={"resource": "marketing-plan"})
    post(api, "download", "bob@example.com", consent=CONSENT, properties={"resource": "marketing-plan"})
    post(api, "download", "cy@example.com", consent=CONSENT, properties={"resource": "other-guide"})
    eventually(lambda: "method" in sent_steps(api, "bob@example.com"))
    post(api, "meeting_booked", "bob@example.com")
    ana = journey(api, "ana@example.com", "lead-magnet", status="completed")
    assert ana["path"] == ["template", "method", "secret"]
    assert sent_steps(api, "ana@example.com") == ["method", "secret", "template"]
    bob = journey(api, "bob@example.com", "lead-magnet", status="converted")
    assert bob["path"] == ["template", "method"]
    assert sent_steps(api, "bob@example.com") == ["method", "template"]
    assert journeys(api, "cy@example.com") == []


@pytest.mark.time_scale(DAY)
def test_loyal_customers_first_purchase_coupon_then_loyal_list_and_points(api):
    for body in lists_for("loyal-customers"):
        assert api.post("/lists", body).status_code == 201
    publish(api, reference("loyal-customers"))
    post(api, "purchase", "ana@example.com", consent=CONSENT, id="order-1")
    first = journey(api, "ana@example.com", "loyal-customers", status="completed")
    assert first["path"] == ["first-purchase", "coupon"]
    post(api, "purchase", "ana@example.com", id="order-2")

    def second():
        found = [item for item in journeys(api, "ana@example.com") if item["status"] == "completed"]
        return found if len(found) == 2 else None

    latest = eventually(second)[0]
    assert latest["path"] == ["first-purchase", "join-loyal", "loyal-points"]
    contact = api.get(f"/contacts/{contact_id(api, 'ana@example.com')}").data
    assert contact["lists"] == ["loyal-customers"]
    assert contact["score"] >= 10
    assert sent_steps(api, "ana@example.com") == ["coupon"]


@pytest.mark.time_scale(DAY)
def test_zero_waste_click_keeps_the_contact(api):
    publish(api, reference("zero-waste"))
    post(api, "segment.entered", "ana@example.com", consent=CONSENT, properties={"segment": "inactive-6-months"})
    eventually(lambda: "last-chance" in sent_steps(api, "ana@example.com"))
    post(api, "email.clicked", "ana@example.com", properties={"step": "last-chance", "url": "https://example.com/news"})
    done = journey(api, "ana@example.com", "zero-waste", status="exited")
    assert done["path"] == ["last-chance", "react", "kept"]
    assert api.get(f"/contacts/{contact_id(api, 'ana@example.com')}").status_code == 200


@pytest.mark.time_scale(10 * DAY)
def test_zero_waste_no_reaction_deletes_the_contact(api):
    publish(api, reference("zero-waste"))
    post(api, "segment.entered", "bob@example.com", consent=CONSENT, properties={"segment": "inactive-6-months"})
    bob = contact_id(api, "bob@example.com")
    eventually(lambda: api.get(f"/contacts/{bob}").status_code == 404, timeout=30)
    assert api.get("/contacts?email=bob@example.com").data["items"] == []


@pytest.mark.time_scale(600)  # ten minutes a second: still before 09:00 when the schedule runs, under load too
def test_birthday_email_at_nine_local_time(api, runtime):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from chalicelib import clock

    publish(api, reference("birthday"))
    zone = ZoneInfo("Asia/Tokyo")
    local = clock.now().astimezone(zone)
    nine = local.replace(hour=9, minute=0, second=0, microsecond=0)
    if nine <= local:
        nine += timedelta(days=1)
    clock.advance(nine - timedelta(seconds=30) - local)  # 08:59:30 in Tokyo, on the birthday
    birthday = f"1990-{nine.strftime('%m-%d')}"
    api.post("/contacts", {"email": "ana@example.com", "first_name": "Ana", "birthday": birthday,
                           "timezone": "Asia/Tokyo", "consent": {"email": True}})
    api.post("/contacts", {"email": "bob@example.com", "birthday": "1990-" + (nine + timedelta(days=5)).strftime(
        "%m-%d"), "consent": {"email": True}})
    assert run_schedule("date_triggers") == 1
    assert run_schedule("date_triggers") == 0  # idempotent: one birthday, one journey
    done = journey(api, "ana@example.com", "birthday", status="completed")
    assert done["path"] == ["birthday-mail"]
    messages = api.get(f"/contacts/{contact_id(api, 'ana@example.com')}/messages").data["items"]
    assert [m["subject"] for m in messages] == ["Joyeux anniversaire Ana !"]
    assert datetime.fromisoformat(messages[0]["sent_at"].replace("Z", "+00:00")) >= nine.astimezone(
        ZoneInfo("UTC")) - timedelta(seconds=31)


EVERY_STEP = {
    "id": "every-step", "name": "Every step type", "trigger": {"event": "trial_started"},
    "entry": {"reentry": "always"},
    "steps": [
        {"id": "tag", "type": "update_contact", "set": {"attributes.plan": "trial", "first_name": "Zed"}},
        {"id": "join", "type": "add_to_list", "list": "trials"},
        {"id": "ab", "type": "split", "branches": [
            {"weight": 50, "steps": [{"id": "sms-a", "type": "sms", "text": "Hi {{ contact.first_name }} (A)"}]},
            {"weight": 50, "steps": [{"id": "sms-b", "type": "sms", "text": "Hi {{ contact.first_name }} (B)"}]}]},
        {"id": "morning", "type": "wait", "until": {"time": "09:00"}},
        {"id": "before-end", "type": "wait", "until": {"date_field": "trial_ends_at", "offset": "-P2D"}},
        {"id": "plan-check", "type": "if", "condition": {"field": "attributes.plan", "op": "eq", "value": "trial"},
         "then": [{"id": "points", "type": "score", "points": 5}]},
        {"id": "hook", "type": "webhook", "url": "https://crm.invalid/hook", "body": {"stage": "trial"}},
        {"id": "leave", "type": "remove_from_list", "list": "trials"},
        {"id": "bye", "type": "exit"},
    ],
}


@pytest.mark.time_scale(DAY)
def test_every_step_type_runs(api):
    from datetime import timedelta

    from chalicelib import clock

    assert api.post("/lists", {"id": "trials", "name": "Trials"}).status_code == 201
    publish(api, EVERY_STEP)
    ends = (clock.now() + timedelta(days=3)).isoformat()
    response = api.post("/events", {"type": "trial_started", "contact": {"email": "zed@example.com"},
                                    "traits": {"phone": "+33612345678", "attributes": {"trial_ends_at": ends}},
                                    "consent": {"sms": True, "source": "trial form"}})
    assert response.status_code == 202
    done = journey(api, "zed@example.com", "every-step", status="exited")
    branch = "sms-a" if "sms-a" in done["path"] else "sms-b"
    assert done["path"] == ["tag", "join", branch, "morning", "before-end", "plan-check", "points", "hook",
                            "leave", "bye"]
    results = {step["step"]: step["result"] for step in done["steps"]}
    assert results["hook"].startswith("refused")  # the host does not resolve to a public address
    contact = api.get(f"/contacts/{contact_id(api, 'zed@example.com')}").data
    assert contact["first_name"] == "Zed"
    assert contact["attributes"]["plan"] == "trial"
    assert contact["lists"] == []
    assert contact["score"] == 5
    messages = api.get(f"/contacts/{contact['id']}/messages").data["items"]
    assert [(m["channel"], m["step"], m["status"], m["to"]) for m in messages] == [
        ("sms", branch, "sent", "+33612345678")]
    expected = {"list.joined", "list.left", "score.changed", "sms.sent", "journey.exited"}
    eventually(lambda: expected <= {event["type"] for event in api.get(
        f"/contacts/{contact['id']}/events").data["items"]})
