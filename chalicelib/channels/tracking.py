"""Signed tracking tokens (open pixel, click redirect, unsubscribe) and link rewriting.

A token is `base64url(JSON payload) "." base64url(HMAC-SHA256)[:16 bytes]`, without
padding, safe in a URL path. The payload is not encrypted: it carries ids and the
target URL, nothing secret. The MAC is keyed with the tracking secret and
domain-separated, and each token carries its kind, so an open token is never
accepted as a click or an unsubscribe token. Tokens do not expire: an unsubscribe
link must keep working for as long as the email sits in a mailbox. `verify` and
`read_token` accept a list of secrets (current first) to allow rotation.

The order for an email's HTML part: `mark_template_links` on the template, render,
`finish_links` (tracks the template's own links, leaves the unsubscribe link alone),
`ensure_unsubscribe_link`, `add_open_pixel`.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html as _html
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

MAX_TOKEN_CHARS = 8192
SIGNATURE_BYTES = 16

KIND_OPEN = "open"
KIND_CLICK = "click"
KIND_UNSUBSCRIBE = "unsubscribe"
KIND_CONFIRM = "confirm"  # the double opt-in link of consent granted through the public ingest key

UNSUBSCRIBE_TEXT = "Se désinscrire / Unsubscribe"
_UNSUBSCRIBE_HTML_TEXT = "Se d&eacute;sinscrire / Unsubscribe"

_CONTEXT = b"parcours.token.v1\x00"
_KIND_CODES = {KIND_OPEN: "o", KIND_CLICK: "c", KIND_UNSUBSCRIBE: "u", KIND_CONFIRM: "f"}
# compact payload keys -> names callers see
_FIELDS = {"m": "message_id", "c": "contact_id", "u": "url", "s": "scenario", "t": "step", "h": "channel",
           "r": "requested_at"}
_REQUIRED = {
    KIND_OPEN: ("message_id", "contact_id"),
    KIND_CLICK: ("message_id", "contact_id", "url"),
    KIND_UNSUBSCRIBE: ("contact_id", "channel"),
    KIND_CONFIRM: ("contact_id", "channel", "requested_at"),
}
_OPTIONAL = {
    KIND_OPEN: ("scenario", "step"),
    KIND_CLICK: ("scenario", "step"),
    KIND_UNSUBSCRIBE: ("message_id",),
    KIND_CONFIRM: (),
}
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


# ------------------------------------------------------------------------------- tokens


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, body: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), _CONTEXT + body.encode("ascii"), hashlib.sha256).digest()
    return _b64encode(digest[:SIGNATURE_BYTES])


def sign(payload: Mapping[str, Any], secret: str) -> str:
    """A compact URL-safe token carrying `payload` (JSON-serialisable), signed with `secret`."""
    if not isinstance(secret, str) or not secret:
        raise ValueError("the signing secret must be a non-empty string")
    data = json.dumps(dict(payload), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    body = _b64encode(data.encode("utf-8"))
    return f"{body}.{_mac(secret, body)}"


def verify(token: str, secret: str | Sequence[str]) -> dict[str, Any] | None:
    """The payload of a token signed with `secret` (or one of several secrets), or None
    when the token is malformed, truncated, tampered with or signed with another key.
    Never raises."""
    try:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not _TOKEN_SHAPE.fullmatch(token):
            return None
        body, signature = token.split(".")
        secrets = [secret] if isinstance(secret, str) else list(secret)
        valid = False
        for key in secrets:
            if isinstance(key, str) and key and hmac.compare_digest(_mac(key, body), signature):
                valid = True
        if not valid:
            return None
        payload = json.loads(_b64decode(body).decode("utf-8"))
    except (ValueError, TypeError, binascii.Error, UnicodeError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


def _make(secret: str, kind: str, **fields: Any) -> str:
    payload: dict[str, Any] = {"k": _KIND_CODES[kind]}
    names = {name: code for code, name in _FIELDS.items()}
    for name, value in fields.items():
        if value is None:
            if name in _REQUIRED[kind]:
                raise ValueError(f"{name} is required")
            continue
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string")
        payload[names[name]] = value
    return sign(payload, secret)


def make_click_token(
    secret: str,
    message_id: str,
    url: str,
    contact_id: str,
    scenario: str | None = None,
    step: str | None = None,
) -> str:
    """Token for `GET /t/c/{token}`: records the click, then redirects to `url`.
    Refuses (ValueError) a URL that `safe_redirect_url` refuses."""
    if not safe_redirect_url(url):
        raise ValueError("the click URL must be an absolute http(s) URL")
    return _make(
        secret, KIND_CLICK, message_id=message_id, url=url, contact_id=contact_id, scenario=scenario, step=step
    )


def make_open_token(
    secret: str,
    message_id: str,
    contact_id: str,
    scenario: str | None = None,
    step: str | None = None,
) -> str:
    """Token for the open pixel `GET /t/o/{token}`."""
    return _make(secret, KIND_OPEN, message_id=message_id, contact_id=contact_id, scenario=scenario, step=step)


def make_unsubscribe_token(
    secret: str, contact_id: str, message_id: str | None = None, channel: str = "email"
) -> str:
    """Token for `GET+POST /u/{token}` (and the List-Unsubscribe header)."""
    return _make(secret, KIND_UNSUBSCRIBE, contact_id=contact_id, message_id=message_id, channel=channel)


def make_confirm_token(secret: str, contact_id: str, channel: str, requested_at: str) -> str:
    """Token for `GET+POST /c/{token}`: confirms the consent requested at that moment (a later
    request gets a new link; this one then no longer confirms anything)."""
    return _make(secret, KIND_CONFIRM, contact_id=contact_id, channel=channel, requested_at=requested_at)


def read_token(token: str, secret: str | Sequence[str], kind: str) -> dict[str, Any] | None:
    """The fields of a valid token of this kind, or None. Never raises.

    click: {"kind", "message_id", "contact_id", "url", "scenario", "step"};
    open: {"kind", "message_id", "contact_id", "scenario", "step"};
    unsubscribe: {"kind", "contact_id", "channel", "message_id"};
    confirm: {"kind", "contact_id", "channel", "requested_at"}.
    Optional fields absent from the token are None."""
    code = _KIND_CODES.get(kind)
    payload = verify(token, secret)
    if code is None or payload is None or payload.get("k") != code:
        return None
    fields: dict[str, Any] = {_FIELDS[key]: value for key, value in payload.items() if key in _FIELDS}
    result: dict[str, Any] = {"kind": kind}
    for name in _REQUIRED[kind]:
        value = fields.get(name)
        if not isinstance(value, str) or not value:
            return None
        result[name] = value
    for name in _OPTIONAL[kind]:
        value = fields.get(name)
        if value is not None and not isinstance(value, str):
            return None
        result[name] = value
    if kind == KIND_CLICK and not safe_redirect_url(result["url"]):
        return None
    return result


# ---------------------------------------------------------------------------- redirects


_FORBIDDEN_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


def safe_redirect_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host, no credentials, no whitespace,
    control characters or backslashes (which browsers read as '/')."""
    if not isinstance(url, str) or not url or len(url) > MAX_TOKEN_CHARS:
        return False
    if _FORBIDDEN_URL_CHARS.search(url):
        return False
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or not url.lower().startswith(parts.scheme.lower() + "://"):
        return False
    if not parts.netloc or not parts.hostname or "@" in parts.netloc:
        return False
    return True


