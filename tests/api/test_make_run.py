"""`make run` as a user meets it: the API over real HTTP on PORT, and email links that point there."""
from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import CONSENT, HREF, eventually, make_run, one_email


class Http:
    def __init__(self, port: int, key: str) -> None:
        self.base, self.key = f"http://127.0.0.1:{port}", key

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        request = urllib.request.Request(self.base + path, method=method, headers={
            "Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
            data=None if body is None else json.dumps(body).encode())
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text.startswith(("{", "[")) else text


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[Http]:
    with make_run(monkeypatch) as (port, runtime):
        yield Http(port, runtime.admin_key)


def test_email_links_point_at_the_port_actually_served(served):
    assert served.call("POST", "/scenarios", one_email())[0] == 201
    assert served.call("POST", "/scenarios/news/publish")[0] == 200
    assert served.call("POST", "/events", {"type": "signup", "contact": {"email": "ana@example.com"},
                                           "consent": CONSENT})[0] == 202
    [mail] = eventually(lambda: served.call("GET", "/local/outbox")[1]["items"])
    urls = [url.replace("&amp;", "&") for url in HREF.findall(mail["html"])]
    assert urls and all(url.startswith(served.base + "/") for url in urls), urls
    assert mail["headers"]["List-Unsubscribe"].startswith(f"<{served.base}/u/")
    unsubscribe = next(url for url in urls if url.startswith(served.base + "/u/"))
    with urllib.request.urlopen(unsubscribe, timeout=30) as page:  # the link works as it is
        assert page.status == 200
