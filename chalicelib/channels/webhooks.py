"""Outbound webhooks from scenario steps: signed JSON POSTs, to public HTTPS hosts only (no SSRF)."""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from chalicelib.config import settings
from chalicelib.contacts import service as contacts
from chalicelib.store.models import Contact

TIMEOUT_SECONDS = 5


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect could lead to an internal address: never follow


def public_address(host: str) -> bool:
    """Whether every address the host resolves to is public (not private, loopback, link-local...)."""
    try:
        infos = socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    addresses = {ipaddress.ip_address(info[4][0]) for info in infos}
    return bool(addresses) and all(address.is_global for address in addresses)


def sign(body: bytes, timestamp: str) -> str:
    return hmac.new(settings().token_secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def call_step(step: dict, contact: Contact, scenario: dict) -> str:
    """POST the step's body with the contact; the outcome for the journey's path."""
    url = step["url"]
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or not public_address(parts.hostname):
        return "refused:not a public https address"
    payload = json.dumps({"scenario": scenario["id"], "step": step["id"], "contact": contacts.to_api(contact),
                          "data": step.get("body") or {}}).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(url, data=payload, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "Parcours-Webhook/1",
        "X-Parcours-Timestamp": timestamp, "X-Parcours-Signature": f"sha256={sign(payload, timestamp)}"})
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=TIMEOUT_SECONDS) as response:
            return f"delivered:{response.status}"
    except urllib.error.HTTPError as error:
        return f"failed:{error.code}"
    except (urllib.error.URLError, OSError) as error:
        return f"failed:{type(error).__name__}"
