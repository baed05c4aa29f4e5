"""Signed tracking tokens, redirect checks and link rewriting."""
from __future__ import annotations

import base64
import json
import re
import time

import pytest

from chalicelib.channels import tracking
from chalicelib.channels.tracking import (
    add_open_pixel,
    ensure_unsubscribe_link,
    finish_links,
    make_click_token,
    make_open_token,
    make_unsubscribe_token,
    mark_template_links,
    read_token,
    safe_redirect_url,
    sign,
    verify,
)

SECRET = "s3cret-tracking-key"
URL_SAFE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


# ------------------------------------------------------------------------------- tokens


def test_sign_and_verify_round_trip():
    payload = {"a": 1, "b": "é", "c": [1, 2], "d": None}
    token = sign(payload, SECRET)
    assert URL_SAFE.fullmatch(token)
    assert verify(token, SECRET) == payload


def test_tokens_are_compact_and_deterministic():
    token = sign({"m": "msg-1"}, SECRET)
    body, signature = token.split(".")
    assert len(base64.urlsafe_b64decode(signature + "==")) == 16
    assert sign({"m": "msg-1"}, SECRET) == token
    assert len(make_open_token(SECRET, "msg-123", "ct-456")) < 100


def test_sign_refuses_an_empty_secret():
    with pytest.raises(ValueError):
        sign({"a": 1}, "")


def flip(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1:]


def test_verify_refuses_a_tampered_payload():
    token = sign({"contact": "ct-1"}, SECRET)
    body, signature = token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({"contact": "ct-2"}).encode()).rstrip(b"=").decode()
    assert verify(f"{forged}.{signature}", SECRET) is None
    for index in range(len(body)):
        assert verify(f"{flip(body, index)}.{signature}", SECRET) is None


def test_verify_refuses_a_tampered_or_truncated_signature():
    token = sign({"contact": "ct-1"}, SECRET)
    body, signature = token.split(".")
    for index in range(len(signature)):
        assert verify(f"{body}.{flip(signature, index)}", SECRET) is None
    assert verify(f"{body}.{signature[:-1]}", SECRET) is None
    assert verify(f"{body}.{signature[:8]}", SECRET) is None
    assert verify(f"{body}.{signature}A", SECRET) is None
    assert verify(token[:-5], SECRET) is None
    assert verify(token[5:], SECRET) is None


def test_verify_refuses_the_wrong_secret():
    token = sign({"contact": "ct-1"}, SECRET)
    assert verify(token, "another-secret") is None
    assert verify(token, "") is None
    assert verify(token, []) is None


def test_verify_accepts_any_of_several_secrets():
    old = sign({"contact": "ct-1"}, "old-secret")
    assert verify(old, ["new-secret", "old-secret"]) == {"contact": "ct-1"}
    assert verify(old, ["new-secret"]) is None


@pytest.mark.parametrize(
    "token",
    ["", ".", "abc", "abc.", ".abc", "a.b.c", "abc def.xyz", "a+b.c/d", "é.é", "x" * 10000 + ".y", None, 42, b"a.b",
     ["a", "b"]],
)
def test_verify_never_raises_on_garbage(token):
    assert verify(token, SECRET) is None  # type: ignore[arg-type]


def test_verify_refuses_a_signed_non_object_or_bad_json():
    for data in (b"[1, 2]", b'"text"', b"not json", b"\xff\xfe"):
        body = base64.urlsafe_b64encode(data).rstrip(b"=").decode()
        assert verify(f"{body}.{tracking._mac(SECRET, body)}", SECRET) is None


def test_click_token_round_trip():
    url = "https://shop.example.com/p?id=9&utm_source=email#top"
    token = make_click_token(SECRET, "msg-1", url, "ct-1", "welcome", "step-2")
    assert URL_SAFE.fullmatch(token)
    assert read_token(token, SECRET, "click") == {
        "kind": "click",
        "message_id": "msg-1",
        "contact_id": "ct-1",
        "url": url,
        "scenario": "welcome",
        "step": "step-2",
    }


