"""Reports count what happened, as it happened: a reference scenario run on the local stack, then
feedback replayed (duplicate SES notifications, repeated opens and clicks, retried Tasks) that
must not move a number."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.helpers import (
    CONSENT,
    DAY,
    contact_id,
    email_to,
    eventually,
    fetch_pixel,
    journey,
    links,
    message,
    post,
    provider_id,
    publish,
    publish_to_topic,
    reference,
    scenario,
    ses_notification,
)

SES = "parcours-ses-events"


def _range() -> str:
    from chalicelib import clock

    today = clock.now().date()
    return f"from={today.isoformat()}&to={(today + timedelta(days=365)).isoformat()}"


def _report(api, scenario_id: str, query: str) -> dict:
    response = api.get(f"/scenarios/{scenario_id}/report?{query}")
    assert response.status_code == 200, response.data
    return response.data


def _steps(report: dict) -> dict[str, dict]:
    return {step["id"]: step for step in report["steps"]}


@pytest.mark.time_scale(DAY)
def test_the_welcome_series_report_counts_each_step_branch_and_message_once(api):
    query = _range()
    publish(api, reference("welcome-series"))
    post(api, "signup", "ana@example.com", consent=CONSENT, traits={"attributes": {"profile_completed": True}})
    post(api, "signup", "bob@example.com", consent=CONSENT)
    post(api, "signup", "carl@example.com")  # no consent: both emails skipped
    for email in ("ana@example.com", "bob@example.com", "carl@example.com"):
        journey(api, email, "welcome-series", status="completed")
    ana_welcome, bob_welcome = provider_id("ana@example.com", "welcome"), provider_id("bob@example.com", "welcome")
    for _ in range(2):  # SNS delivers at least once: every notification twice
        publish_to_topic(SES, ses_notification("Delivery", ana_welcome, "ana@example.com"))
        publish_to_topic(SES, ses_notification("Open", ana_welcome, "ana@example.com"))
        publish_to_topic(SES, ses_notification("Complaint", bob_welcome, "bob@example.com"))
    welcome = next(item for item in email_to(api, "ana@example.com", count=2) if "Bienvenue" in item["subject"])
    found = links(welcome["html"])
    fetch_pixel(api, found["open"][0])  # our pixel and SES's open tracking: one open
    for _ in range(2):
        assert api.post(found["unsubscribe"][0], key="").status_code in (200, 204)
    message(api, "ana@example.com", "welcome", status="unsubscribed")

    report = _report(api, "welcome-series", query)
    assert report["scenario"] == "welcome-series" and report["version"] is None
    totals = report["totals"]
    assert {name: totals[name] for name in ("entered", "running", "completed", "converted", "exited", "failed",
                                            "sent", "delivered", "opened", "clicked", "unsubscribed",
                                            "bounced", "complained")} == {
        "entered": 3, "running": 0, "completed": 3, "converted": 0, "exited": 0, "failed": 0,
        "sent": 4, "delivered": 1, "opened": 1, "clicked": 0, "unsubscribed": 1, "bounced": 0, "complained": 1}
    assert totals["skipped"] == {"no_consent": 2}
    assert totals["rates"] == {"delivered": 0.25, "opened": 0.25, "clicked": 0, "unsubscribed": 0.25,
                               "bounced": 0, "complained": 0.25, "converted": 0}
    steps = _steps(report)
    assert [step["id"] for step in report["steps"]] == ["welcome", "wait-week", "profile-done", "discover",
                                                        "complete-profile"]
    assert {key: steps["welcome"][key] for key in ("reached", "waiting", "completed", "sent", "delivered", "opened",
                                                   "unsubscribed", "complained", "skipped")} == {
        "reached": 3, "waiting": 0, "completed": 3, "sent": 2, "delivered": 1, "opened": 1, "unsubscribed": 1,
        "complained": 1, "skipped": {"no_consent": 1}}
    assert steps["welcome"]["rates"]["opened"] == 0.5 and "converted" not in steps["welcome"]["rates"]
    assert (steps["wait-week"]["reached"], steps["wait-week"]["completed"]) == (3, 3)
    assert steps["profile-done"]["branches"] == {"then": 1, "else": 2}
    assert (steps["discover"]["reached"], steps["discover"]["sent"]) == (1, 1)
    assert (steps["complete-profile"]["reached"], steps["complete-profile"]["sent"],
            steps["complete-profile"]["skipped"]) == (2, 1, {"no_consent": 1})
    assert "branches" not in steps["welcome"]
    assert sum(day["entered"] for day in report["days"]) == 3
    assert sum(day["sent"] for day in report["days"]) == 4
    assert len(report["days"]) == 366 and report["days"][0]["date"] == report["from"]
    assert _report(api, "welcome-series", f"{query}&version=1")["totals"]["entered"] == 3

    diagram = api.get(f"/scenarios/welcome-series/diagram?counts=1&{query}").data["diagram"]
    assert "3 reached" in diagram and "then: 1" in diagram and "else: 2" in diagram
    assert "reached" not in api.get("/scenarios/welcome-series/diagram").data["diagram"]

    # the totals follow the contact events (ana's unsubscribe: a contact.updated), a moment later
    overview = eventually(lambda: (lambda now: now if now["consented"]["email"] == 1 else None)(
        api.get(f"/reports/overview?{query}").data))
    assert overview["contacts"] == 3
    assert overview["consented"] == {"email": 1, "sms": 0}  # ana unsubscribed
    assert (overview["active"], overview["inactive"]) == (0, 3)  # no activity rank computed yet: rank 0 all
    assert sum(day["contacts_created"] for day in overview["days"]) == 3
    assert sum(day["sent"] for day in overview["days"]) == 4
    assert sum(day["complained"] for day in overview["days"]) == 1
    assert api.delete(f"/contacts/{contact_id(api, 'bob@example.com')}").status_code in (200, 202, 204)
    after = eventually(lambda: (lambda now: now if now["contacts"] == 2 else None)(
        api.get(f"/reports/overview?{query}").data))
    assert after["consented"] == {"email": 0, "sms": 0}  # ana unsubscribed, bob erased, carl never consented
    assert sum(day["contacts_created"] for day in after["days"]) == 3  # growth is history


@pytest.mark.time_scale(360)  # the hour lasts 10 s: time to post the purchase
def test_a_conversion_counts_where_the_contact_was_waiting(api):
    query = _range()
    publish(api, reference("abandoned-cart"))
    post(api, "cart_updated", "ana@example.com", consent=CONSENT, properties={"items": 2})
    waiting = eventually(lambda: (lambda now: now if _steps(now)["wait-purchase"]["waiting"] == 1 else None)(
        _report(api, "abandoned-cart", query)))
    assert waiting["totals"]["running"] == 1 and waiting["totals"]["entered"] == 1
    post(api, "purchase", "ana@example.com", properties={"order_id": "o-1"})
    journey(api, "ana@example.com", "abandoned-cart", status="converted")
    report = eventually(lambda: (lambda now: now if now["totals"]["converted"] == 1 else None)(
        _report(api, "abandoned-cart", query)))
    assert report["totals"]["running"] == 0 and report["totals"]["rates"]["converted"] == 1.0
    step = _steps(report)["wait-purchase"]
    assert (step["reached"], step["waiting"], step["completed"], step["converted"], step["exited"]) == (1, 0, 0, 1, 0)
    assert step["branches"] == {"then": 0, "else": 0}
    assert _steps(report)["why"]["reached"] == 0


@pytest.mark.time_scale(1)
def test_retried_tasks_and_duplicate_notifications_do_not_move_the_counts(api):
    import app as app_module
    from chalicelib.scenarios import journeys

    query = _range()
    publish(api, scenario("hold", "go", [
        {"id": "mail", "type": "email", "subject": "Hi", "html": '<p><a href="https://shop.example.com/">Shop</a></p>'},
        {"id": "pause", "type": "wait", "duration": "P30D"},
        {"id": "later", "type": "email", "subject": "Later", "html": "<p>Later</p>"}]))
    post(api, "go", "ana@example.com", consent=CONSENT)
    message(api, "ana@example.com", "mail", status="sent")
    running = journey(api, "ana@example.com", "hold")
    assert running["status"] == "running"

    def counts() -> dict:
        report = _report(api, "hold", query)
        return {"totals": report["totals"], "steps": report["steps"], "days": report["days"]}

    before = eventually(lambda: (lambda now: now if _steps(now)["pause"]["reached"] == 1 else None)(counts()))
    assert _steps(before)["pause"]["waiting"] == 1 and _steps(before)["mail"]["completed"] == 1
    assert before["totals"]["running"] == 1

    enrollment = journeys.get(contact_id(api, "ana@example.com"), "hold#once")
    payload = {"action": "step", "step": "mail", "next": "pause", "last": False, **journeys.payload(enrollment, {})}
    payload.pop("timeouts")
    assert app_module.step_runner(payload, None) == {"result": "done"}  # the Task, retried twice
    assert app_module.step_runner(payload, None) == {"result": "done"}
    journeys.record(journeys.get(enrollment.contact_id, enrollment.key), "mail", "sent", current=None)  # a lost reply

    ses_id = provider_id("ana@example.com", "mail")
    for _ in range(2):
        for kind in ("Delivery", "Open"):
            publish_to_topic(SES, ses_notification(kind, ses_id, "ana@example.com"))
    [sent] = email_to(api, "ana@example.com")
    found = links(sent["html"])
    for _ in range(2):
        api.get(found["click"][0], key="")
    message(api, "ana@example.com", "mail", status="clicked")
    after = counts()
    steps = _steps(after)
    assert (steps["mail"]["reached"], steps["mail"]["sent"], steps["mail"]["delivered"], steps["mail"]["opened"],
            steps["mail"]["clicked"]) == (1, 1, 1, 1, 1)
    assert after["totals"]["entered"] == 1 and after["totals"]["running"] == 1
    assert [day["entered"] for day in after["days"]] == [day["entered"] for day in before["days"]]
    # nothing but the engagement moved: the journey's own counts are those of before
    for step_id in ("mail", "pause", "later"):
        for key in ("reached", "waiting", "completed"):
            assert steps[step_id][key] == _steps(before)[step_id][key], (step_id, key)


def test_report_refusals(api):
    publish(api, reference("welcome-series"))
    assert api.get("/scenarios/nope/report").status_code == 404
    assert api.get("/scenarios/welcome-series/report?version=9").status_code == 404
    bad = api.get("/scenarios/welcome-series/report?from=2026-13-01")
    assert bad.status_code == 422 and bad.data["error"]["details"][0]["path"] == "from"
    backwards = api.get("/scenarios/welcome-series/report?from=2026-11-02&to=2026-11-01")
    assert backwards.status_code == 422
    assert api.get("/reports/overview?from=2020-01-01&to=2026-01-01").status_code == 422
    assert api.get("/reports/overview?from=9999-12-31").status_code == 422
    analyst = api.key_for("analyst")
    assert api.get("/reports/overview", key=analyst).status_code == 200
    assert api.get("/scenarios/welcome-series/report", key=analyst).status_code == 200
    default = api.get("/scenarios/welcome-series/report").data
    assert len(default["days"]) == 30 and default["totals"]["entered"] == 0
    assert api.get("/reports/overview", key=api.key_for("ingest")).status_code == 403


def test_a_report_of_all_versions_lists_the_latest_steps_then_those_only_older_versions_had(api):
    first = reference("welcome-series")
    assert api.post("/scenarios", first).status_code == 201
    second = {**first, "steps": [{**first["steps"][0], "id": "hello"}, *first["steps"][1:]]}
    assert api.put("/scenarios/welcome-series", second).status_code == 200
    ids = ["wait-week", "profile-done", "discover", "complete-profile"]
    assert [step["id"] for step in _report(api, "welcome-series", "")["steps"]] == ["hello", *ids, "welcome"]
    assert [step["id"] for step in _report(api, "welcome-series", "version=1")["steps"]] == ["welcome", *ids]
    assert _report(api, "welcome-series", "version=2")["version"] == 2


@pytest.mark.time_scale(DAY)
def test_counters_written_by_earlier_versions_are_read_without_counting_twice(api):
    """Before this version, every journey fact also went to an all-time slot, a scenario's message
    numbers also to its own slot, and a counter was one item: a report over such data counts each
    thing once, alongside what is counted now (spread over items)."""
    import boto3

    from chalicelib import clock
    from chalicelib.config import settings

    query = _range()
    publish(api, reference("welcome-series"))
    day = clock.now().date().isoformat()
    table = boto3.resource("dynamodb", region_name=settings().region).Table(settings().table("report-counters"))
    for scope, slot, counts in [
        ("scenario#welcome-series", f"{day}#1#", {"entered": 2, "completed": 2, "sent": 3}),
        ("scenario#welcome-series", "all#1#", {"entered": 2, "completed": 2}),
        ("scenario#welcome-series", f"{day}#1#welcome", {"reached": 2, "completed": 2, "sent": 2}),
        ("scenario#welcome-series", "all#1#welcome", {"reached": 2, "completed": 2}),
        ("scenario#welcome-series", f"{day}#1#complete-profile", {"reached": 2, "completed": 2, "sent": 1}),
        ("account", day, {"sent": 3}),
    ]:
        table.put_item(Item={"scope": scope, "slot": slot, **counts})
    post(api, "signup", "ana@example.com", consent=CONSENT)  # counted now, beside the old counters
    journey(api, "ana@example.com", "welcome-series", status="completed")
    report = eventually(lambda: (lambda now: now if now["totals"]["completed"] == 3 else None)(
        _report(api, "welcome-series", query)))  # the journey's last Task counts as it ends
    totals, steps = report["totals"], _steps(report)
    assert (totals["entered"], totals["running"], totals["completed"], totals["sent"]) == (3, 0, 3, 5)
    assert (steps["welcome"]["reached"], steps["welcome"]["waiting"], steps["welcome"]["sent"]) == (3, 0, 3)
    assert steps["complete-profile"]["sent"] == 2
    assert sum(item["sent"] for item in report["days"]) == 5
    overview = api.get(f"/reports/overview?{query}").data
    assert sum(item["sent"] for item in overview["days"]) == 5
