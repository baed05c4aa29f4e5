"""GET /local/outbox: what the embedded SES and SNS received, exactly as sent; and the email itself
(RFC 8058 headers, unsubscribe link, no header injection through contact data)."""
from __future__ import annotations

import dataclasses
from email.utils import getaddresses

import pytest

from tests.helpers import DAY, email_to, eventually, message, one_email, outbox, publish, scenario, signup


@pytest.mark.time_scale(DAY)
def test_marketing_email_as_sent_with_rfc8058_headers_and_unsubscribe_link(api):
    publish(api, one_email())
    signup(api, "ana@example.com", first_name="Ana", last_name="Lopez")
    sent = message(api, "ana@example.com")
    assert sent["status"] == "sent" and sent["subject"] == "Hello Ana"
    [item] = email_to(api, "ana@example.com")
    assert item["channel"] == "email" and item["to"] == "ana@example.com"
    assert item["subject"] == "Hello Ana"
    headers = item["headers"]
    assert headers["To"] == "Ana Lopez <ana@example.com>"
    assert headers["Subject"] == "Hello Ana"
    assert headers["From"] == "Parcours <hello@example.com>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = headers["List-Unsubscribe"]
    assert unsubscribe.startswith("<http://127.0.0.1:8000/u/") and unsubscribe.endswith(">")
    assert unsubscribe[1:-1] in item["html"] and unsubscribe[1:-1] in item["text"]
    assert "/t/c/" in item["html"] and "/t/o/" in item["html"]
    assert "https://shop.example.com/offer?a=1&b=2" not in item["html"]  # the link is tracked
    assert "See the offer (https://shop.example.com/offer?a=1&b=2)" in item["text"]  # text from the HTML
    assert item["sent_at"].endswith("Z")


@pytest.mark.time_scale(DAY)
def test_transactional_email_has_no_list_unsubscribe_and_needs_no_consent(api):
    definition = one_email("receipt", "purchase", subject="Your receipt", text="Thanks for order {{ event.order }}",
                           transactional=True)
    publish(api, definition)
    response = api.post("/events", {"type": "purchase", "contact": {"email": "bob@example.com"},
                                    "properties": {"order": "o-42"}})
    assert response.status_code == 202
    assert message(api, "bob@example.com")["status"] == "sent"
    [item] = email_to(api, "bob@example.com")
    assert "List-Unsubscribe" not in item["headers"] and "List-Unsubscribe-Post" not in item["headers"]
    assert item["text"].strip() == "Thanks for order o-42"
    assert "<p>Thanks for order o-42</p>" in item["html"]


@pytest.mark.time_scale(DAY)
def test_contact_data_cannot_inject_headers(api):
    publish(api, one_email(subject="Offer for {{ contact.first_name }} in {{ contact.attributes.city }}",
                           html="<p>{{ contact.attributes.city }}</p>"))
    signup(api, "ana@example.com", first_name='Thief <thief@evil.example>, "Eve"', last_name="\u202eLopez",
           attributes={"city": "Paris\r\nBcc: thief@evil.example\r\nX-Injected: 1"})
    sent = message(api, "ana@example.com")
    assert sent["status"] == "sent", sent
    [item] = email_to(api, "ana@example.com")
    headers = item["headers"]
    assert "Bcc" not in headers and "X-Injected" not in headers
    assert headers["Content-Type"].startswith("multipart/alternative")
    assert item["subject"] == ('Offer for Thief <thief@evil.example>, "Eve" in Paris Bcc: thief@evil.example '
                               'X-Injected: 1')  # one line: CR/LF became spaces

    assert [address for _, address in getaddresses([headers["To"]])] == ["ana@example.com"]
    assert "\u202e" not in headers["To"]
    assert "Bcc: thief@evil.example" in item["html"]  # in the body, where it is only text


@pytest.mark.time_scale(DAY)
def test_sms_in_the_outbox_and_newest_first_with_pagination(api):
    publish(api, one_email())
    publish(api, scenario("sms-hello", "visit", [{"id": "text", "type": "sms",
                                                  "text": "Bonjour {{ contact.first_name }} !"}]))
    signup(api, "ana@example.com")
    email_to(api, "ana@example.com")
    response = api.post("/events", {"type": "visit", "contact": {"email": "ana@example.com"},
                                    "traits": {"phone": "+33612345678", "first_name": "Ana"},
                                    "consent": {"sms": True, "source": "test"}})
    assert response.status_code == 202
    message(api, "ana@example.com", "text")
    newest = eventually(lambda: (lambda items: items if len(items) == 2 else None)(outbox(api)))
    assert newest[0] == {"channel": "sms", "id": newest[0]["id"], "to": "+33612345678", "text": "Bonjour Ana !",
                         "sent_at": newest[0]["sent_at"]}
    assert newest[1]["channel"] == "email"
    first = api.get("/local/outbox?limit=1").data
    assert [item["channel"] for item in first["items"]] == ["sms"] and first["next"]
    second = api.get(f"/local/outbox?limit=1&cursor={first['next']}").data
    assert [item["channel"] for item in second["items"]] == ["email"] and second["next"] is None


def test_outbox_errors_and_roles(api):
    assert api.get("/local/outbox?limit=0").status_code == 422
    bad = api.get("/local/outbox?cursor=bm90LWEtY3Vyc29y")
    assert bad.status_code == 400 and bad.data["error"]["details"][0]["path"] == "cursor"
    assert api.get("/local/outbox", key="").status_code == 401
    assert api.get("/local/outbox", key=api.key_for("marketer")).status_code == 403
    assert api.get("/local/outbox").data == {"items": [], "next": None}


def test_outbox_is_404_when_not_local(api, monkeypatch):
    from chalicelib.api import outbox as outbox_api
    from chalicelib.config import settings

    remote = dataclasses.replace(settings(), local=False)
    monkeypatch.setattr(outbox_api, "settings", lambda: remote)
    response = api.get("/local/outbox")
    assert response.status_code == 404 and response.data["error"]["code"] == "not_found"
