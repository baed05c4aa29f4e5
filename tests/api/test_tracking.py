"""Public tracking links: click redirect, open pixel, unsubscribe page and one-click POST."""
from __future__ import annotations

import pytest

from chalicelib.channels import tracking
from tests.helpers import (
    DAY,
    contact,
    contact_id,
    email_to,
    events_of,
    eventually,
    fetch_pixel,
    journey,
    links,
    message,
    one_email,
    publish,
    scenario,
    signup,
)

OFFER = "https://shop.example.com/offer?a=1&b=2"
HTML = ('<p>Hi! <a href="https://shop.example.com/offer?a=1&amp;b=2">See the offer</a> or '
        '<a href="https://blog.example.com/post">read the blog</a> or <a href="mailto:help@example.com">write</a></p>')


def _sent(api, email: str = "ana@example.com") -> dict:
    publish(api, one_email(subject="News", html=HTML))
    signup(api, email, first_name="Ana")
    message(api, email)
    [item] = email_to(api, email)
    return links(item["html"])


def _tamper(token: str) -> str:
    body, signature = token.split(".")
    return f"{body}.{('A' if signature[0] != 'A' else 'B')}{signature[1:]}"


@pytest.mark.time_scale(DAY)
def test_click_records_once_per_url_and_redirects_to_the_url_in_the_message(api):
    found = _sent(api)
    assert len(found["click"]) == 2 and "mailto:help@example.com" in found["other"]
    first = api.get(found["click"][0], key="")  # public: no key
    assert first.status_code == 302 and first.headers["Location"] == OFFER
    assert "no-store" in first.headers["Cache-Control"]
    assert api.get(found["click"][0], key="").headers["Location"] == OFFER  # a second click: same redirect
    assert api.get(found["click"][1], key="").headers["Location"] == "https://blog.example.com/post"
    clicks = eventually(lambda: (lambda items: items if len(items) == 2 else None)(
        events_of(api, contact_id(api, "ana@example.com"), "email.clicked")))
    sent = message(api, "ana@example.com")
    assert sorted(event["properties"]["url"] for event in clicks) == ["https://blog.example.com/post", OFFER]
    assert all(event["properties"] == {"scenario": "news", "step": "mail", "message_id": sent["id"],
                                       "url": event["properties"]["url"]} for event in clicks)
    assert sent["status"] == "clicked"
    assert [entry["type"] for entry in sent["events"]] == ["sent", "clicked", "clicked"]
    assert {entry.get("url") for entry in sent["events"][1:]} == {OFFER, "https://blog.example.com/post"}


@pytest.mark.time_scale(DAY)
def test_open_pixel_is_a_gif_and_counts_once_per_message(api):
    found = _sent(api)
    [pixel] = found["open"]
    for _ in range(3):
        response = fetch_pixel(api, pixel)
        assert response.status_code == 200 and response.headers["Content-Type"] == "image/gif"
        assert response.body[:6] == b"GIF89a" and len(response.body) == 42
    assert fetch_pixel(api, pixel, None).status_code == 204  # a client that accepts no image: no body, still fine
    opened = events_of(api, contact_id(api, "ana@example.com"), "email.opened")
    assert len(opened) == 1 and opened[0]["properties"]["step"] == "mail"
    sent = message(api, "ana@example.com")
    assert sent["status"] == "opened" and [entry["type"] for entry in sent["events"]] == ["sent", "opened"]
    api.get(found["click"][0], key="")
    assert message(api, "ana@example.com", status="clicked")["status"] == "clicked"
    fetch_pixel(api, pixel)  # an open after the click does not lower the status
    assert message(api, "ana@example.com")["status"] == "clicked"


@pytest.mark.time_scale(DAY)
def test_tampered_foreign_and_wrong_kind_tokens_are_404(api):
    found = _sent(api)
    click, pixel, unsubscribe = found["click"][0], found["open"][0], found["unsubscribe"][0]
    click_token = click.rsplit("/", 1)[1]
    foreign = tracking.make_click_token("another-secret", "m-1", "https://evil.example/", "c-1")
    attempts = [
        f"/t/c/{_tamper(click_token)}",  # signature changed
        f"/t/c/{foreign}",  # signed with another key
        "/t/c/" + pixel.rsplit("/", 1)[1],  # an open token is no click token
        "/t/c/" + unsubscribe.rsplit("/", 1)[1],
        "/t/o/" + click_token,
        "/u/" + click_token,
        "/t/c/not-a-token",
        "/t/c/" + click_token.split(".")[0],  # signature cut off
        "/t/o/" + _tamper(pixel.rsplit("/", 1)[1]),
        "/u/" + _tamper(unsubscribe.rsplit("/", 1)[1]),
    ]
    for path in attempts:
        response = api.get(path, key="")
        assert response.status_code == 404, path
        assert response.data["error"]["code"] == "not_found"
    assert api.post("/u/" + _tamper(unsubscribe.rsplit("/", 1)[1]), key="").status_code == 404
    assert events_of(api, contact_id(api, "ana@example.com"), "email.clicked") == []
    assert events_of(api, contact_id(api, "ana@example.com"), "email.opened") == []
    assert contact(api, "ana@example.com")["consent"]["email"]["granted"] is True


