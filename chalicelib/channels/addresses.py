"""Which addresses an outbound call (a webhook step) may reach: public ones only, in every spelling.

An internal IPv4 address can hide inside an IPv6 one (IPv4-mapped `::ffff:127.0.0.1`,
IPv4-compatible `::127.0.0.1`, NAT64 `64:ff9b::7f00:1`, 6to4 `2002:7f00:1::`, Teredo
`2001:0::/32`), and a host name can spell one out for a wildcard DNS service
(`127.0.0.1.nip.io`, `10-0-0-1.sslip.io`). Plain Python: the caller resolves, this decides.
"""
from __future__ import annotations

import ipaddress
import re

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_PORT = 443

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are the IPv4 address
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: a network's own translators
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated (RFC 4291), never a public peer
_TEREDO = ipaddress.IPv6Network("2001::/32")

# Names whose every subdomain resolves to the address it spells, or to loopback.
WILDCARD_DNS_DOMAINS: frozenset[str] = frozenset({
    "nip.io", "sslip.io", "xip.io", "traefik.me", "localtest.me", "lvh.me", "vcap.me", "lacolhost.com",
    "localhost.direct"})
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED = re.compile(rf"(?:^|\.){_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}(?:\.|$)")
_DASHED = re.compile(rf"(?:^|[.-]){_OCTET}-{_OCTET}-{_OCTET}-{_OCTET}(?:[.-]|$)")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64 or 6to4), or None."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress) -> str | None:
    """Why an outbound call may not connect to this address, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _IPV4_COMPATIBLE or address in _TEREDO or address in _LOCAL_NAT64:
            return f"{address} is a tunnelled or deprecated IPv6 form"
        inner = embedded_ipv4(address)
        if inner is not None:
            why = refusal(inner)
            return f"{address} carries {inner}: {why}" if why else None
    if address.is_multicast:
        return f"{address} is a multicast address"
    if not address.is_global:
        return f"{address} is not a public address (private, loopback, link-local or reserved)"
    return None


def spells_address(host: str) -> bool:
    """Whether a host name spells out an IPv4 address or belongs to a wildcard DNS service
    (such names resolve to whatever they spell, loopback included)."""
    name = host.lower().rstrip(".")
    if any(name == domain or name.endswith("." + domain) for domain in WILDCARD_DNS_DOMAINS):
        return True
    return bool(_DOTTED.search(name) or _DASHED.search(name))
