"""Outbound webhooks' secrets, signatures and connections: signed JSON POSTs, to public HTTPS
hosts only (no SSRF). What is sent, and when it is retried, is channels.outbound's.

Signing: each endpoint (scenario, step and URL) and each subscription has its own secret,
derived from PARCOURS_WEBHOOK_SECRET: HKDF-Expand (RFC 5869, one SHA-256 block) of the master
key with the endpoint (or subscription id) as `info`. Nothing is stored, a receiver's secret
cannot be computed from another's, and pointing a step at a new URL gives that receiver a new
secret. The tracking secret plays no
part, so no receiver can forge a click redirect or an unsubscribe link.

Connecting: the host is resolved once, every address it answers must be public
(`addresses.refusal`: IPv6 spellings of internal IPv4 included), and the connection goes to
that very address, with the TLS certificate and the Host header checked against the name: a
second DNS answer (rebinding) never gets a say. Port 443 only; a redirect is an answer, never
followed.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable
from urllib.parse import urlsplit

from chalicelib.channels import addresses
from chalicelib.config import settings

TIMEOUT_SECONDS = 5
MAX_RESPONSE_BYTES = 64 * 1024  # read and dropped: the status is the outcome
_INFO = b"parcours.webhook.v1\x00"
_SUBSCRIPTION_INFO = b"parcours.subscription.v1\x00"
SECRET_PREFIX = "whsec_"


class Refused(Exception):
    """The URL may not be called (scheme, port, or an address that is not public)."""


def endpoint_secret(scenario_id: str, step_id: str, url: str) -> str:
    """The signing secret of one webhook endpoint; its receiver verifies with it."""
    master = settings().webhook_secret
    if not master:
        raise Refused("PARCOURS_WEBHOOK_SECRET is not set")
    info = _INFO + "\x00".join((scenario_id, step_id, url)).encode("utf-8")
    return SECRET_PREFIX + hmac.new(master.encode("utf-8"), info + b"\x01", hashlib.sha256).hexdigest()


def subscription_secret(subscription_id: str) -> str:
    """The signing secret of one webhook subscription (`whsec_` + base64 of 32 bytes, as
    Standard Webhooks libraries expect): derived like the endpoints', with its own context."""
    master = settings().webhook_secret
    if not master:
        raise Refused("PARCOURS_WEBHOOK_SECRET is not set")
    info = _SUBSCRIPTION_INFO + subscription_id.encode("utf-8")
    key = hmac.new(master.encode("utf-8"), info + b"\x01", hashlib.sha256).digest()
    return SECRET_PREFIX + base64.b64encode(key).decode()


def sign_standard(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """The `webhook-signature` header of Standard Webhooks: `v1,` + base64 HMAC-SHA256, keyed
    with the base64-decoded secret, over `id.timestamp.body`."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = message_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def sign(secret: str, body: bytes, timestamp: str) -> str:
    """`X-Parcours-Signature` without its `sha256=` prefix: HMAC-SHA256 of `timestamp.body`."""
    return hmac.new(secret.encode("utf-8"), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def checked_address(host: str) -> str:
    """The one address to connect to: the host resolved once, every answer public."""
    try:
        infos = socket.getaddrinfo(host, addresses.ALLOWED_PORT, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise Refused(f"{host} does not resolve") from None
    found = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not found:
        raise Refused(f"{host} does not resolve")
    for address in found:
        why = addresses.refusal(address)
        if why:
            raise Refused(why)
    return str(found[0])


class _PinnedConnection(http.client.HTTPSConnection):
    """HTTPS to a name, over a TCP connection to an address chosen beforehand."""

    def __init__(self, host: str, address: str, context: ssl.SSLContext) -> None:
        super().__init__(host, addresses.ALLOWED_PORT, timeout=TIMEOUT_SECONDS, context=context)
        # http.client opens its socket through this attribute, with (host, port): swap the host
        # for the checked address; TLS (SNI, certificate) and the Host header keep the name.
        self._create_connection = lambda where, *args: socket.create_connection((address, where[1]), *args)


def post(url: str, body: bytes, headers: dict[str, str], *,
         resolve: Callable[[str], str] = checked_address, context: ssl.SSLContext | None = None) -> int:
    """POST to `url` and answer the HTTP status. Refused when the URL is not https on port 443
    or its host is not public. `resolve` and `context` exist for tests, which stand in for a
    public name with a local TLS server."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise Refused("the URL has an invalid port") from None
    if parts.scheme != "https" or not parts.hostname:
        raise Refused("not an https URL")
    if port not in (None, addresses.ALLOWED_PORT):
        raise Refused(f"port {port}: webhooks call port {addresses.ALLOWED_PORT} only")
    connection = _PinnedConnection(parts.hostname, resolve(parts.hostname),
                                   context or ssl.create_default_context())
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        return response.status
    finally:
        connection.close()