def test_open_and_unsubscribe_token_round_trip():
    assert read_token(make_open_token(SECRET, "msg-1", "ct-1"), SECRET, "open") == {
        "kind": "open",
        "message_id": "msg-1",
        "contact_id": "ct-1",
        "scenario": None,
        "step": None,
    }
    assert read_token(make_unsubscribe_token(SECRET, "ct-1"), SECRET, "unsubscribe") == {
        "kind": "unsubscribe",
        "contact_id": "ct-1",
        "channel": "email",
        "message_id": None,
    }
    token = make_unsubscribe_token(SECRET, "ct-1", "msg-1", channel="sms")
    assert read_token(token, SECRET, "unsubscribe") == {
        "kind": "unsubscribe",
        "contact_id": "ct-1",
        "channel": "sms",
        "message_id": "msg-1",
    }


def test_a_token_is_only_valid_for_its_kind():
    tokens = {
        "open": make_open_token(SECRET, "msg-1", "ct-1"),
        "click": make_click_token(SECRET, "msg-1", "https://x.example.com", "ct-1"),
        "unsubscribe": make_unsubscribe_token(SECRET, "ct-1", "msg-1"),
    }
    for made, token in tokens.items():
        for kind in ("open", "click", "unsubscribe"):
            assert (read_token(token, SECRET, kind) is not None) == (made == kind)
        assert read_token(token, SECRET, "other") is None
    generic = sign({"m": "msg-1", "c": "ct-1"}, SECRET)  # no kind at all
    assert read_token(generic, SECRET, "open") is None


def test_read_token_refuses_tampering_and_wrong_secret():
    token = make_click_token(SECRET, "msg-1", "https://x.example.com", "ct-1")
    assert read_token(token, "wrong", "click") is None
    assert read_token(token[:-1], SECRET, "click") is None
    assert read_token("garbage", SECRET, "click") is None


def test_read_token_refuses_a_signed_payload_with_missing_or_bad_fields():
    assert read_token(sign({"k": "c", "m": "msg", "c": "ct"}, SECRET), SECRET, "click") is None  # no url
    assert read_token(sign({"k": "c", "m": "msg", "c": "ct", "u": "javascript:alert(1)"}, SECRET), SECRET,
                      "click") is None
    assert read_token(sign({"k": "o", "m": 1, "c": "ct"}, SECRET), SECRET, "open") is None
    assert read_token(sign({"k": "o", "m": "msg", "c": "ct", "s": 5}, SECRET), SECRET, "open") is None


@pytest.mark.parametrize("url", ["javascript:alert(1)", "//evil.example.com", "/relative", "https://u:p@x.example.com"])
def test_click_token_refuses_unsafe_urls(url):
    with pytest.raises(ValueError):
        make_click_token(SECRET, "msg-1", url, "ct-1")


def test_tokens_refuse_empty_ids():
    with pytest.raises(ValueError):
        make_open_token(SECRET, "", "ct-1")
    with pytest.raises(ValueError):
        make_unsubscribe_token(SECRET, None)  # type: ignore[arg-type]


def test_non_ascii_ids_round_trip():
    token = make_open_token(SECRET, "msg-é", "contact-ü", scenario="été")
    assert read_token(token, SECRET, "open")["contact_id"] == "contact-ü"


# ----------------------------------------------------------------------------- redirects


@pytest.mark.parametrize(
    "url",
    ["https://shop.example.com", "http://shop.example.com/p?q=1&r=2#frag", "https://shop.example.com:8443/a",
     "HTTPS://SHOP.EXAMPLE.COM/", "https://xn--exmple-cua.com/", "https://192.0.2.1/x"],
)
def test_safe_redirect_urls(url):
    assert safe_redirect_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example.com",
        "/path",
        "evil.example.com",
        "ftp://files.example.com",
        "https://user:pass@x.example.com",
        "https://user@x.example.com",
        "https://x.example.com@evil.example.com",
        "https://x.example.com/\r\nSet-Cookie: a=b",
        "https://x.example.com/\nx",
        "https://x.example.com/ a",
        " https://x.example.com",
        "https:/\\evil.example.com",
        "https:\\\\evil.example.com",
        "https://evil.example.com\\@good.example.com",
        "https://",
        "https:///path",
        "https://x.example.com:99999/",
        "https://x.example.com:abc/",
        "https://x.example.com/\x00",
        "",
        None,
        42,
    ],
)
def test_unsafe_redirect_urls(url):
    assert not safe_redirect_url(url)  # type: ignore[arg-type]


