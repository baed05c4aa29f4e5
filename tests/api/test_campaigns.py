"""Campaigns through the HTTP API and the local outbox: audience, gate, tracking, report."""
from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import (
    contact_id,
    email_to,
    error_paths,
    events_of,
    eventually,
    fetch_pixel,
    links,
    messages,
    outbox,
    segment_ready,
    signup,
)

HTML = ('<p>Bonjour {{ contact.first_name | default("") }}</p>'
        '<a href="https://shop.example.com/sale">Sale</a> <a href="https://shop.example.com/new">New</a>')


def campaign_body(campaign_id: str = "winter", **extra: Any) -> dict:
    body = {"id": campaign_id, "name": "Winter sale", "channel": "email", "subject": "Winter sale",
            "html": HTML, "audience": {"lists": ["news"]}}
    body.update(extra)
    return body


def in_list(api: Any, list_id: str, emails: list[str]) -> None:
    if api.get(f"/lists/{list_id}").status_code == 404:
        assert api.post("/lists", {"id": list_id, "name": list_id}).status_code == 201
    for email in emails:
        response = api.post(f"/lists/{list_id}/members", {"contact_id": contact_id(api, email)})
        assert response.status_code in (200, 201), response.data


def launch(api: Any, body: dict, schedule: dict | None = None) -> dict:
    created = api.post("/campaigns", body)
    assert created.status_code == 201, created.data
    scheduled = api.post(f"/campaigns/{body['id']}/schedule", schedule or {"at": "now"})
    assert scheduled.status_code == 200, scheduled.data
    return scheduled.data


def finished(api: Any, campaign_id: str, timeout: float = 60) -> dict:
    return eventually(lambda: (lambda body: body if body["status"] == "sent" else None)(
        api.get(f"/campaigns/{campaign_id}").data), timeout=timeout)


def report(api: Any, campaign_id: str) -> dict:
    response = api.get(f"/campaigns/{campaign_id}/report")
    assert response.status_code == 200, response.data
    return response.data


def test_one_email_per_contact_across_lists_minus_exclusions_with_the_gate(api):
    for name in ("ana", "bob", "cid", "dan"):
        signup(api, f"{name}@example.com", first_name=name.title())
    for name in ("ana", "gus"):  # ana is in a list too; gus only in the segment
        signup(api, f"{name}@example.com", attributes={"plan": "pro"})
    pro = {"id": "pro", "name": "Pro", "criteria": {"field": "attributes.plan", "op": "eq", "value": "pro"}}
    assert api.post("/segments", pro).status_code == 201
    segment_ready(api, "pro")
    signup(api, "eve@example.com", consent=None)  # never consented
    signup(api, "fay@example.com")
    api.patch(f"/contacts/{contact_id(api, 'fay@example.com')}", {"consent": {"email": False}})
    in_list(api, "news", ["ana@example.com", "bob@example.com", "cid@example.com", "eve@example.com",
                          "fay@example.com"])
    in_list(api, "vip", ["bob@example.com", "cid@example.com", "dan@example.com"])  # bob, cid twice
    in_list(api, "blocked", ["dan@example.com"])

    launch(api, campaign_body(audience={"lists": ["news", "vip"], "segments": ["pro"], "exclude_lists": ["blocked"]}))
    finished(api, "winter")

    for name in ("ana", "bob", "cid", "gus"):
        assert len(email_to(api, f"{name}@example.com")) == 1
    sent = [item for item in outbox(api, limit=500) if item["channel"] == "email"]
    assert sorted(item["to"] for item in sent) == ["ana@example.com", "bob@example.com", "cid@example.com",
                                                   "gus@example.com"]
    body = report(api, "winter")
    assert (body["selected"], body["sent"], body["failed"]) == (6, 4, 0)
    assert body["skipped"] == {"no_consent": 1, "unsubscribed": 1}
    skipped = [item for item in messages(api, "eve@example.com") if item.get("campaign") == "winter"]
    assert [(item["status"], item["reason"]) for item in skipped] == [("skipped", "no_consent")]
    assert events_of(api, contact_id(api, "eve@example.com"), "campaign.skipped")[0]["properties"]["reason"] == \
        "no_consent"


