"""Every test that touches AWS runs on the embedded stack (moto in-process), fresh per test."""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-3")
os.environ.setdefault("PARCOURS_TABLE_PREFIX", "parcours-test-")
os.environ.setdefault("PARCOURS_TOKEN_SECRET", "test-secret")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `heavy` start first: pytest-xdist's workers then share the rest around them,
    instead of one worker running the longest test alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)


class Api:
    """The HTTP API through Chalice's own request path, with a key."""

    def __init__(self, client: Any, key: str) -> None:
        self.client = client
        self.key = key

    def _headers(self, key: str | None, extra: dict | None) -> dict:
        headers = {"Content-Type": "application/json"}
        if key is not None or self.key:
            headers["Authorization"] = f"Bearer {key if key is not None else self.key}"
        if key == "":
            headers.pop("Authorization")
        headers.update(extra or {})
        return headers

    def request(self, method: str, path: str, body: Any = None, *, key: str | None = None,
                raw: bytes | str | None = None, headers: dict | None = None) -> Any:
        import json

        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = self.client.http.request(method, path, headers=self._headers(key, headers), body=payload)
        try:
            response.data = json.loads(response.body) if response.body else None
        except ValueError:
            response.data = response.body.decode()
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def key_for(self, role: str) -> str:
        response = self.post("/keys", {"role": role, "name": f"{role} key"})
        assert response.status_code == 201, response.data
        return response.data["key"]


@pytest.fixture
def runtime(request: pytest.FixtureRequest) -> Iterator[Any]:
    from chalicelib import clock
    from chalicelib.local.runtime import boot

    marker = request.node.get_closest_marker("time_scale")
    runtime = boot(time_scale=marker.args[0] if marker else 1, admin_key="admin-test-key",
                   schedules=request.node.get_closest_marker("schedules") is not None)
    yield runtime
    runtime.stop()
    clock.reset()


@pytest.fixture
def api(runtime: Any) -> Iterator[Api]:
    from chalicelib.local.gateway import Client

    with Client(runtime.app) as client:
        yield Api(client, runtime.admin_key)
