"""The foundation through the HTTP API: events, contacts, keys, roles and bad input."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone


def signup_event(email: str = "ana@example.com", **extra):
    return {"type": "signup", "contact": {"email": email}, **extra}


def test_health_needs_no_key(api):
    response = api.get("/health", key="")
    assert response.status_code == 200
    assert response.data == {"status": "ok"}


def test_event_creates_contact_with_traits_and_consent(api):
    response = api.post("/events", signup_event(
        id="evt-1", traits={"first_name": "Ana", "attributes": {"plan": "pro"}},
        consent={"email": True, "source": "signup form"}))
    assert response.status_code == 202
    assert response.data == {"accepted": 1, "duplicates": 0, "rejected": []}
    found = api.get("/contacts?email=ana@example.com").data["items"]
    assert len(found) == 1
    contact = found[0]
    assert contact["first_name"] == "Ana"
    assert contact["attributes"] == {"plan": "pro"}
    assert contact["consent"]["email"]["granted"] is True
    assert contact["consent"]["email"]["source"] == "signup form"
    assert contact["consent"]["email"]["at"]
    assert contact["email_status"] == "valid"
    history = api.get(f"/contacts/{contact['id']}/events").data["items"]
    assert [event["type"] for event in history] == ["signup", "contact.created"] or \
        sorted(event["type"] for event in history) == ["contact.created", "signup"]


def test_same_event_twice_is_stored_once(api):
    event = signup_event(id="evt-dup", properties={"source": "landing"})
    assert api.post("/events", event).data["accepted"] == 1
    second = api.post("/events", event)
    assert second.status_code == 202
    assert second.data == {"accepted": 0, "duplicates": 1, "rejected": []}
    contact = api.get("/contacts?email=ana@example.com").data["items"][0]
    types = [event["type"] for event in api.get(f"/contacts/{contact['id']}/events").data["items"]]
    assert types.count("signup") == 1


def test_two_events_with_one_email_give_one_contact(api):
    api.post("/events", {"events": [signup_event("Ana@Example.com"), signup_event("ana@example.com"),
                                    {"type": "page_view", "contact": {"email": "ana@example.com"}}]})
    items = api.get("/contacts?limit=500").data["items"]
    assert [item["email"] for item in items] == ["ana@example.com"]


def test_traits_on_later_event_update_contact_and_record_contact_updated(api):
    api.post("/events", signup_event(id="a"))
    api.post("/events", {"id": "b", "type": "form_submitted", "contact": {"email": "ana@example.com"},
                         "traits": {"last_name": "Lopez"}})
    contact = api.get("/contacts?email=ana@example.com").data["items"][0]
    assert contact["last_name"] == "Lopez"
    events = api.get(f"/contacts/{contact['id']}/events").data["items"]
    updated = [event for event in events if event["type"] == "contact.updated"]
    assert updated and updated[0]["properties"]["changed"] == ["last_name"]


def test_contacts_post_upserts_on_unique_key(api):
    first = api.post("/contacts", {"email": "bob@example.com", "first_name": "Bob"})
    assert first.status_code == 201
    second = api.post("/contacts", {"email": "BOB@example.com", "phone": "+33612345678"})
    assert second.status_code == 200
    assert second.data["id"] == first.data["id"]
    assert second.data["phone"] == "+33612345678"
    assert second.data["first_name"] == "Bob"


def test_patch_contact_and_conflict_on_taken_email(api):
    bob = api.post("/contacts", {"email": "bob@example.com"}).data
    api.post("/contacts", {"email": "carol@example.com"})
    patched = api.patch(f"/contacts/{bob['id']}", {"first_name": "Robert", "attributes": {"vip": True}})
    assert patched.status_code == 200
    assert patched.data["first_name"] == "Robert"
    assert patched.data["attributes"] == {"vip": True}
    conflict = api.patch(f"/contacts/{bob['id']}", {"email": "carol@example.com"})
    assert conflict.status_code == 409
    assert conflict.data["error"]["code"] == "conflict"
    moved = api.patch(f"/contacts/{bob['id']}", {"email": "robert@example.com"})
    assert moved.status_code == 200
    assert api.get("/contacts?email=robert@example.com").data["items"][0]["id"] == bob["id"]
    assert api.get("/contacts?email=bob@example.com").data["items"] == []
    # the old address is free again
    assert api.post("/contacts", {"email": "bob@example.com"}).status_code == 201


def test_contact_listing_is_paginated(api):
    for index in range(7):
        api.post("/contacts", {"email": f"user{index}@example.com"})
    seen, cursor = [], None
    while True:
        response = api.get("/contacts?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200
        assert len(response.data["items"]) <= 3
        seen += [item["email"] for item in response.data["items"]]
        cursor = response.data["next"]
        if not cursor:
            break
    assert sorted(seen) == sorted(f"user{index}@example.com" for index in range(7))


def test_unknown_contact_is_404(api):
    response = api.get("/contacts/nope")
    assert response.status_code == 404
    assert response.data["error"]["code"] == "not_found"


# -- keys and roles -------------------------------------------------------------------------

def test_keys_are_created_listed_and_revoked_by_admin(api):
    created = api.post("/keys", {"role": "analyst", "name": "BI"})
    assert created.status_code == 201
    assert created.data["key"].startswith("prc_")
    listed = api.get("/keys").data["items"]
    assert any(item["id"] == created.data["id"] and "key" not in item for item in listed)
    assert api.get("/contacts", key=created.data["key"]).status_code == 200
    assert api.delete(f"/keys/{created.data['id']}").status_code == 204
    from chalicelib import keys
    keys._cache.clear()
    assert api.get("/contacts", key=created.data["key"]).status_code == 401


def test_missing_and_wrong_key_are_401(api):
    assert api.get("/contacts", key="").status_code == 401
    response = api.get("/contacts", key="prc_not-a-key")
    assert response.status_code == 401
    assert response.data["error"]["code"] == "unauthorized"


def test_roles_are_enforced(api):
    ingest, analyst, marketer = api.key_for("ingest"), api.key_for("analyst"), api.key_for("marketer")
    assert api.post("/events", signup_event(), key=ingest).status_code == 202
    assert api.post("/contacts", {"email": "x@example.com"}, key=ingest).status_code == 202
    for path in ("/contacts", "/keys"):
        assert api.get(path, key=ingest).status_code == 403
    contact_id = api.get("/contacts?email=x@example.com").data["items"][0]["id"]
    assert api.get(f"/contacts/{contact_id}", key=analyst).status_code == 200
    assert api.patch(f"/contacts/{contact_id}", {"first_name": "X"}, key=analyst).status_code == 403
    assert api.post("/events", signup_event(), key=analyst).status_code == 403
    assert api.patch(f"/contacts/{contact_id}", {"first_name": "X"}, key=marketer).status_code == 200
    forbidden = api.post("/keys", {"role": "admin", "name": "escalate"}, key=marketer)
    assert forbidden.status_code == 403
    assert forbidden.data["error"]["code"] == "forbidden"


def test_ingest_key_cannot_post_system_events(api):
    ingest = api.key_for("ingest")
    response = api.post("/events", {"type": "email.clicked", "contact": {"email": "a@example.com"}}, key=ingest)
    assert response.status_code == 422
    assert response.data["error"]["details"][0]["path"] == "type"


def test_cors_on_public_routes(runtime):
    from chalice.config import Config
    from chalice.local import LocalGateway

    gateway = LocalGateway(runtime.app, Config())
    for path in ("/events", "/contacts"):
        response = gateway.handle_request("OPTIONS", path, {"origin": "https://shop.example.com"}, b"")
        assert response["headers"]["Access-Control-Allow-Origin"] == "*"
        assert "Authorization" in response["headers"]["Access-Control-Allow-Headers"]


# -- bad input ------------------------------------------------------------------------------

def test_malformed_json_is_400(api):
    response = api.post("/events", raw="{not json")
    assert response.status_code == 400
    assert response.data["error"]["code"] == "bad_json"


def test_invalid_event_is_422_with_paths(api):
    response = api.post("/events", {"type": 42, "contact": {"email": "not-an-email", "phone": "0612"},
                                    "properties": [], "colour": "red"})
    assert response.status_code == 422
    paths = {detail["path"] for detail in response.data["error"]["details"]}
    assert {"type", "contact.email", "contact.phone", "properties", "colour"} <= paths


def test_future_timestamp_is_refused(api):
    future = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    response = api.post("/events", signup_event(timestamp=future))
    assert response.status_code == 422
    assert response.data["error"]["details"][0]["path"] == "timestamp"
    past = (datetime.now(timezone.utc) - timedelta(days=3)).isoformat()
    assert api.post("/events", signup_event(timestamp=past)).status_code == 202


def test_batch_accepts_good_events_and_reports_bad_by_index(api):
    response = api.post("/events", {"events": [signup_event("a@example.com"), {"type": "signup"},
                                               signup_event("b@example.com"), signup_event("bad@")]})
    assert response.status_code == 202
    assert response.data["accepted"] == 2
    rejected = {item["index"]: item["errors"] for item in response.data["rejected"]}
    assert set(rejected) == {1, 3}
    assert rejected[1][0]["path"] == "events[1].contact"
    assert rejected[3][0]["path"] == "events[3].contact.email"
    emails = sorted(item["email"] for item in api.get("/contacts").data["items"])
    assert emails == ["a@example.com", "b@example.com"]


def test_oversize_batch_is_413(api):
    response = api.post("/events", {"events": [signup_event(f"u{i}@example.com") for i in range(501)]})
    assert response.status_code == 413
    assert response.data["error"]["code"] == "too_large"


def test_oversize_body_is_413(api):
    response = api.post("/events", raw=json.dumps(signup_event(properties={"blob": "x" * 2_000_000})))
    assert response.status_code == 413


def test_bad_contact_body_is_422(api):
    response = api.post("/contacts", {"email": "nope", "birthday": "31/02/1990", "attributes": {"bad name": 1}})
    assert response.status_code == 422
    paths = {detail["path"] for detail in response.data["error"]["details"]}
    assert "email" in paths and "birthday" in paths
    assert api.post("/contacts", {"first_name": "Nobody"}).status_code == 422
    assert api.post("/contacts", [1, 2]).status_code == 422


def test_unknown_contact_id_in_event_is_reported(api):
    response = api.post("/events", {"type": "signup", "contact": {"contact_id": "missing"}})
    assert response.status_code == 422
    assert response.data["error"]["details"][0]["path"] == "contact.contact_id"


def test_events_posted_as_text_plain_by_a_beacon_are_accepted(api):
    response = api.post("/events", raw=json.dumps(signup_event()), headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert response.status_code == 202
    assert response.data["accepted"] == 1
