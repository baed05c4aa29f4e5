"""Request parsing and the error format of DESIGN.md section 7, shared by every blueprint."""
from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

from chalice import CORSConfig, Response
from chalice.app import Request

from chalicelib.config import settings
from chalicelib.problems import Invalid, Problem

# Web frontends post events and contacts from the browser with the ingest key.
PUBLIC_CORS = CORSConfig(allow_origin="*", allow_headers=["Authorization", "Content-Type"], max_age=600)
# navigator.sendBeacon and CORS "simple" requests post JSON as text/plain.
BEACON_TYPES = ["application/json", "text/plain"]


class ApiError(Exception):
    """An answer to a client's mistake: rendered as {"error": {"code", "message", "details"}}."""

    def __init__(self, status: int, code: str, message: str, details: Iterable[Problem] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)

    def response(self) -> Response:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = [problem.as_dict() for problem in self.details]
        return Response({"error": body}, status_code=self.status)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} was not found.")


def read_json(request: Request, *, max_bytes: int | None = None) -> Any:
    """The JSON body; 413 when too large, 400 when it is not JSON."""
    raw = request.raw_body or b""
    limit = max_bytes or settings().max_body_bytes
    if len(raw) > limit:
        raise ApiError(413, "too_large", f"The body is {len(raw)} bytes; at most {limit} are accepted.")
    if not raw.strip():
        raise ApiError(400, "bad_json", "The body is empty; a JSON document is expected.")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ApiError(400, "bad_json", f"The body is not valid JSON: {error}.") from None


def read_object(request: Request, **kwargs: Any) -> dict[str, Any]:
    body = read_json(request, **kwargs)
    if not isinstance(body, dict):
        raise Invalid([Problem("", "a JSON object is expected")])
    return body


def query(request: Request) -> dict[str, str]:
    return dict(request.query_params or {})


def page_limit(request: Request, default: int = 50) -> int:
    raw = query(request).get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        raise Invalid([Problem("limit", "limit must be a whole number from 1 to 500")])
    return int(raw)


def encode_cursor(key: dict | None) -> str | None:
    """A DynamoDB last-evaluated key, opaque to clients."""
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_cursor(request: Request) -> dict | None:
    raw = query(request).get("cursor")
    if not raw:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, json.JSONDecodeError):
        key = None
    if not isinstance(key, dict):
        raise Invalid([Problem("cursor", "cursor is not one this API gave")])
    return key


def page(items: list, next_key: dict | None) -> dict:
    return {"items": items, "next": encode_cursor(next_key)}
