"""Every route names the roles it admits; the key in `Authorization: Bearer KEY` decides."""
from __future__ import annotations

from chalice.app import Request

from chalicelib import keys
from chalicelib.api.http import ApiError

ADMIN = frozenset({"admin"})
WRITE = frozenset({"admin", "marketer"})
READ = frozenset({"admin", "marketer", "analyst"})
INGEST = frozenset({"admin", "marketer", "ingest"})


def require(request: Request, roles: frozenset[str]) -> keys.Principal:
    """The caller, if its key is valid (else 401) and its role is admitted (else 403)."""
    header = request.headers.get("authorization", "") if request.headers else ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "An API key is required: Authorization: Bearer KEY.")
    principal = keys.authenticate(token.strip())
    if principal is None:
        raise ApiError(401, "unauthorized", "This API key is not valid.")
    if principal.role not in roles:
        raise ApiError(403, "forbidden", f"The {principal.role} role may not do this.")
    return principal