@pytest.mark.time_scale(DAY)
def test_no_open_redirect(api):
    found = _sent(api)
    click_token = found["click"][0].rsplit("/", 1)[1]
    body, signature = click_token.split(".")
    import base64
    import json

    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["u"] = "https://evil.example/phish"
    forged = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=").decode()
    assert api.get(f"/t/c/{forged}.{signature}", key="").status_code == 404  # another URL, same signature
    # query parameters and extra path segments do not choose the target
    response = api.get(f"/t/c/{click_token}?url=https://evil.example/&next=//evil.example", key="")
    assert response.status_code == 302 and response.headers["Location"] == OFFER
    assert api.get(f"/t/c/{click_token}/https://evil.example", key="").status_code in (403, 404)
    assert api.get(f"/t/c/{click_token}%2F..%2F..%2Fevil", key="").status_code == 404
    # a URL that could be read as another host is never signed, nor followed if signed by us
    for url in ("javascript:alert(1)", "//evil.example", "https:\\\\evil.example", "https://user@evil.example/",
                "data:text/html,hi"):
        with pytest.raises(ValueError):
            tracking.make_click_token("test-secret", "m", url, "c")
        payload["u"] = url
        signed = tracking.sign(payload, "test-secret")
        assert api.get(f"/t/c/{signed}", key="").status_code == 404, url


@pytest.mark.time_scale(DAY)
def test_unsubscribe_page_then_one_click_post_idempotent(api):
    publish(api, one_email(subject="News", html=HTML))
    publish(api, scenario("second", "visit", [{"id": "again", "type": "email", "subject": "Again",
                                                "html": "<p>Again</p>"}]))
    found = _sent_after_publish(api)
    [unsubscribe] = found["unsubscribe"]
    page = api.get(unsubscribe, key="")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert '<form method="post">' in page.data and "Unsubscribe" in page.data
    assert contact(api, "ana@example.com")["consent"]["email"]["granted"] is True  # GET changes nothing
    one_click = api.post(unsubscribe, key="", raw="List-Unsubscribe=One-Click",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert one_click.status_code == 200 and "Unsubscribed" in one_click.data
    again = api.post(unsubscribe, key="", raw="", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert again.status_code == 200
    assert api.get(unsubscribe, key="").status_code == 200
    consent = contact(api, "ana@example.com")["consent"]["email"]
    assert consent["granted"] is False and consent["source"] == "unsubscribe link"
    [event] = eventually(lambda: events_of(api, contact_id(api, "ana@example.com"), "email.unsubscribed"))
    sent = message(api, "ana@example.com")
    assert event["properties"] == {"scenario": "news", "step": "mail", "message_id": sent["id"],
                                   "source": "unsubscribe link"}
    assert sent["status"] == "unsubscribed" and [e["type"] for e in sent["events"]] == ["sent", "unsubscribed"]
    # from then on, marketing sends are skipped
    api.post("/events", {"type": "visit", "contact": {"email": "ana@example.com"}})
    skipped = message(api, "ana@example.com", "again")
    assert skipped["status"] == "skipped" and skipped["reason"] == "unsubscribed"
    assert journey(api, "ana@example.com", "second", status="completed")["path"] == ["again"]


def _sent_after_publish(api) -> dict:
    signup(api, "ana@example.com", first_name="Ana")
    message(api, "ana@example.com")
    [item] = email_to(api, "ana@example.com")
    return links(item["html"])


@pytest.mark.time_scale(DAY)
def test_links_of_an_erased_contact_record_nothing(api):
    found = _sent(api)
    from chalicelib.store.models import Contact

    Contact.get(contact_id(api, "ana@example.com")).delete(add_version_condition=False)
    response = api.get(found["click"][0], key="")
    assert response.status_code == 302 and response.headers["Location"] == OFFER
    assert fetch_pixel(api, found["open"][0]).status_code == 200
    assert api.post(found["unsubscribe"][0], key="").status_code == 200
    from chalicelib.events import service as events

    assert [item["type"] for item in events.history(contact_id_of(found))[0]
            if item["type"].startswith("email.") and item["type"] != "email.sent"] == []


def contact_id_of(found: dict) -> str:
    token = found["unsubscribe"][0].rsplit("/", 1)[1]
    return tracking.read_token(token, "test-secret", tracking.KIND_UNSUBSCRIBE)["contact_id"]
