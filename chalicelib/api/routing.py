"""A Blueprint whose every route names the roles it admits and answers errors in our format.

Chalice turns any exception raised by a view into its own 500 before middleware sees it, so
the translation of ApiError and of problems.Invalid (422 with every problem), and the role
check, wrap each view here, once for all routes.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response

from chalicelib import faults
from chalicelib.api.auth import require
from chalicelib.api.http import ApiError, current_route
from chalicelib.logs import logger
from chalicelib.problems import Invalid, WrongState

PUBLIC: frozenset[str] = frozenset()  # no key needed: health, tracking links, unsubscribe


class ApiBlueprint(Blueprint):
    def route(self, path: str, *, roles: frozenset[str], body: Callable[[], dict] | None = None,  # type: ignore[override]  # roles are required
              **kwargs: Any) -> Callable:
        """`body`, when given, makes the JSON Schema of the request body (for GET /openapi.json)."""
        register = super().route(path, **kwargs)

        def decorator(view: Callable) -> Callable:
            @functools.wraps(view)
            def guarded(*args: Any, **params: Any) -> Any:
                request = self.current_request
                current_route.set(f"{request.method} {path} {sorted(params.items())}")
                try:
                    if roles:
                        request.principal = require(request, roles)  # type: ignore[attr-defined]  # Chalice has no slot for it
                    return view(*args, **params)
                except ApiError as error:
                    return error.response()
                except Invalid as error:
                    return ApiError(422, "invalid", error.message, error.problems).response()
                except WrongState as error:
                    return ApiError(409, "wrong_state", str(error).capitalize() + ".").response()
                except Exception as error:
                    if faults.is_transient(error):  # AWS said "not now": the request may be made again
                        logger.warning("AWS refused for now", extra={"route": path, "error": type(error).__name__})
                        return Response({"error": {"code": "unavailable", "message":
                                                   "The service is busy; retry this request in a moment."}},
                                        status_code=503, headers={"Retry-After": "1"})
                    logger.exception("unhandled error", extra={"route": path, "method": request.method})
                    return Response({"error": {"code": "internal", "message": "Something went wrong on our side."}},
                                    status_code=500)

            guarded.roles = roles  # type: ignore[attr-defined]  # read by api/openapi.py
            guarded.body_schema = body  # type: ignore[attr-defined]
            return register(guarded)

        return decorator


# Chalice answers some requests itself before any view runs (405 method not allowed, 415
# unsupported media type, 400 binary answer without Accept), as {"Code", "Message"}.
_CHALICE_CODES = {"MethodNotAllowedError": "method_not_allowed", "UnsupportedMediaType": "unsupported_media_type",
                  "BadRequest": "bad_request", "BadRequestError": "bad_request", "NotFoundError": "not_found"}


def errors_in_our_format(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """HTTP middleware: every refusal, Chalice's own included, in the error format of DESIGN.md section 7."""
    response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and set(body) == {"Code", "Message"}:
        code = _CHALICE_CODES.get(str(body["Code"]), "error")
        response.body = {"error": {"code": code, "message": str(body["Message"])}}
    return response
