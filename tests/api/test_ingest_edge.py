"""The public edge (issue 10): the ingest key writes and never reads, consent it grants waits for a
double opt-in, posted ids never meet the ids the system derives, and no stored event loses its
automation."""
from __future__ import annotations

import threading
from urllib.parse import urlsplit

import pytest

from tests.helpers import (
    DAY,
    HREF,
    contact,
    contact_id,
    email_to,
    events_of,
    eventually,
    journey,
    links,
    message,
    one_email,
    publish,
    scenario,
    wait_event,
)

SIGNUP = {"type": "signup", "contact": {"email": "ana@example.com"}}


def _known_contact(api) -> dict:
    """Ana, created by a server-side key with a full profile and email consent."""
    created = api.post("/contacts", {"email": "ana@example.com", "phone": "+33611223344", "external_id": "crm-1",
                                     "first_name": "Ana", "attributes": {"plan": "pro"},
                                     "consent": {"email": True, "source": "shop"}})
    assert created.status_code == 201, created.data
    return created.data


# -- 1. write-only ------------------------------------------------------------------------


def test_ingest_key_answers_carry_no_contact_data(api):
    known = _known_contact(api)
    ingest = api.key_for("ingest")
    for body in ({"phone": "+33611223344"}, {"email": "ana@example.com"}, {"external_id": "crm-1"},
                 {"email": "new@example.com"}):
        response = api.post("/contacts", body, key=ingest)
        assert response.status_code == 202, response.data
        assert response.data == {"status": "accepted"}  # the same whether the contact existed or not
    posted = api.post("/events", {"type": "page_view", "contact": {"phone": "+33611223344"}}, key=ingest)
    assert posted.status_code == 202 and posted.data == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert known["id"] not in str(posted.data)
    # a server-side key keeps today's answer
    assert api.post("/contacts", {"email": "ana@example.com"}).data["id"] == known["id"]


def test_ingest_key_cannot_name_a_contact_by_id(api):
    known = _known_contact(api)
    response = api.post("/events", {"type": "page_view", "contact": {"contact_id": known["id"]},
                                    "traits": {"email": "eve@example.com"}}, key=api.key_for("ingest"))
    assert response.status_code == 422
    assert response.data["error"]["details"][0]["path"] == "contact.contact_id"
    assert "ingest key cannot name a contact by id" in response.data["error"]["details"][0]["message"]
    assert api.get(f"/contacts/{known['id']}").data["email"] == "ana@example.com"


def test_ingest_key_fills_empty_fields_only_and_never_changes_identifiers(api):
    known = _known_contact(api)
    ingest = api.key_for("ingest")
    takeover = {"type": "page_view", "contact": {"email": "ana@example.com"},
                "traits": {"email": "eve@example.com", "phone": "+33622334455", "external_id": "eve",
                           "first_name": "Eve", "last_name": "Lopez", "attributes": {"plan": "free", "site": "x"}}}
    response = api.post("/events", takeover, key=ingest)
    assert response.status_code == 202, response.data
    assert api.post("/contacts", {"phone": "+33611223344", "email": "eve@example.com", "first_name": "Eve"},
                    key=ingest).status_code == 202
    after = api.get(f"/contacts/{known['id']}").data
    assert (after["email"], after["phone"], after["external_id"]) == ("ana@example.com", "+33611223344", "crm-1")
    assert after["first_name"] == "Ana" and after["last_name"] == "Lopez"
    assert after["attributes"] == {"plan": "pro", "site": "x"}
    # the ingest key found no takeover: the address it tried now names a contact of its own
    assert api.get("/contacts?email=eve@example.com").data["items"][0]["id"] != known["id"]


