"""API Gateway as the local stack plays it, answering unknown routes as the deployed API does.

Chalice's local gateway answers a path no route matches with 403 "Missing Authentication
Token", as API Gateway does by default; the deployed API is given gateway responses (infra/)
that answer 404 in the error format instead, and so does this one.
"""
from __future__ import annotations

import json
from typing import Any

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalGateway, RouteMatcher
from chalice.test import Client as ChaliceClient
from chalice.test import TestHTTPClient

NOT_FOUND = {"error": {"code": "not_found", "message": "No such route: see GET /openapi.json for the API's routes."}}


class Gateway(LocalGateway):
    def __init__(self, app_object: Chalice, config: Config) -> None:
        super().__init__(app_object, config)
        self._routes = RouteMatcher(list(app_object.routes))

    def handle_request(self, method: str, path: str, headers: Any, body: bytes | None) -> Any:
        try:
            self._routes.match_route(path)
        except ValueError:
            return {"statusCode": 404, "headers": {"Content-Type": "application/json"}, "multiValueHeaders": {},
                    "body": json.dumps(NOT_FOUND), "isBase64Encoded": False}
        return super().handle_request(method, path, headers, body)


class RequestHandler(ChaliceRequestHandler):
    """`make run`'s HTTP handler, on this gateway."""

    def __init__(self, request: Any, client_address: Any, server: Any, app_object: Chalice, config: Config) -> None:
        self.local_gateway = Gateway(app_object, config)
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)

    def __getattr__(self, name: str) -> Any:
        # http.server answers 501 in HTML to a method it has no do_METHOD for (TRACE, CONNECT...);
        # API Gateway hands every method to the app, which refuses it in the error format.
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)


class Client(ChaliceClient):
    """Chalice's test client, on this gateway, with the local stage's config as `make run` has it.
    Chalice's own client reads .chalice/config.json, whose variables are placeholders filled at
    deploy time (`${ssm:token-secret}`), and puts them in os.environ, for every thread, during
    each request: a background thread reading the settings then would read placeholders."""

    @property
    def _chalice_config(self) -> Config:
        return Config.create(chalice_stage="local", app_name="parcours", chalice_app=self._app)

    @property
    def http(self) -> TestHTTPClient:
        if self._http_client is None:
            self._http_client = TestHTTPClient(self._app, self._chalice_config)
            self._http_client._local_gateway = Gateway(self._app, self._chalice_config)
        return self._http_client
