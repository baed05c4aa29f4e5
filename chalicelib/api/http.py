"""Request parsing and the error format of DESIGN.md section 7, shared by every blueprint."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from chalice import CORSConfig, Response
from chalice.app import Request

from chalicelib import clock, limits
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


# Python's JSON reader recurses once per level: a body nested a few thousand deep would raise
# RecursionError inside it. Bodies are measured first; the stored limit (limits.MAX_DEPTH) is
# checked after reading, with paths.
MAX_READ_DEPTH = 2 * limits.MAX_DEPTH
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")
# int() refuses literals over 4,300 digits (ValueError); longer ones are read as Decimal and
# refused with their path by limits.problems like any other number DynamoDB cannot store.
_LONG_INTEGER = 400


def _depth(text: str) -> int:
    deepest = depth = 0
    for bracket in _BRACKETS.findall(_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _integer(literal: str) -> int | Decimal:
    return Decimal(literal) if len(literal) > _LONG_INTEGER else int(literal)


def read_json(request: Request, *, max_bytes: int | None = None) -> Any:
    """The JSON body; 413 when too large, 400 when it is not JSON, 422 when it holds what cannot
    be stored (limits: numbers, nesting, text)."""
    raw = request.raw_body or b""
    limit = max_bytes or settings().max_body_bytes
    if len(raw) > limit:
        raise ApiError(413, "too_large", f"The body is {len(raw)} bytes; at most {limit} are accepted.")
    if not raw.strip():
        raise ApiError(400, "bad_json", "The body is empty; a JSON document is expected.")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as error:
        raise ApiError(400, "bad_json", f"The body is not UTF-8: {error}.") from None
    if _depth(text) > MAX_READ_DEPTH:
        raise ApiError(400, "bad_json", f"The body is nested more than {MAX_READ_DEPTH} levels deep.")
    try:
        body = json.loads(text, parse_int=_integer)
    except (ValueError, RecursionError) as error:
        raise ApiError(400, "bad_json", f"The body is not valid JSON: {error}.") from None
    problems = limits.problems(body)
    if problems:
        raise Invalid(problems, "The body holds values that cannot be stored.")
    return body


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
    if not is_whole_number(raw) or not 1 <= int(raw) <= 500:
        raise Invalid([Problem("limit", "limit must be a whole number from 1 to 500")])
    return int(raw)


def date_range(request: Request, *, default_days: int = 30, max_days: int = 366) -> tuple[date, date]:
    """`?from=YYYY-MM-DD&to=YYYY-MM-DD` (days, UTC): by default the last `default_days` to today."""
    params = query(request)
    problems: list[Problem] = []
    found: dict[str, date] = {}
    for name in ("from", "to"):
        raw = params.get(name)
        if raw is None:
            continue
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                raise ValueError(raw)
            found[name] = date.fromisoformat(raw)
        except ValueError:
            problems.append(Problem(name, f"{name} must be a date, YYYY-MM-DD"))
    if problems:
        raise Invalid(problems)
    try:
        end = found.get("to") or (found["from"] + timedelta(days=default_days - 1) if "from" in found
                                  else clock.now().date())
        start = found.get("from") or end - timedelta(days=default_days - 1)
    except OverflowError:
        raise Invalid([Problem("from" if "from" in found else "to", "this range leaves the calendar")]) from None
    if start > end:
        raise Invalid([Problem("from", "from must not be after to")])
    if (end - start).days + 1 > max_days:
        raise Invalid([Problem("to", f"a report covers at most {max_days} days")])
    return start, end


def is_whole_number(raw: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts "²" or "٣", which int() then refuses."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 9


def _cursor_signature(scope: str, payload: bytes) -> str:
    # A key of its own, derived from the deployment's secret, so a cursor can never be passed
    # off as a tracking token or the reverse; the scope ties a cursor to the route that gave it.
    key = hmac.new(settings().token_secret.encode(), b"parcours pagination cursors", hashlib.sha256).digest()
    return hmac.new(key, scope.encode() + b"\n" + payload, hashlib.sha256).hexdigest()[:32]


# The route being answered (set by api/routing.ApiBlueprint): the scope of its cursors.
current_route: ContextVar[str] = ContextVar("current_route", default="")


def encode_cursor(key: dict | None) -> str | None:
    """A DynamoDB last-evaluated key, opaque to clients and signed: a cursor is only ever one
    this API gave, for this route."""
    if not key:
        return None
    payload = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
    signed = payload + b"." + _cursor_signature(current_route.get(), payload).encode()
    return base64.urlsafe_b64encode(signed).decode()


def decode_cursor(request: Request) -> dict | None:
    raw = query(request).get("cursor")
    if not raw:
        return None
    key = None
    try:
        payload, _, signature = base64.urlsafe_b64decode(raw.encode("ascii")).rpartition(b".")
        expected = _cursor_signature(current_route.get(), payload).encode()
        if payload and hmac.compare_digest(signature, expected):
            key = json.loads(payload)
    except (ValueError, binascii.Error, UnicodeError):
        key = None
    if not isinstance(key, dict):
        raise ApiError(400, "bad_cursor", "cursor is not one this API gave for this route.",
                       [Problem("cursor", "cursor is not one this API gave for this route")])
    return key


def page(items: list, next_key: dict | None) -> dict:
    return {"items": items, "next": encode_cursor(next_key)}
