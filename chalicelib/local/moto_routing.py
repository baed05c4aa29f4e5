"""moto's request routing, remembered: the fixed cost of every AWS call on the local stack.

For each request moto's botocore stubber tries the URL patterns of every service in turn,
rebuilds the chosen backend's URL table (formatting and compiling its patterns), and then,
to find the action, lists the response class's methods with `inspect.getmembers`. None of it
depends on anything but the URL and the class, yet it was about a third of a DynamoDB call's
time. Here the handler found for a URL is remembered (for the handlers that build a fresh
response object per call, as moto's `BaseResponse.dispatch` does), and each class's method
names are listed once. The request then goes through moto exactly as before.
"""
from __future__ import annotations

import inspect
from collections import OrderedDict
from functools import cache
from typing import Any

ROUTES_KEPT = 4096  # distinct URLs remembered (the paths of Lambda or S3 calls vary)


def install() -> None:
    """Patch moto's stubber and response class once per process (moto's answers unchanged)."""
    from moto.core import botocore_stubber, responses

    stubber = botocore_stubber.BotocoreStubber
    if getattr(stubber.process_request, "remembers_routes", False):
        return
    original = stubber.process_request
    routes: OrderedDict[str, Any] = OrderedDict()

    @cache
    def method_names_from_class(clazz: type) -> frozenset[str]:
        return frozenset(name for name, _ in inspect.getmembers(clazz, predicate=inspect.isfunction))

    responses.method_names_from_class = method_names_from_class

    def process_request(self: Any, request: Any) -> Any:
        from moto.core.config import passthrough_url
        from moto.core.exceptions import HTTPException
        from moto.core.request import normalize_request
        from moto.core.utils import get_equivalent_url_in_aws_domain
        from moto.moto_api import recorder

        parsed_url, _ = get_equivalent_url_in_aws_domain(request.url)
        clean_url = f"{parsed_url.scheme}://{parsed_url.netloc}{parsed_url.path}"
        if passthrough_url(clean_url):
            return original(self, request)
        handler = routes.get(clean_url)
        if handler is None:
            handler = _route(clean_url)
            if handler is None:
                return original(self, request)
            routes[clean_url] = handler
            while len(routes) > ROUTES_KEPT:
                routes.popitem(last=False)
        normalized = normalize_request(request)
        try:
            recorder._record_request(normalized)
            return handler(normalized, normalized.raw_url, normalized.headers)
        except HTTPException as error:
            return error.code, error.get_headers(), error.get_body()

    process_request.remembers_routes = True
    stubber.process_request = process_request


def _route(clean_url: str) -> Any:
    """The handler moto's stubber would pick for this URL, when it can be remembered: a
    classmethod (a fresh response object per call), of a service neither passed through nor
    left out of the whitelist. None otherwise (moto's own path then decides)."""
    import re

    import moto.backend_index as backend_index
    import moto.backends as backends
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.base_backend import BackendDict
    from moto.core.config import passthrough_service, service_whitelisted

    for service, pattern in backend_index.backend_url_patterns:
        if not pattern.match(clean_url):
            continue
        if passthrough_service(service) or not service_whitelisted(service):
            return None
        backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
        if isinstance(backend_dict, BackendDict):
            regions = backend_dict[DEFAULT_ACCOUNT_ID]
            backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
        else:
            backend = backend_dict["global"]
        for url, handler in backend.urls.items():
            if re.compile(url).match(clean_url):
                return handler if inspect.isclass(getattr(handler, "__self__", None)) else None
        return None
    return None
