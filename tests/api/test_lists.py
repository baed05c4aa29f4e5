"""Static lists through the HTTP API: CRUD, members, list.joined / list.left, counts, bad input."""
from __future__ import annotations

from tests.helpers import contact, error_paths, events_of, eventually, journey, publish, wait_event


def _contact_id(api, email: str) -> str:
    response = api.post("/contacts", {"email": email})
    assert response.status_code in (200, 201), response.data
    return response.data["id"]


def test_list_crud(api):
    created = api.post("/lists", {"id": "newsletter", "name": "Newsletter", "description": "Monthly"})
    assert created.status_code == 201
    assert created.data == {**created.data, "id": "newsletter", "name": "Newsletter", "count": 0}
    assert api.post("/lists", {"id": "newsletter", "name": "Again"}).status_code == 409
    api.post("/lists", {"id": "vip", "name": "VIP"})
    assert sorted(item["id"] for item in api.get("/lists").data["items"]) == ["newsletter", "vip"]
    renamed = api.put("/lists/vip", {"name": "Very important"})
    assert renamed.status_code == 200 and renamed.data["name"] == "Very important"
    assert api.get("/lists/vip").data["name"] == "Very important"
    assert api.get("/lists/nope").status_code == 404
    deleted = api.delete("/lists/vip")
    assert deleted.status_code == 202
    eventually(lambda: api.get("/lists/vip").status_code == 404)


def test_members_join_and_leave_with_events_and_counts(api):
    api.post("/lists", {"id": "vip", "name": "VIP"})
    ana, bob = _contact_id(api, "ana@example.com"), _contact_id(api, "bob@example.com")
    first = api.post("/lists/vip/members", {"contact_id": ana})
    assert first.status_code == 201 and first.data["changed"] is True
    again = api.post("/lists/vip/members", {"contact_id": ana})
    assert again.status_code == 200 and again.data["changed"] is False
    api.post("/lists/vip/members", {"contact_id": bob})
    assert api.get("/lists/vip").data["count"] == 2
    assert api.get(f"/contacts/{ana}").data["lists"] == ["vip"]
    joined = [event for event in events_of(api, ana, "list.joined")]
    assert len(joined) == 1 and joined[0]["properties"] == {"list": "vip", "source": "api"}
    members = api.get("/lists/vip/members").data["items"]
    assert sorted(item["contact_id"] for item in members) == sorted([ana, bob])
    assert all(item["joined_at"] and item["contact"]["id"] == item["contact_id"] for item in members)

    left = api.delete(f"/lists/vip/members/{ana}")
    assert left.status_code == 200 and left.data["changed"] is True
    assert api.delete(f"/lists/vip/members/{ana}").data["changed"] is False
    assert api.get("/lists/vip").data["count"] == 1
    assert api.get(f"/contacts/{ana}").data["lists"] == []
    assert [event["properties"]["list"] for event in events_of(api, ana, "list.left")] == ["vip"]


def test_members_are_paginated(api):
    api.post("/lists", {"id": "all", "name": "All"})
    ids = [_contact_id(api, f"user{index}@example.com") for index in range(5)]
    for contact_id in ids:
        api.post("/lists/all/members", {"contact_id": contact_id})
    seen, cursor = [], None
    while True:
        response = api.get("/lists/all/members?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert len(response.data["items"]) <= 2
        seen += [item["contact_id"] for item in response.data["items"]]
        cursor = response.data["next"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids)


def test_deleting_a_list_takes_its_members_out(api):
    api.post("/lists", {"id": "temp", "name": "Temp"})
    ana = _contact_id(api, "ana@example.com")
    api.post("/lists/temp/members", {"contact_id": ana})
    assert api.delete("/lists/temp").status_code == 202
    eventually(lambda: api.get(f"/contacts/{ana}").data["lists"] == [])
    eventually(lambda: api.get("/lists/temp").status_code == 404)
    recreated = eventually(lambda: (lambda r: r if r.status_code == 201 else None)(
        api.post("/lists", {"id": "temp", "name": "Temp again"})))
    assert recreated.data["count"] == 0


def test_bad_input_is_refused_with_paths(api):
    bad = api.post("/lists", {"id": "no spaces", "name": "", "colour": "red"})
    assert bad.status_code == 422
    assert sorted(error_paths(bad)) == ["colour", "id", "name"]
    assert api.post("/lists", raw="{not json").status_code == 400
    api.post("/lists", {"id": "vip", "name": "VIP"})
    missing = api.post("/lists/vip/members", {"contact_id": "nobody"})
    assert missing.status_code == 422 and error_paths(missing) == ["contact_id"]
    assert error_paths(api.post("/lists/vip/members", {"contact": "x"})) == ["contact", "contact_id"]
    assert api.post("/lists/nope/members", {"contact_id": "x"}).status_code == 404
    analyst = api.key_for("analyst")
    assert api.post("/lists", {"id": "x", "name": "X"}, key=analyst).status_code == 403
    assert api.get("/lists", key=analyst).status_code == 200


def test_list_joined_triggers_a_scenario(api):
    publish(api, {"id": "vip-welcome", "name": "VIP welcome",
                  "trigger": {"event": "list.joined", "where": {"field": "properties.list", "op": "eq",
                                                                 "value": "vip"}},
                  "steps": [{"id": "hello", "type": "email", "subject": "Welcome, VIP",
                             "html": "<p>Hello</p>"}]})
    api.post("/lists", {"id": "vip", "name": "VIP"})
    api.post("/contacts", {"email": "ana@example.com", "consent": {"email": True}})
    ana = contact(api, "ana@example.com")["id"]
    api.post("/lists/vip/members", {"contact_id": ana})
    assert journey(api, "ana@example.com", "vip-welcome", status="completed")["path"] == ["hello"]


def test_scenario_step_creates_the_list_it_names(api):
    from chalicelib.lists import membership

    ana = _contact_id(api, "ana@example.com")
    assert membership.join(ana, "from-a-step", source="scenario:x", event_id="enr-1/join") is True
    assert membership.join(ana, "from-a-step", source="scenario:x", event_id="enr-1/join") is False
    listed = api.get("/lists/from-a-step")
    assert listed.status_code == 200 and listed.data["count"] == 1 and listed.data["name"] == "from-a-step"
    wait_event(api, ana, "list.joined", list="from-a-step", source="scenario:x")
