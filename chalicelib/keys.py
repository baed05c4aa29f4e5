"""API keys: created once and shown once, stored as SHA-256 digests, checked on every request."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist

from chalicelib import clock
from chalicelib.store.models import ApiKey

ROLES = ("admin", "marketer", "analyst", "ingest")
# A revoked key keeps working at most this long in a warm Lambda: the price of not reading
# DynamoDB on every request.
CACHE_SECONDS = 60.0

_cache: dict[str, tuple[float, Principal | None]] = {}


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: str
    name: str


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _key_id(digest: str) -> str:
    return digest[:24]


def to_api(record: ApiKey) -> dict:
    return {"id": record.id, "role": record.role, "name": record.name, "created_at": record.created_at}


def create(role: str, name: str, key: str | None = None) -> tuple[ApiKey, str]:
    """A new key with its clear text, which is never stored."""
    key = key or f"prc_{secrets.token_urlsafe(32)}"
    digest = _digest(key)
    record = ApiKey(_key_id(digest), digest=digest, role=role, name=name, created_at=clock.iso(clock.now()))
    record.save()
    return record, key


def ensure(key: str, role: str, name: str) -> ApiKey:
    """Register a key given in clear (the local admin key) if it is not known yet."""
    digest = _digest(key)
    try:
        return ApiKey.get(_key_id(digest))
    except DoesNotExist:
        return create(role, name, key)[0]


def authenticate(key: str) -> Principal | None:
    digest = _digest(key)
    cached = _cache.get(digest)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        record = ApiKey.get(_key_id(digest))
        principal = Principal(record.id, record.role, record.name) if hmac.compare_digest(
            record.digest, digest) else None
    except DoesNotExist:
        principal = None
    _cache[digest] = (time.monotonic() + CACHE_SECONDS, principal)
    return principal


def list_keys() -> list[ApiKey]:
    # A handful of keys in an admin-only listing: a scan of this small table is the right tool.
    return sorted(ApiKey.scan(), key=lambda record: record.created_at)


def revoke(key_id: str) -> bool:
    try:
        record = ApiKey.get(key_id)
    except DoesNotExist:
        return False
    record.delete()
    for digest, (_, principal) in list(_cache.items()):
        if principal and principal.key_id == key_id:
            del _cache[digest]
    return True
