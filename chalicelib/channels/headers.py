"""Email header values built from contact data, safe against header injection.

Every value that reaches a header goes through `clean_header_value` (no CR, LF or
other control characters, whitespace folded to single spaces) or `format_address`.
Addresses must be ASCII (SES refuses SMTPUTF8 addresses): an internationalised
domain is converted to punycode, a non-ASCII local part is refused. A non-ASCII
display name is RFC 2047-encoded (a single encoded word).
"""
from __future__ import annotations

import re
import unicodedata
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import formataddr

MAX_DISPLAY_NAME_CHARS = 128
MAX_ADDRESS_CHARS = 254

# bidirectional overrides and isolates: no use in a header, and a way to spoof names
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Plain dot-atom addresses only: no quoted local parts, comments or address literals.
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")
_URI_FORBIDDEN = re.compile(r"[\x00-\x20\x7f<>,\\\"]")


def clean_header_value(value: str | None) -> str:
    """The value without CR, LF, tabs or any other control character (each becomes a
    space), without bidi overrides, and with runs of whitespace folded to one space."""
    if value is None:
        return ""
    text = "".join(
        " " if unicodedata.category(char) in ("Cc", "Zl", "Zp") else char
        for char in str(value)
        if char not in _BIDI_CONTROLS
    )
    return " ".join(text.split())


def _ascii_address(email: str) -> str:
    if not isinstance(email, str):
        raise ValueError("an email address must be a string")
    address = email.strip()
    if not address or len(address) > MAX_ADDRESS_CHARS:
        raise ValueError("invalid email address")
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise ValueError("invalid email address: expected local@domain")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError("invalid email address: bad domain") from None
    if not _LOCAL_PART.fullmatch(local):
        raise ValueError("invalid email address: bad local part")
    if not _DOMAIN.fullmatch(domain):
        raise ValueError("invalid email address: bad domain")
    try:
        parsed = Address(username=local, domain=domain)
    except (ValueError, TypeError, HeaderParseError) as exc:  # pragma: no cover - the patterns are stricter
        raise ValueError(f"invalid email address: {exc}") from None
    return parsed.addr_spec


def format_address(display_name: str | None, email: str) -> str:
    """`Name <addr>` for From, To and Reply-To: the name cleaned, quoted when it holds
    specials, RFC 2047-encoded when not ASCII; just `addr` without a name.
    Raises ValueError for an address that is not a single plain ASCII `local@domain`
    (dot-atom local part, no quotes, comments or address literals)."""
    address = _ascii_address(email)
    name = clean_header_value(display_name)[:MAX_DISPLAY_NAME_CHARS].strip()
    if not name:
        return address
    # ASCII names are quoted and escaped as needed; others become one RFC 2047 encoded
    # word. Not split in several words: the name is capped at MAX_DISPLAY_NAME_CHARS, and
    # some parsers (Python's among them) mangle names split across encoded words.
    return formataddr((name, address), charset="utf-8")


def _uri(value: str, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 2048 or _URI_FORBIDDEN.search(value):
        raise ValueError(f"invalid {what}: empty, too long, or holds spaces, control characters, '<', '>' or ','")
    if not value.isascii():
        raise ValueError(f"invalid {what}: not ASCII")
    return value


def list_unsubscribe_headers(unsubscribe_url: str, mailto: str | None = None) -> dict[str, str]:
    """List-Unsubscribe and List-Unsubscribe-Post (RFC 8058 one-click) headers.

    RFC 8058 wants an https URL (mailbox providers ignore one-click otherwise); http is
    accepted for local stacks. `mailto` may be an address or a `mailto:` URI."""
    url = _uri(unsubscribe_url, "unsubscribe URL")
    if not url.lower().startswith(("https://", "http://")):
        raise ValueError("the unsubscribe URL must be an http(s) URL")
    value = f"<{url}>"
    if mailto:
        target = mailto if mailto.lower().startswith("mailto:") else f"mailto:{mailto}"
        value += f", <{_uri(target, 'unsubscribe mailto')}>"
    return {"List-Unsubscribe": value, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
