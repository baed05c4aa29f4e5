"""The issue's phishing reproduction: a link made of contact data, set through the public ingest key,
must not become a signed redirect of ours. Only the links the template writes are tracked."""
from __future__ import annotations

import pytest

from tests.helpers import DAY, email_to, links, message, publish, scenario

PHISHING = "https://phish.example.net/login?next=bank"
HTML = ('<p>Your site: <a href="{{ contact.attributes.site }}">{{ contact.attributes.site }}</a>. '
        '<a href="https://shop.example.com/offer?c={{ contact.id }}">Our offer</a> '
        '<a href="{{ contact.attributes.script }}">details</a></p>')


@pytest.mark.time_scale(DAY)
def test_a_link_from_data_set_with_the_ingest_key_is_never_a_signed_redirect(api):
    publish(api, scenario("receipt", "signup", [
        {"id": "mail", "type": "email", "transactional": True, "subject": "Thanks", "html": HTML}]))
    ingest = api.key_for("ingest")
    posted = api.post("/events", {"type": "signup", "contact": {"email": "eve@example.com"},
                                  "traits": {"attributes": {"site": PHISHING, "script": "javascript:steal()"}}},
                      key=ingest)
    assert posted.status_code == 202
    assert message(api, "eve@example.com")["status"] == "sent"
    [mail] = email_to(api, "eve@example.com")
    found = links(mail["html"])
    assert found["other"] == [PHISHING.replace("&", "&amp;")]  # as the data gave it, not through /t/c/
    assert "javascript:" not in mail["html"] and "data-parcours-link" not in mail["html"]
    [offer] = found["click"]
    redirect = api.get(offer, key="")
    assert redirect.status_code == 302
    assert redirect.headers["Location"].startswith("https://shop.example.com/offer?c=")
    assert all(api.get(path, key="").headers.get("Location") != PHISHING for path in found["click"])


def test_preview_shows_links_as_sent_without_script_hrefs(api):
    api.post("/templates", {"id": "site", "channel": "email", "subject": "Hi", "html": HTML})
    shown = api.post("/templates/site/preview", {"contact": {"attributes": {"site": PHISHING,
                                                                            "script": "data:text/html,x"}}})
    assert shown.status_code == 200
    assert f'<a href="{PHISHING.replace("&", "&amp;")}">' in shown.data["html"]
    assert '<a href="https://shop.example.com/offer?c=">Our offer</a>' in shown.data["html"]
    assert "<a>details</a>" in shown.data["html"] and "data-parcours-link" not in shown.data["html"]