# ------------------------------------------------------------------------------ links


_A_START = re.compile(r"<a(?=[\s/>])", re.IGNORECASE)
# The rest of a tag up to its '>', quoted values may hold '>'. Unambiguous and
# possessive: a failed match costs one linear scan.
_TAG_REST = re.compile(r"""[^"'>]*+(?:(?:"[^"]*+"|'[^']*+')[^"'>]*+)*+>""")
_ATTRIBUTE = re.compile(
    r"""(?P<name>[^\s"'>/=]+)(?:\s*=\s*(?P<value>"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<uq>[^\s"'=<>`]+)))?"""
)
_HTTP = re.compile(r"https?://", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
_SKIP_MARKS = frozenset({"unsubscribe", "notrack"})


def _attribute_spans(tag: str) -> Iterator[tuple[str, str, tuple[int, int], tuple[int, int]]]:
    """Each attribute of an `<a ...>` tag, duplicates included: (lower-case name, decoded value,
    span of the raw value, span of the whole attribute)."""
    inner_start = 2  # after "<a"
    inner = tag[inner_start:-1]
    for match in _ATTRIBUTE.finditer(inner):
        name = match.group("name").lower()
        whole = (match.start() + inner_start, match.end() + inner_start)
        if match.group("value") is None:
            yield name, "", (whole[1], whole[1]), whole
            continue
        raw = match.group("dq")
        if raw is None:
            raw = match.group("sq")
        if raw is None:
            raw = match.group("uq")
        start, end = match.span("value")
        yield name, _html.unescape(raw or ""), (start + inner_start, end + inner_start), whole


def _attributes(tag: str) -> dict[str, tuple[str, tuple[int, int]]]:
    """Attributes of an `<a ...>` tag: lower-case name -> (decoded value, span of the raw value).
    The first occurrence of a name wins, as in browsers."""
    found: dict[str, tuple[str, tuple[int, int]]] = {}
    for name, value, span, _whole in _attribute_spans(tag):
        found.setdefault(name, (value, span))
    return found


def _a_tags(html: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each `<a ...>` tag, in linear time. A tag left open (an
    unbalanced quote or no '>') swallows the rest of the document, as in browsers."""
    position = 0
    while True:
        start = _A_START.search(html, position)
        if start is None:
            return
        rest = _TAG_REST.match(html, start.end())
        if rest is None:
            return
        yield start.start(), rest.end()
        position = rest.end()


def _links(html: str) -> list[tuple[int, int, dict[str, tuple[str, tuple[int, int]]]]]:
    return [(start, end, _attributes(html[start:end])) for start, end in _a_tags(html)]


# -------------------------------------------------------- links the template writes itself


LINK_MARK = "data-parcours-link"
_JINJA_OPEN = {"{{": "}}", "{%": "%}", "{#": "#}"}
# An href whose scheme and host are written out: what follows the host may come from data.
_LITERAL_ORIGIN = re.compile(r"\s*(https?://[^/?#{}\s\\@]+)(?:[/?#]|\s*$)", re.IGNORECASE)
_SCRIPT_SCHEMES = ("javascript:", "data:", "vbscript:")
_LINK_NUMBER = re.compile(r"[0-9]{1,9}")
_URL_NOISE = re.compile(r"[\x00-\x20]")  # browsers ignore these in a scheme


def _jinja_spans(source: str) -> list[tuple[int, int]]:
    """Where `{{ }}`, `{% %}` and `{# #}` are, in one pass (an unclosed one runs to the end)."""
    spans: list[tuple[int, int]] = []
    position = 0
    while True:
        start = source.find("{", position)
        if start < 0 or start + 1 >= len(source):
            return spans
        closing = _JINJA_OPEN.get(source[start:start + 2])
        if closing is None:
            position = start + 1
            continue
        end = source.find(closing, start + 2)
        end = len(source) if end < 0 else end + 2
        spans.append((start, end))
        position = end


def _origin(url: str) -> str:
    return urlsplit(url).netloc.lower()


def mark_template_links(source: str, marker: str) -> tuple[str, list[str]]:
    """The HTML template with each link it writes itself marked `data-parcours-link="MARKER-N"`,
    and the origin (host and port) each link N points at.

    A link is the template's own when its href starts with a written-out http(s) scheme and host
    (`https://shop.example.com/p/{{ p.id }}` is; `{{ contact.attributes.site }}` is not): only
    those become tracked redirects. `marker` is chosen at random for each message, so no value
    rendered into it can pass for the template's own."""
    jinja = _jinja_spans(source)
    out: list[str] = []
    origins: list[str] = []
    position = 0
    span_index = 0
    for tag_start, tag_end in _a_tags(source):
        while span_index < len(jinja) and jinja[span_index][1] <= tag_start:
            span_index += 1
        if span_index < len(jinja) and jinja[span_index][0] <= tag_start:
            continue  # inside a Jinja expression or statement: not markup the template writes
        href = _attributes(source[tag_start:tag_end]).get("href")
        literal = _LITERAL_ORIGIN.match(href[0]) if href else None
        if literal is None:
            continue
        origins.append(_origin(literal.group(1)))
        out.append(source[position:tag_start + 2])
        out.append(f' {LINK_MARK}="{marker}-{len(origins) - 1}"')
        position = tag_start + 2
    out.append(source[position:])
    return "".join(out), origins


def _script_href(url: str) -> bool:
    return _URL_NOISE.sub("", url).lower().startswith(_SCRIPT_SCHEMES)


def finish_links(html: str, marker: str, origins: Sequence[str], click: Callable[[str], str] | None = None, *,
                 unsubscribe_url: str | None = None) -> str:
    """After rendering a template marked by `mark_template_links`: remove the marks, remove
    `javascript:`, `data:` and `vbscript:` hrefs from every link, and, when `click` is given,
    replace the href of each of the template's own links that still points at the origin the
    template wrote with `click(url)`, the URL entity-decoded (`&amp;` -> `&`). Other attributes
    and the rest of the HTML are kept byte for byte. Left alone: links that data made, mailto:,
    tel:, anchors and other schemes, URLs that `safe_redirect_url` refuses, links marked
    `data-parcours="unsubscribe"` or `data-parcours="notrack"`, and links to `unsubscribe_url`."""
    unsubscribe = unsubscribe_url.strip() if unsubscribe_url else None
    out: list[str] = []
    position = 0
    for tag_start, tag_end in _a_tags(html):
        tag = html[tag_start:tag_end]
        edits: list[tuple[tuple[int, int], str]] = []
        own: str | None = None
        first: dict[str, tuple[str, tuple[int, int]]] = {}
        for name, value, span, whole in _attribute_spans(tag):
            removal = (whole[0] - 1 if tag[whole[0] - 1].isspace() else whole[0], whole[1])  # with its space
            if name == LINK_MARK:
                edits.append((removal, ""))
                label = value.rpartition("-")
                if label[0] == marker and _LINK_NUMBER.fullmatch(label[2]) and int(label[2]) < len(origins):
                    own = own or origins[int(label[2])]
                continue
            if name == "href" and _script_href(value):
                edits.append((removal, ""))
            first.setdefault(name, (value, span))
        href = first.get("href")
        mark = first.get("data-parcours", ("", (0, 0)))[0].strip().lower()
        if click is not None and own is not None and href is not None and not _script_href(href[0]):
            url = href[0].strip()
            if (_HTTP.match(url) and safe_redirect_url(url) and _origin(url) == own and mark not in _SKIP_MARKS
                    and url != unsubscribe):
                edits.append((href[1], f'"{_html.escape(click(url), quote=True)}"'))
        if not edits:
            continue
        for (start, end), replacement in sorted(edits, reverse=True):
            tag = tag[:start] + replacement + tag[end:]
        out.append(html[position:tag_start])
        out.append(tag)
        position = tag_end
    out.append(html[position:])
    return "".join(out)


def _insert_before_body_end(html: str, fragment: str) -> str:
    ends = list(_BODY_END.finditer(html))
    if not ends:
        return html + fragment
    at = ends[-1].start()
    return html[:at] + fragment + html[at:]


def add_open_pixel(html: str, pixel_url: str) -> str:
    """Add a 1x1 tracking image just before `</body>`, or at the end."""
    pixel = (
        f'<img src="{_html.escape(pixel_url, quote=True)}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0;" />'
    )
    return _insert_before_body_end(html, pixel)


def has_link_to(html: str, url: str) -> bool:
    """True when some `<a>` in the HTML links to exactly `url` (after entity decoding)."""
    target = url.strip()
    return any(
        "href" in attributes and attributes["href"][0].strip() == target for _start, _end, attributes in _links(html)
    )


def ensure_unsubscribe_link(html: str, text: str, unsubscribe_url: str) -> tuple[str, str]:
    """Make sure both parts carry the unsubscribe link, adding a small footer where missing.

    An empty part means "no such part" and stays empty (generate the text part with
    `templates.html_to_text` after this call, and it gets the link too)."""
    if html and not has_link_to(html, unsubscribe_url):
        footer = (
            '<p style="font-size:12px;line-height:18px;color:#666666;text-align:center;margin:16px 0;">'
            f'<a href="{_html.escape(unsubscribe_url, quote=True)}" data-parcours="unsubscribe" '
            f'style="color:#666666;">{_UNSUBSCRIBE_HTML_TEXT}</a></p>'
        )
        html = _insert_before_body_end(html, footer)
    if text and unsubscribe_url not in text:
        text = f"{text.rstrip()}\n\n--\n{UNSUBSCRIBE_TEXT} : {unsubscribe_url}\n"
    return html, text