# ------------------------------------------------------------------------ link rewriting


def tracked(url: str) -> str:
    return "https://t.example.com/t/c/TOKEN?u=" + url


def rewrite_links(html: str, make_url, *, unsubscribe_url: str | None = None) -> str:
    """Track the links of HTML written as it is (no Jinja): every link is the template's own."""
    marked, origins = mark_template_links(html, "m")
    return finish_links(marked, "m", origins, make_url, unsubscribe_url=unsubscribe_url)


def test_rewrite_replaces_http_links_and_keeps_the_rest():
    source = (
        '<html><body><p>Hi <a class="btn" href="https://shop.example.com/p" target="_blank" '
        'style="color:red">Shop</a> and <A TITLE=\'t\' HREF=\'http://blog.example.com\'>blog</A>'
        " and <a href=https://bare.example.com/x id=z>bare</a></p></body></html>"
    )
    seen: list[str] = []

    def make_url(url: str) -> str:
        seen.append(url)
        return "https://t.example.com/c/" + str(len(seen))

    out = rewrite_links(source, make_url)
    assert seen == ["https://shop.example.com/p", "http://blog.example.com", "https://bare.example.com/x"]
    assert out == (
        '<html><body><p>Hi <a class="btn" href="https://t.example.com/c/1" target="_blank" '
        'style="color:red">Shop</a> and <A TITLE=\'t\' HREF="https://t.example.com/c/2">blog</A>'
        ' and <a href="https://t.example.com/c/3" id=z>bare</a></p></body></html>'
    )


def test_rewrite_decodes_entities_and_escapes_the_new_url():
    seen: list[str] = []

    def make_url(url: str) -> str:
        seen.append(url)
        return "https://t.example.com/c?a=1&b=2"

    out = rewrite_links('<a href="https://x.example.com/?a=1&amp;b=2&#38;c=3">x</a>', make_url)
    assert seen == ["https://x.example.com/?a=1&b=2&c=3"]
    assert out == '<a href="https://t.example.com/c?a=1&amp;b=2">x</a>'


def test_rewrite_is_robust_to_attribute_order_and_quoted_angle_brackets():
    source = '<a data-x="a > b" title=\'<"x">\' href="https://x.example.com">x</a><abbr href="https://no.example.com">'
    out = rewrite_links(source, tracked)
    assert out == (
        '<a data-x="a > b" title=\'<"x">\' href="https://t.example.com/t/c/TOKEN?u=https://x.example.com">x</a>'
        '<abbr href="https://no.example.com">'
    )


def test_rewrite_uses_the_first_href_like_browsers():
    out = rewrite_links('<a href="https://one.example.com" href="https://two.example.com">x</a>', tracked)
    assert out == (
        '<a href="https://t.example.com/t/c/TOKEN?u=https://one.example.com" href="https://two.example.com">x</a>'
    )


@pytest.mark.parametrize(
    "link",
    [
        '<a href="mailto:ana@example.com">mail</a>',
        '<a href="tel:+33123456789">call</a>',
        '<a href="#top">top</a>',
        '<a href="/relative">rel</a>',
        '<a href="https://user:pw@x.example.com">creds</a>',
        '<a name="anchor">no href</a>',
        '<a href="https://u.example.com/u/abc" data-parcours="unsubscribe">unsubscribe</a>',
        '<a data-parcours="UNSUBSCRIBE" href="https://prefs.example.com">preferences</a>',
        '<a href="https://x.example.com" data-parcours="notrack">not tracked</a>',
        '<a href="https://u.example.com/u/xyz?a=1&amp;b=2">unsubscribe by URL</a>',
    ],
)
def test_rewrite_leaves_some_links_alone(link):
    def make_url(url: str) -> str:
        raise AssertionError(f"should not be rewritten: {url}")

    source = f"<p>{link}</p>"
    assert rewrite_links(source, make_url, unsubscribe_url="https://u.example.com/u/xyz?a=1&b=2") == source