def test_each_email_is_tracked_with_one_click_unsubscribe_and_counted(api):
    signup(api, "ana@example.com", first_name="Ana")
    signup(api, "bob@example.com")
    in_list(api, "news", ["ana@example.com", "bob@example.com"])
    launch(api, campaign_body())
    finished(api, "winter")

    email = email_to(api, "ana@example.com")[0]
    assert "Bonjour Ana" in email["html"]
    assert "List-Unsubscribe-Post" in email["headers"] and "List-Unsubscribe" in email["headers"]
    found = links(email["html"])
    assert len(found["click"]) == 2 and found["open"] and found["unsubscribe"]
    fetch_pixel(api, found["open"][0])
    fetch_pixel(api, found["open"][0])  # a second open: total, not unique
    assert api.get(found["click"][1]).status_code == 302
    assert api.get(found["click"][1]).status_code == 302
    ana = contact_id(api, "ana@example.com")
    sent = events_of(api, ana, "email.sent")[0]["properties"]
    assert sent["campaign"] == "winter"
    clicked = eventually(lambda: events_of(api, ana, "email.clicked"))[0]["properties"]
    assert (clicked["campaign"], clicked["link"], clicked["url"]) == ("winter", 2, "https://shop.example.com/new")

    body = eventually(lambda: (lambda data: data if data["clicked"]["total"] == 2 else None)(report(api, "winter")))
    assert body["sent"] == 2
    days = api.get("/reports/overview").data["days"]  # the account's day counts campaigns' sends too
    assert (sum(day["sent"] for day in days), sum(day["opened"] for day in days)) == (2, 1)
    assert body["opened"] == {"unique": 1, "total": 2}
    assert body["clicked"]["unique"] == 1
    assert body["clicked"]["links"] == [{"link": 2, "unique": 1, "total": 2}]

    def who(criteria: dict) -> int:
        response = api.post("/segments/preview", {"criteria": criteria})
        assert response.status_code == 200, response.data
        return response.data["count"]

    of_winter = {"field": "properties.campaign", "op": "eq", "value": "winter"}
    assert who({"event": "email.sent", "where": of_winter}) == 2  # recipients of the campaign
    assert who({"event": "email.opened", "where": of_winter}) == 1
    link_2 = {"all": [of_winter, {"field": "properties.link", "op": "eq", "value": 2}]}
    assert who({"event": "email.clicked", "where": link_2}) == 1
    assert who({"event": "email.clicked", "where": {"all": [of_winter, {"field": "properties.link", "op": "eq",
                                                                          "value": 1}]}}) == 0

    assert api.post(found["unsubscribe"][0], raw="List-Unsubscribe=One-Click",
                    headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 200
    eventually(lambda: report(api, "winter")["unsubscribed"] == 1)


def test_campaigns_are_read_edited_in_draft_only_and_checked(api):
    assert api.post("/campaigns", campaign_body()).status_code == 201
    assert api.post("/campaigns", campaign_body()).status_code == 409
    changed = api.put("/campaigns/winter", campaign_body(name="Winter sale 2"))
    assert changed.status_code == 200 and changed.data["name"] == "Winter sale 2"
    assert [item["id"] for item in api.get("/campaigns").data["items"]] == ["winter"]
    bad = api.post("/campaigns", {"id": "x", "name": "", "channel": "fax", "audience": {"lists": [3]},
                                  "ab_test": {"variants": [{"subject": "{{ oops"}]}})
    assert bad.status_code == 422
    assert {"name", "channel", "audience.lists[0]", "ab_test.variants"} <= set(error_paths(bad))
    template = api.post("/campaigns", campaign_body("t2", html="{{ contact.first_name | shout }}"))
    assert template.status_code == 422 and error_paths(template) == ["html"]
    assert api.post("/campaigns/winter/schedule", {"at": "yesterday"}).status_code == 422
    assert api.post("/campaigns/winter/schedule", {"at": "2027-06-01T09:00:00+02:00"}).status_code == 200
    assert api.get("/campaigns/winter").data["status"] == "scheduled"
    assert api.put("/campaigns/winter", campaign_body()).status_code == 409
    assert api.delete("/campaigns/winter").status_code == 409
    assert api.post("/campaigns/winter/cancel").data["status"] == "cancelled"
    assert api.post("/campaigns/winter/cancel").status_code == 409
    analyst = api.key_for("analyst")
    assert api.get("/campaigns/winter/report", key=analyst).status_code == 200
    assert api.post("/campaigns", campaign_body("t3"), key=analyst).status_code == 403
    assert api.get("/campaigns/nope").status_code == 404


def sent_subjects(api: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in outbox(api, limit=500):
        if item["channel"] == "email":
            found.setdefault(item["to"], []).append(item["subject"])
    return found


@pytest.mark.time_scale(3600)  # an hour a second
def test_local_time_reaches_each_contact_at_that_time_in_its_own_zone(api):
    from zoneinfo import ZoneInfo

    from chalicelib import clock

    # three zones whose 09:00 comes 3, 5 and 7 hours from now: the whole test takes seconds
    hour = clock.now().hour
    zones = {f"z{ahead}": ZoneInfo(f"Etc/GMT{-((9 - hour - ahead + 12) % 24 - 12):+d}") for ahead in (3, 5, 7)}
    for name, zone in zones.items():
        signup(api, f"{name}@example.com", timezone=zone.key)
    in_list(api, "news", [f"{name}@example.com" for name in zones])
    launch(api, campaign_body(), {"at": "now", "local_time": "09:00"})
    finished(api, "winter", timeout=30)
    moments = {}
    for name, zone in zones.items():
        [message] = [item for item in messages(api, f"{name}@example.com") if item.get("campaign") == "winter"]
        moments[name] = clock.parse_iso(message["sent_at"])
        assert moments[name].astimezone(zone).hour == 9, (name, moments[name].astimezone(zone))
    assert moments["z3"] < moments["z5"] < moments["z7"]


def test_the_ab_winner_by_unique_opens_goes_to_the_rest(api):
    from datetime import timedelta

    from chalicelib import clock
    from tests.helpers import run_schedule

    emails = [f"c{number}@example.com" for number in range(16)]
    for email in emails:
        signup(api, email)
    in_list(api, "news", emails)
    ab_test = {"variants": [{"subject": "Subject A"}, {"subject": "Subject B"}], "share": 50,
               "winner": {"by": "opens", "after": "PT2H"}}
    launch(api, campaign_body(ab_test=ab_test))
    tried = eventually(lambda: (lambda body: body if body["sent"] and body["sent"] == sum(
        variant["sent"] for variant in body["variants"]) and body["held_for_winner"] + body["sent"] == 16
        and not body["selecting"] else None)(report(api, "winter")))
    assert 0 < tried["held_for_winner"] < 16
    first = sent_subjects(api)
    assert all(len(subjects) == 1 for subjects in first.values())
    for address, subjects in first.items():
        if subjects == ["Subject B"]:
            fetch_pixel(api, links(email_to(api, address)[0]["html"])["open"][0])
    assert run_schedule("campaign_tick") == {"started": 0, "winners": 0}  # not before the delay
    clock.advance(timedelta(hours=3))
    assert run_schedule("campaign_tick")["winners"] == 1
    finished(api, "winter")
    body = report(api, "winter")
    assert body["winner"] == "B" and body["sent"] == 16 and body["held_for_winner"] == 0
    final = sent_subjects(api)
    assert sorted(final) == sorted(emails) and all(len(subjects) == 1 for subjects in final.values())
    rest = [address for address in emails if address not in first]
    assert rest and all(final[address] == ["Subject B"] for address in rest)
    variant_b = next(item for item in body["variants"] if item["variant"] == "B")
    assert variant_b["opened"]["unique"] == variant_b["sent"] - len(rest)  # the rest did not open


@pytest.fixture
def two_a_second(monkeypatch):
    monkeypatch.setenv("PARCOURS_EMAIL_RATE", "2")


def test_cancel_midway_stops_what_has_not_gone(two_a_second, api):
    emails = [f"c{number}@example.com" for number in range(30)]
    for email in emails:
        signup(api, email)
    in_list(api, "news", emails)
    launch(api, campaign_body())
    eventually(lambda: report(api, "winter")["sent"] >= 3, timeout=30)
    assert api.post("/campaigns/winter/cancel").data["status"] == "cancelled"
    gone = len(sent_subjects(api))
    import time

    time.sleep(3)  # the sender's next round finds the campaign cancelled
    after = sent_subjects(api)
    assert gone <= len(after) <= gone + 2 < 30  # what was under way when the cancel came
    assert all(len(subjects) == 1 for subjects in after.values())
    body = report(api, "winter")
    assert body["status"] == "cancelled" and body["sent"] == len(after) and body["selected"] == 30


def test_a_crash_halfway_resumes_without_sending_twice(api, monkeypatch):
    from chalicelib.campaigns import sender

    emails = [f"c{number}@example.com" for number in range(12)]
    for email in emails:
        signup(api, email)
    in_list(api, "news", emails)
    crashes = {"left": 1}
    recorded = sender._mark_sent
    victim = contact_id(api, "c5@example.com")

    def crash_once(record, details):  # the sender's process dies between a send and its record
        if crashes["left"] and record.contact_id == victim:
            crashes["left"] -= 1
            raise RuntimeError("the Lambda was stopped")
        recorded(record, details)

    monkeypatch.setattr(sender, "_mark_sent", crash_once)
    launch(api, campaign_body())
    finished(api, "winter")
    assert crashes["left"] == 0
    sent = sent_subjects(api)
    assert sorted(sent) == sorted(emails) and all(len(subjects) == 1 for subjects in sent.values())
    body = report(api, "winter")
    assert (body["sent"], body["failed"], body["skipped"]) == (12, 0, {})


def test_throttling_on_ses_postpones_sends_never_doubles_or_fails_them(api):
    from tests.helpers import aws_faults

    emails = [f"c{number}@example.com" for number in range(6)]
    for email in emails:
        signup(api, email)
    in_list(api, "news", emails)
    with aws_faults({("sesv2", "SendEmail"): 4}) as left:
        launch(api, campaign_body())
        finished(api, "winter")
    assert left == {("sesv2", "SendEmail"): 0}
    sent = sent_subjects(api)
    assert sorted(sent) == sorted(emails) and all(len(subjects) == 1 for subjects in sent.values())
    assert (report(api, "winter")["sent"], report(api, "winter")["failed"]) == (6, 0)


def test_an_sms_campaign_goes_through_sns_with_the_opt_out_list(api):
    for email, phone in (("sam@example.com", "+33612345678"), ("out@example.com", "+33612345699")):
        response = api.post("/events", {"type": "signup", "contact": {"email": email}, "traits": {"phone": phone},
                                        "consent": {"sms": True, "source": "test"}})
        assert response.status_code == 202, response.data
    in_list(api, "news", ["sam@example.com", "out@example.com"])
    launch(api, {"id": "flash", "name": "Flash", "channel": "sms", "text": "Vente flash {{ contact.email }}",
                 "audience": {"lists": ["news"]}})
    finished(api, "flash")
    sms = [item for item in outbox(api, limit=500) if item["channel"] == "sms"]
    assert [(item["to"], item["text"]) for item in sms] == [("+33612345678", "Vente flash sam@example.com")]
    body = report(api, "flash")
    assert (body["sent"], body["skipped"]) == (1, {"unsubscribed": 1})  # moto's opt-out list: numbers ending 99
    sent = events_of(api, contact_id(api, "sam@example.com"), "sms.sent")[0]["properties"]
    assert sent["campaign"] == "flash"
