"""Dynamic segments through the HTTP API: builds, incremental membership, time, previews, bad input."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib import clock
from examples import segment
from tests.helpers import (
    contact,
    error_paths,
    eventually,
    journey,
    member_ids,
    post,
    publish,
    reference,
    run_schedule,
    segment_ready,
    wait_event,
)

PRO = {"field": "attributes.plan", "op": "eq", "value": "pro"}


def _new(api, email: str, **fields) -> str:
    response = api.post("/contacts", {"email": email, **fields})
    assert response.status_code in (200, 201), response.data
    return response.data["id"]


def test_full_build_over_the_existing_base(api):
    ids = {_new(api, f"user{index}@example.com", attributes={"plan": "pro" if index % 3 == 0 else "free"})
           for index in range(9)}
    created = api.post("/segments", {"id": "pro", "name": "Pro plan", "criteria": PRO})
    assert created.status_code == 201
    assert created.data["status"] == "building" and created.data["build"]["parts"] == 1  # nine contacts: one part
    ready = segment_ready(api, "pro")
    assert ready["count"] == 3 and ready["build"]["progress"]["evaluated"] == 9
    pro = {item["id"] for item in api.get("/contacts?limit=500").data["items"]
           if item["attributes"].get("plan") == "pro"}
    assert member_ids(api, "pro") == pro and pro <= ids
    listed = {item["id"]: item for item in api.get("/segments").data["items"]}
    assert listed["pro"]["count"] == 3
    assert {"active", "inactive"} <= listed.keys() and listed["inactive"]["builtin"] is True


def test_field_changes_move_contacts_in_and_out(api):
    api.post("/segments", {"id": "pro", "name": "Pro plan", "criteria": PRO})
    segment_ready(api, "pro")
    ana = _new(api, "ana@example.com")
    api.patch(f"/contacts/{ana}", {"attributes": {"plan": "pro"}})
    entered = wait_event(api, ana, "segment.entered", segment="pro")
    assert entered["properties"] == {"segment": "pro"}
    assert member_ids(api, "pro") == {ana}
    api.patch(f"/contacts/{ana}", {"attributes": {"plan": "free"}})
    wait_event(api, ana, "segment.left", segment="pro")
    assert member_ids(api, "pro") == set() and api.get("/segments/pro").data["count"] == 0


def test_enter_by_an_event_and_leave_as_time_passes(api):
    api.post("/segments", {"id": "recent-viewers", "name": "Viewed a page this week",
                           "criteria": {"event": "page_view", "within": "P7D"}})
    segment_ready(api, "recent-viewers")
    post(api, "page_view", "ana@example.com", properties={"url": "/pricing"})
    ana = contact(api, "ana@example.com")["id"]
    wait_event(api, ana, "segment.entered", segment="recent-viewers")
    assert member_ids(api, "recent-viewers") == {ana}

    clock.advance(timedelta(days=6))
    run_schedule("segment_refresh")
    assert member_ids(api, "recent-viewers") == {ana}  # not yet: the view is 6 days old

    clock.advance(timedelta(days=1, hours=1))
    result = run_schedule("segment_refresh")
    assert result["changed"] == 1
    wait_event(api, ana, "segment.left", segment="recent-viewers")
    assert member_ids(api, "recent-viewers") == set()
    assert run_schedule("segment_refresh")["checked"] == 0  # nothing left to check for her


def test_only_segments_an_event_can_affect_are_evaluated(api, monkeypatch):
    from chalicelib.segments import engine

    api.post("/segments", {"id": "viewers", "name": "Viewers", "criteria": {"event": "page_view"}})
    api.post("/segments", {"id": "buyers", "name": "Buyers", "criteria": {"event": "purchase"}})
    segment_ready(api, "viewers")
    segment_ready(api, "buyers")
    segment_ready(api, "inactive")  # built in: every new contact enters it
    ana = _new(api, "ana@example.com")
    eventually(lambda: "inactive" in api.get(f"/contacts/{ana}/export").data["contact"]["segments"])
    evaluated: list[tuple[str, set[str]]] = []
    original = engine.evaluate_loaded

    def spy(loaded, definitions, **kwargs):
        evaluated.append((kwargs["cause"], set(definitions)))
        return original(loaded, definitions, **kwargs)

    monkeypatch.setattr(engine, "evaluate_loaded", spy)
    post(api, "download", "ana@example.com", id="evt-download")
    post(api, "purchase", "ana@example.com", id="evt-purchase")
    wait_event(api, ana, "segment.entered", segment="buyers")
    by_cause = {cause: ids for cause, ids in evaluated}
    assert "c:evt-download" not in by_cause  # no segment reads downloads (nor last_activity_at)
    assert by_cause["c:evt-purchase"] == {"buyers"}
    assert member_ids(api, "viewers") == set()


def test_membership_of_another_segment_cascades(api):
    api.post("/segments", {"id": "pro", "name": "Pro", "criteria": PRO})
    created = api.post("/segments", {"id": "pro-buyers", "name": "Pro buyers",
                                     "criteria": {"all": [{"in_segment": "pro"}, {"event": "purchase"}]}})
    assert created.status_code == 201
    segment_ready(api, "pro-buyers")
    post(api, "purchase", "ana@example.com")
    ana = contact(api, "ana@example.com")["id"]
    api.patch(f"/contacts/{ana}", {"attributes": {"plan": "pro"}})
    wait_event(api, ana, "segment.entered", segment="pro-buyers")
    assert member_ids(api, "pro-buyers") == {ana}
    refused = api.delete("/segments/pro")
    assert refused.status_code == 409 and "pro-buyers" in refused.data["error"]["message"]


@pytest.mark.time_scale(86400)
def test_zero_waste_reference_segment_enters_by_time_and_starts_the_scenario(api):
    assert api.post("/segments", segment("inactive-6-months")).status_code == 201
    segment_ready(api, "inactive-6-months")
    publish(api, reference("zero-waste"))
    post(api, "page_view", "ana@example.com", consent={"email": True, "source": "test"})
    ana = contact(api, "ana@example.com")["id"]
    eventually(lambda: any(check for check in _checks(ana)))
    assert member_ids(api, "inactive-6-months") == set()

    clock.advance(timedelta(days=184))
    run_schedule("segment_refresh")
    entered = wait_event(api, ana, "segment.entered", segment="inactive-6-months")
    assert entered["properties"] == {"segment": "inactive-6-months"}
    assert member_ids(api, "inactive-6-months") == {ana}
    eventually(lambda: journey(api, "ana@example.com", "zero-waste")["path"][:1] == ["last-chance"])


def _checks(contact_id: str) -> list:
    from chalicelib.segments import checks

    return checks.checks_of(contact_id)


def test_redefining_a_segment_rebuilds_it(api):
    ana = _new(api, "ana@example.com", attributes={"plan": "pro"})
    bob = _new(api, "bob@example.com", attributes={"plan": "team"})
    api.post("/segments", {"id": "paying", "name": "Paying", "criteria": PRO})
    segment_ready(api, "paying")
    assert member_ids(api, "paying") == {ana}
    updated = api.put("/segments/paying", {"name": "Paying", "criteria": {
        "field": "attributes.plan", "op": "in", "value": ["team"]}})
    assert updated.status_code == 200 and updated.data["status"] == "building"
    segment_ready(api, "paying")
    assert member_ids(api, "paying") == {bob}
    wait_event(api, ana, "segment.left", segment="paying")


def test_deleting_a_segment(api):
    ana = _new(api, "ana@example.com", attributes={"plan": "pro"})
    api.post("/segments", {"id": "pro", "name": "Pro", "criteria": PRO})
    segment_ready(api, "pro")
    assert api.delete("/segments/pro").status_code == 202
    assert api.get("/segments/pro").status_code == 404
    eventually(lambda: "pro" not in api.get(f"/contacts/{ana}/export").data["contact"]["segments"])


def test_preview_counts_and_samples_unsaved_criteria(api):
    for index in range(6):
        _new(api, f"user{index}@example.com", attributes={"plan": "pro" if index < 4 else "free"})
    preview = api.post("/segments/preview", {"criteria": PRO})
    assert preview.status_code == 200
    assert preview.data["count"] == 4 and preview.data["exact"] is True and preview.data["evaluated"] == 6
    assert len(preview.data["sample"]) == 4
    assert {item["attributes"]["plan"] for item in preview.data["sample"]} == {"pro"}
    assert api.get("/segments").data["items"] == [] or all(
        item["id"] in ("active", "inactive") for item in api.get("/segments").data["items"])


def test_segment_contacts_are_paginated(api):
    for index in range(5):
        _new(api, f"user{index}@example.com", attributes={"plan": "pro"})
    api.post("/segments", {"id": "pro", "name": "Pro", "criteria": PRO})
    segment_ready(api, "pro")
    seen, cursor = [], None
    while True:
        response = api.get("/segments/pro/contacts?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200 and len(response.data["items"]) <= 2
        seen += [item["email"] for item in response.data["items"]]
        cursor = response.data["next"]
        if not cursor:
            break
    assert sorted(seen) == [f"user{index}@example.com" for index in range(5)]


def test_bad_segments_are_refused_with_paths(api):
    bad = api.post("/segments", {"id": "x", "name": "X", "criteria": {"all": [
        {"field": "attributes.plan", "op": "equals", "value": "pro"}, {"event": "page_view", "within": "6 months"}]}})
    assert bad.status_code == 422
    assert error_paths(bad) == ["criteria.all[0].op", "criteria.all[1].within"]
    missing = api.post("/segments", {"id": "y", "name": "Y", "criteria": {"in_segment": "nope"}})
    assert error_paths(missing) == ["criteria.in_segment"]
    assert error_paths(api.post("/segments", {"name": "", "extra": 1})) == ["extra", "id", "name", "criteria"]
    api.post("/segments", {"id": "a", "name": "A", "criteria": PRO})
    api.post("/segments", {"id": "b", "name": "B", "criteria": {"in_segment": "a"}})
    cycle = api.put("/segments/a", {"name": "A", "criteria": {"in_segment": "b"}})
    assert cycle.status_code == 422 and error_paths(cycle) == ["criteria.in_segment"]
    assert api.post("/segments", {"id": "a", "name": "A", "criteria": PRO}).status_code == 409
    assert api.put("/segments/inactive", {"name": "Mine", "criteria": PRO}).status_code == 409
    assert api.delete("/segments/active").status_code == 409
    assert api.get("/segments/nope").status_code == 404
    assert error_paths(api.post("/segments/preview", {"criteria": {"field": "nope", "op": "eq", "value": 1}})) == [
        "criteria.field"]
    assert api.post("/segments/preview", raw="[").status_code == 400
    analyst = api.key_for("analyst")
    assert api.post("/segments", {"id": "z", "name": "Z", "criteria": PRO}, key=analyst).status_code == 403
    assert api.post("/segments/preview", {"criteria": PRO}, key=analyst).status_code == 200