@pytest.mark.slow
@pytest.mark.parametrize("piece", ['<a "', "<a '", "<a x", '<a href="https://x.example.com/">'])
def test_rewrite_is_fast_on_broken_markup(piece):
    start = time.monotonic()
    rewrite_links(piece * 30_000, tracked)
    ensure_unsubscribe_link(piece * 30_000, "", UNSUBSCRIBE)
    assert time.monotonic() - start < 3.0


def test_an_unclosed_tag_swallows_the_rest():
    source = '<a title="oops href="https://x.example.com">x</a>'
    assert rewrite_links(source, tracked) == source


def test_rewrite_without_links_is_identity():
    source = "<p>No links here, only <b>text</b> & an href=\"https://x.example.com\" in prose.</p>"
    assert rewrite_links(source, tracked) == source


# --------------------------------------------------------------------------- open pixel


def test_open_pixel_goes_before_the_last_body_end():
    out = add_open_pixel("<html><BODY><p>x</p></BODY ></html>", "https://t.example.com/t/o/abc?x=1&y=2")
    assert out == (
        '<html><BODY><p>x</p><img src="https://t.example.com/t/o/abc?x=1&amp;y=2" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0;" /></BODY ></html>'
    )


def test_open_pixel_appended_without_body():
    out = add_open_pixel("<p>x</p>", "https://t.example.com/o")
    assert out.startswith("<p>x</p><img ")
    assert 'src="https://t.example.com/o"' in out


# ----------------------------------------------------------------------- unsubscribe link

UNSUBSCRIBE = "https://t.example.com/u/TOKEN?c=1&m=2"


def test_unsubscribe_footer_added_when_missing():
    html, text = ensure_unsubscribe_link("<html><body><p>Hello</p></body></html>", "Hello", UNSUBSCRIBE)
    assert html.startswith("<html><body><p>Hello</p><p ")
    assert html.endswith("</p></body></html>")
    assert 'href="https://t.example.com/u/TOKEN?c=1&amp;m=2"' in html
    assert 'data-parcours="unsubscribe"' in html
    assert "Unsubscribe" in html
    assert text.startswith("Hello\n")
    assert UNSUBSCRIBE in text
    assert "Se désinscrire / Unsubscribe" in text


def test_unsubscribe_footer_not_added_twice():
    html = f'<p>Hello <a href="{UNSUBSCRIBE.replace("&", "&amp;")}">stop</a></p>'
    text = f"Hello, stop: {UNSUBSCRIBE}"
    assert ensure_unsubscribe_link(html, text, UNSUBSCRIBE) == (html, text)
    once = ensure_unsubscribe_link("<p>x</p>", "x", UNSUBSCRIBE)
    assert ensure_unsubscribe_link(*once, UNSUBSCRIBE) == once


def test_unsubscribe_url_in_prose_is_not_a_link():
    html, _ = ensure_unsubscribe_link(f"<p>copy {UNSUBSCRIBE} in your browser</p>", "", UNSUBSCRIBE)
    assert 'data-parcours="unsubscribe"' in html


def test_empty_parts_stay_empty():
    assert ensure_unsubscribe_link("", "", UNSUBSCRIBE) == ("", "")
    html, text = ensure_unsubscribe_link("<p>x</p>", "", UNSUBSCRIBE)
    assert text == "" and 'data-parcours="unsubscribe"' in html


def test_footer_link_survives_rewriting():
    html, _ = ensure_unsubscribe_link('<p><a href="https://shop.example.com">shop</a></p>', "", UNSUBSCRIBE)
    out = rewrite_links(html, tracked)
    assert "TOKEN?u=https://shop.example.com" in out
    assert 'href="https://t.example.com/u/TOKEN?c=1&amp;m=2"' in out
