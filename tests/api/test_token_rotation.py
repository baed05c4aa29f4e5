"""Rotating the tracking secret: PARCOURS_TOKEN_SECRET signs, PARCOURS_TOKEN_SECRETS_PREVIOUS still
verify, so links in emails already sent keep working; a token of any other secret is refused."""
from __future__ import annotations

import pytest

from chalicelib import config
from chalicelib.channels import tracking
from tests.helpers import DAY, contact, email_to, links, message, one_email, publish, signup

OFFER = "https://shop.example.com/offer?a=1&b=2"


def _rotate(monkeypatch, current: str, previous: str) -> None:
    monkeypatch.setenv("PARCOURS_TOKEN_SECRET", current)
    monkeypatch.setenv("PARCOURS_TOKEN_SECRETS_PREVIOUS", previous)
    config.reload()


def _mailed(api, email: str) -> dict:
    signup(api, email)
    message(api, email)
    [item] = email_to(api, email)
    return links(item["html"])


def _token(path: str) -> str:
    return path.rsplit("/", 1)[1]


@pytest.fixture
def restored(monkeypatch):
    yield monkeypatch
    monkeypatch.undo()
    config.reload()


@pytest.mark.time_scale(DAY)
def test_links_signed_before_a_rotation_keep_working_until_the_old_secret_is_dropped(api, restored):
    publish(api, one_email())
    before = _mailed(api, "ana@example.com")  # signed with the conftest's "test-secret"
    _rotate(restored, "rotated-secret", "older-secret, test-secret")
    clicked = api.get(before["click"][0], key="")
    assert clicked.status_code == 302 and clicked.headers["Location"] == OFFER
    assert api.get(before["unsubscribe"][0], key="").status_code == 200

    after = _mailed(api, "bob@example.com")  # new links: the new secret signs
    token = _token(after["click"][0])
    assert tracking.verify(token, "rotated-secret") is not None and tracking.verify(token, "test-secret") is None

    _rotate(restored, "rotated-secret", "")
    assert api.get(before["click"][0], key="").status_code == 404
    assert api.post(before["unsubscribe"][0], key="").status_code == 404
    assert contact(api, "ana@example.com")["consent"]["email"]["granted"] is True
    assert api.get(after["click"][0], key="").status_code == 302


@pytest.mark.time_scale(DAY)
def test_a_token_of_an_unknown_secret_is_refused(api, restored):
    publish(api, one_email())
    mailed = _mailed(api, "ana@example.com")
    _rotate(restored, "rotated-secret", "test-secret")
    ana = contact(api, "ana@example.com")["id"]
    sent = message(api, "ana@example.com")["id"]
    for secret in ("unknown-secret", "rotated-secret-", "test-secret2"):
        click = tracking.make_click_token(secret, sent, "https://phish.example.net/", ana, "news", "mail")
        assert api.get(f"/t/c/{click}", key="").status_code == 404
        assert api.post(f"/u/{tracking.make_unsubscribe_token(secret, ana, sent)}", key="").status_code == 404
    assert api.get(mailed["click"][0], key="").status_code == 302
    assert contact(api, "ana@example.com")["consent"]["email"]["granted"] is True


def test_an_erased_address_stays_known_across_a_rotation(api, restored):
    api.post("/contacts", {"email": "ana@example.com", "consent": {"email": True, "source": "form"}})
    assert api.delete(f"/contacts/{contact(api, 'ana@example.com')['id']}").status_code == 200
    _rotate(restored, "rotated-secret", "test-secret")
    report = api.post("/imports?kind=contacts", raw=b"email;consent_email\nana@example.com;yes\n",
                      headers={"Content-Type": "text/csv"}).data
    assert "erased" in report["lines"][0]["note"]
    assert contact(api, "ana@example.com")["consent"]["email"] is None