def test_ingest_overwrite_setting_lets_traits_replace_fields_but_not_identifiers(api, monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("PARCOURS_INGEST_OVERWRITES", "1")
    config.reload()
    known = _known_contact(api)
    assert api.post("/events", {"type": "page_view", "contact": {"email": "ana@example.com"},
                                "traits": {"first_name": "Anna", "phone": "+33622334455",
                                           "attributes": {"plan": "free"}}},
                    key=api.key_for("ingest")).status_code == 202
    after = api.get(f"/contacts/{known['id']}").data
    assert after["first_name"] == "Anna" and after["attributes"]["plan"] == "free"
    assert after["phone"] == "+33611223344"


def test_ingest_key_cannot_withdraw_consent(api):
    known = _known_contact(api)
    ingest = api.key_for("ingest")
    for response in (api.post("/contacts", {"email": "ana@example.com", "consent": {"email": False}}, key=ingest),
                     api.post("/events", {**SIGNUP, "consent": {"email": False}}, key=ingest),
                     api.post("/contacts", {"email": "nobody@example.com", "consent": {"sms": False}}, key=ingest)):
        assert response.status_code == 422, response.data
        assert "cannot withdraw consent" in response.data["error"]["details"][0]["message"]
    assert api.get(f"/contacts/{known['id']}").data["consent"]["email"]["granted"] is True


# -- 1. double opt-in ---------------------------------------------------------------------


def _confirm_link(api, address: str) -> str:
    [mail] = email_to(api, address)
    assert "confirm" in mail["subject"].lower()
    [link] = [url for url in HREF.findall(mail["html"]) if urlsplit(url).path.startswith("/c/")]
    assert not any(urlsplit(url).path.startswith(("/t/", "/u/")) for url in HREF.findall(mail["html"]))
    return urlsplit(link).path


@pytest.mark.time_scale(DAY)
def test_consent_through_the_ingest_key_counts_once_confirmed_with_its_proof(api):
    publish(api, one_email())
    ingest = api.key_for("ingest")
    assert api.post("/events", {**SIGNUP, "consent": {"email": True, "source": "newsletter form"}},
                    key=ingest).status_code == 202
    pending = contact(api, "ana@example.com")["consent"]["email"]
    assert pending["granted"] is not True and pending["pending"]["source"] == "newsletter form"
    # the scenario's marketing email waits for nothing: without confirmed consent it is skipped
    assert message(api, "ana@example.com")["reason"] == "no_consent"
    link = _confirm_link(api, "ana@example.com")
    page = api.get(link, key="")
    assert page.status_code == 200 and b"<form" in page.body
    assert contact(api, "ana@example.com")["consent"]["email"]["granted"] is not True  # a GET confirms nothing
    confirmed = api.request("POST", link, key="", headers={"User-Agent": "Firefox/140",
                                                           "Content-Type": "application/x-www-form-urlencoded"})
    assert confirmed.status_code == 200
    consent = contact(api, "ana@example.com")["consent"]["email"]
    assert consent["granted"] is True and consent["source"] == "newsletter form" and "pending" not in consent
    proof = consent["proof"]
    assert proof["user_agent"] == "Firefox/140" and proof["confirmed_at"] == consent["at"]
    assert proof["requested_at"] == pending["pending"]["requested_at"] and len(proof["token"]) == 32
    again = api.request("POST", link, key="", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert again.status_code == 200 and contact(api, "ana@example.com")["consent"]["email"] == consent
    cid = contact_id(api, "ana@example.com")
    assert len(events_of(api, cid, "contact.consent_confirmed")) == 1
    assert api.get(f"/contacts/{cid}/export").data["consent"]["email"]["proof"] == proof
    body, signature = link.rsplit("/", 1)[1].split(".")
    assert api.get(f"/c/{body}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}", key="").status_code == 404


@pytest.mark.time_scale(DAY)
def test_confirmation_uses_the_configured_template_and_server_keys_grant_at_once(api, monkeypatch):
    from chalicelib import config

    assert api.post("/templates", {"id": "optin", "channel": "email", "subject": "Dites oui",
                                   "html": '<p><a href="{{ event.confirm_url }}">Oui</a></p>'}).status_code == 201
    monkeypatch.setenv("PARCOURS_CONFIRM_TEMPLATE", "optin")
    config.reload()
    api.post("/contacts", {"email": "bob@example.com", "consent": {"email": True}}, key=api.key_for("ingest"))
    [mail] = email_to(api, "bob@example.com")
    assert mail["subject"] == "Dites oui" and "/c/" in mail["html"]
    granted = api.post("/contacts", {"email": "cat@example.com", "consent": {"email": True}})
    assert granted.data["consent"]["email"]["granted"] is True
    api.post("/events", {"type": "signup", "contact": {"email": "dan@example.com"}, "consent": {"email": True}},
             key=api.key_for("marketer"))
    assert contact(api, "dan@example.com")["consent"]["email"]["granted"] is True
    bob = contact_id(api, "bob@example.com")
    eventually(lambda: events_of(api, bob, "contact.consent_requested"))
    for address in ("cat@example.com", "dan@example.com"):
        assert not events_of(api, contact_id(api, address), "contact.consent_requested")


def test_an_unsubscribe_after_the_request_voids_the_confirmation_link(api):
    ingest = api.key_for("ingest")
    api.post("/contacts", {"email": "ana@example.com", "consent": {"email": True}}, key=ingest)
    link = _confirm_link(api, "ana@example.com")
    cid = contact_id(api, "ana@example.com")
    api.patch(f"/contacts/{cid}", {"consent": {"email": False, "source": "support call"}})
    late = api.request("POST", link, key="", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert late.status_code == 410
    assert api.get(f"/contacts/{cid}").data["consent"]["email"]["granted"] is False


@pytest.mark.time_scale(DAY)
def test_after_a_real_unsubscribe_the_ingest_key_cannot_grant_consent_again(api):
    publish(api, one_email())
    api.post("/events", {**SIGNUP, "consent": {"email": True, "source": "shop"}}, key=api.key_for("marketer"))
    [mail] = email_to(api, "ana@example.com")
    [unsubscribe] = links(mail["html"])["unsubscribe"]
    assert api.post(unsubscribe, key="").status_code == 200
    assert contact(api, "ana@example.com")["consent"]["email"]["granted"] is False
    regrant = api.post("/contacts", {"email": "ana@example.com", "consent": {"email": True}}, key=api.key_for("ingest"))
    assert regrant.status_code == 202
    consent = contact(api, "ana@example.com")["consent"]["email"]
    assert consent["granted"] is False and consent["source"] == "unsubscribe link" and "pending" in consent
    confirmation = email_to(api, "ana@example.com", count=2)[0]  # newest first: only the owner can confirm
    assert "/c/" in confirmation["html"]


# -- 2. separate namespaces ---------------------------------------------------------------


@pytest.mark.time_scale(DAY)
def test_posted_ids_cannot_claim_the_ids_the_system_derives(api):
    from chalicelib.scenarios import semantics

    assert api.post("/lists", {"id": "club", "name": "Club"}).status_code == 201
    publish(api, scenario("club", "join_club", [{"id": "join", "type": "add_to_list", "list": "club"},
                                                {"id": "mail", "type": "email", "subject": "Bienvenue",
                                                 "html": "<p>Hello</p>"}]))
    cid = api.post("/contacts", {"email": "ana@example.com", "consent": {"email": True}}).data["id"]
    enrollment = semantics.execution_name(cid, "club", "club#once")
    ingest = api.key_for("ingest")
    for claimed in (f"{enrollment}/join", f"{enrollment}/entered", f"{enrollment}.mail/sent",
                    f"{enrollment}/mail", f"{enrollment}/join/score"):
        response = api.post("/events", {"id": claimed, "type": "page_view", "contact": {"email": "ana@example.com"}},
                            key=ingest)
        assert response.data["accepted"] == 1, response.data
    assert api.post("/events", {"type": "join_club", "contact": {"email": "ana@example.com"}},
                    key=ingest).status_code == 202
    assert journey(api, "ana@example.com", "club", status="completed")["path"] == ["join", "mail"]
    assert "club" in api.get(f"/contacts/{cid}").data["lists"]
    wait_event(api, cid, "list.joined", list="club")
    wait_event(api, cid, "journey.entered")
    wait_event(api, cid, "email.sent", step="mail")
    assert message(api, "ana@example.com")["status"] == "sent"
    ids = {event["id"] for event in events_of(api, cid)}
    assert f"c:{enrollment}/entered" in ids and f"s:{enrollment}/entered" in ids


# -- 3. ingestion integrity ---------------------------------------------------------------


def _batch(*emails: str) -> dict:
    return {"events": [{"id": f"signup-{email}", "type": "signup", "contact": {"email": email},
                        "consent": {"email": True}} for email in emails]}


@pytest.mark.time_scale(DAY)
def test_an_event_failing_in_a_batch_does_not_cost_its_neighbours_their_automation(api, monkeypatch):
    from chalicelib.contacts import service as contacts

    publish(api, one_email())
    real_upsert = contacts.upsert

    def failing_for_bob(identity, change, **kwargs):
        if identity.email == "bob@example.com":
            raise RuntimeError("DynamoDB had a bad moment")
        return real_upsert(identity, change, **kwargs)

    monkeypatch.setattr(contacts, "upsert", failing_for_bob)
    batch = _batch("ana@example.com", "bob@example.com", "cat@example.com")
    first = api.post("/events", batch, key=api.key_for("marketer"))
    assert first.status_code == 202
    assert first.data["accepted"] == 2 and [item["index"] for item in first.data["rejected"]] == [1]
    assert "post it again" in first.data["rejected"][0]["errors"][0]["message"]
    for address in ("ana@example.com", "cat@example.com"):
        assert message(api, address)["status"] == "sent"
    assert api.get("/contacts?email=bob@example.com").data["items"] == []  # nothing of it was written
    monkeypatch.setattr(contacts, "upsert", real_upsert)
    retry = api.post("/events", batch, key=api.key_for("marketer"))
    assert retry.data == {"accepted": 1, "duplicates": 2, "rejected": []}
    assert message(api, "bob@example.com")["status"] == "sent"
    for address in ("ana@example.com", "cat@example.com"):
        assert len(api.get(f"/contacts/{contact_id(api, address)}/journeys").data["items"]) == 1


@pytest.mark.time_scale(DAY)
def test_events_stored_while_the_queue_fails_are_queued_by_the_retry(api, monkeypatch):
    from chalicelib.store import queue

    publish(api, one_email())
    real_enqueue = queue.enqueue

    def unavailable(events):
        raise ConnectionError("SQS is unreachable")

    monkeypatch.setattr(queue, "enqueue", unavailable)
    batch = _batch("ana@example.com", "bob@example.com")
    first = api.post("/events", batch, key=api.key_for("marketer"))
    assert first.status_code == 503 and first.data["error"]["code"] == "unavailable"
    monkeypatch.setattr(queue, "enqueue", real_enqueue)
    retry = api.post("/events", batch, key=api.key_for("marketer"))
    assert retry.data == {"accepted": 0, "duplicates": 2, "rejected": []}
    for address in ("ana@example.com", "bob@example.com"):
        assert message(api, address)["status"] == "sent"
        assert journey(api, address, "news", status="completed")
    # once queued, a duplicate queues nothing again
    again = api.post("/events", batch, key=api.key_for("marketer"))
    assert again.data["duplicates"] == 2
    assert len(email_to(api, "ana@example.com")) == 1


def test_a_duplicate_event_id_changes_nothing(api):
    ingest = api.key_for("ingest")
    first = {"id": "evt-1", "type": "signup", "contact": {"email": "ana@example.com"}, "traits": {"first_name": "Ana"}}
    assert api.post("/events", first, key=ingest).data["accepted"] == 1
    before = contact(api, "ana@example.com")
    replay = {**first, "contact": {"email": "eve@example.com"}, "traits": {"first_name": "Eve", "last_name": "X"}}
    assert api.post("/events", replay, key=ingest).data == {"accepted": 0, "duplicates": 1, "rejected": []}
    admin_replay = {**first, "traits": {"first_name": "Changed"}}
    assert api.post("/events", admin_replay).data["duplicates"] == 1
    assert api.get("/contacts?email=eve@example.com").data["items"] == []
    assert contact(api, "ana@example.com") == before


def test_concurrent_posts_of_one_event_id_create_one_contact(api):
    from chalicelib.events import service as ingestion

    start = threading.Barrier(50)
    reports = []

    def post(number: int) -> None:
        event = {"id": "race-1", "type": "signup", "contact": {"email": f"racer{number}@example.com"}}
        start.wait()
        reports.append(ingestion.ingest([event], public=True).as_dict())

    threads = [threading.Thread(target=post, args=(number,)) for number in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(report["accepted"] for report in reports) == 1
    assert sum(report["duplicates"] for report in reports) == 49
    created = [number for number in range(50) if api.get(f"/contacts?email=racer{number}@example.com").data["items"]]
    assert len(created) == 1
    [winner] = created
    assert [event["id"] for event in events_of(api, contact_id(api, f"racer{winner}@example.com"), "signup")] == \
        ["c:race-1"]
