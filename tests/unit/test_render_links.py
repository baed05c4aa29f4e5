"""Only the links a template writes become tracked redirects; hrefs made of data stay as they are,
and script hrefs are removed: what the renderer gives for sending, preview and simulate."""
from __future__ import annotations

import pytest

from chalicelib.channels import render

UNSUBSCRIBE = "https://u.example.com/u/token"
PHISHING = "https://phish.example.net/login"


def tracked(url: str) -> str:
    return "https://t.example.com/t/c/TOKEN?u=" + url


def _html(source: str, *, click=tracked, **contact) -> str:
    values = render.variables({"id": "c-1", "first_name": "Ana", "attributes": {}, **contact}, {}, {},
                              render.Links(UNSUBSCRIBE))
    links = render.Links(UNSUBSCRIBE, click=click)
    return render.email({"subject": "Hi", "html": source}, values, links, transactional=True)["html"]


def test_an_href_from_contact_data_is_left_as_it_is_and_never_signed():
    html = _html('<p><a href="{{ contact.attributes.site }}">my site</a> '
                 '<a href="https://shop.example.com/offer">offer</a></p>', attributes={"site": PHISHING})
    assert html == (f'<p><a href="{PHISHING}">my site</a> '
                    '<a href="https://t.example.com/t/c/TOKEN?u=https://shop.example.com/offer">offer</a></p>')


@pytest.mark.parametrize(("source", "expected"), [
    # the template writes scheme and host: what follows may come from data, the link is tracked
    ('<a href="https://shop.example.com/p/{{ contact.id }}?src=mail">p</a>',
     '<a href="https://t.example.com/t/c/TOKEN?u=https://shop.example.com/p/c-1?src=mail">p</a>'),
    ('<a class="b" href=\'https://shop.example.com?u={{ contact.first_name }}\'>p</a>',
     '<a class="b" href="https://t.example.com/t/c/TOKEN?u=https://shop.example.com?u=Ana">p</a>'),
    # data would choose the host: not the template's link
    ('<a href="https://shop.example.com{{ contact.attributes.site }}">p</a>',
     '<a href="https://shop.example.com.phish.example.net">p</a>'),
    ('<a href="https://{{ contact.attributes.site }}/x">p</a>', '<a href="https://.phish.example.net/x">p</a>'),
    ('<a href="{{ \'https://shop.example.com/\' ~ contact.id }}">p</a>', '<a href="https://shop.example.com/c-1">p</a>'),
])
def test_a_link_is_the_templates_own_when_it_writes_scheme_and_host(source, expected):
    assert _html(source, attributes={"site": ".phish.example.net"}) == expected


def test_links_written_in_a_loop_are_all_tracked():
    html = _html('{% for p in ["a", "b"] %}<a href="https://shop.example.com/{{ p }}">{{ p }}</a>{% endfor %}')
    assert html == ('<a href="https://t.example.com/t/c/TOKEN?u=https://shop.example.com/a">a</a>'
                    '<a href="https://t.example.com/t/c/TOKEN?u=https://shop.example.com/b">b</a>')


@pytest.mark.parametrize("href", [
    "javascript:alert(1)", " JavaScript:alert(1)", "java&#x09;script:alert(1)", "jav&#10;ascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD4=", "DATA:text/html,x", "vbscript:msgbox(1)",
])
def test_script_hrefs_are_removed_whether_written_or_from_data(href):
    assert _html(f'<p><a href="{href}" title="t">x</a></p>') == '<p><a title="t">x</a></p>'
    from html import unescape

    assert _html('<p><a href="{{ contact.attributes.js }}">x</a></p>',
                 attributes={"js": unescape(href)}) == "<p><a>x</a></p>"


def test_data_cannot_pass_for_a_template_link():
    # raw HTML from data (the author chose `safe`) may imitate the mark; the mark is random per message
    injected = f'<a data-parcours-link="0000000000000000-0" href="{PHISHING}">x</a>'
    html = _html('<p>{{ contact.attributes.block | safe }} <a href="https://shop.example.com/">shop</a></p>',
                 attributes={"block": injected})
    assert html == (f'<p><a href="{PHISHING}">x</a> '
                    '<a href="https://t.example.com/t/c/TOKEN?u=https://shop.example.com/">shop</a></p>')
    escaped = _html('<a title="{{ contact.first_name }}" href="https://shop.example.com/">s</a>',
                    first_name='" data-parcours-link="x-0')
    assert escaped.startswith('<a title="&#34; data-parcours-link=&#34;x-0" href="https://t.example.com/')


def test_an_anchor_inside_a_jinja_expression_is_text_not_a_link():
    html = _html("<p>{{ '<a href=\"https://shop.example.com/\">' }}</p>")
    assert html == '<p>&lt;a href=&#34;https://shop.example.com/&#34;&gt;</p>'


def test_without_tracking_links_stay_as_written_and_script_hrefs_still_go():
    source = ('<p><a href="https://shop.example.com/" style="x">shop</a> <a href="{{ contact.attributes.site }}">s</a>'
              ' <a href="javascript:void(0)">js</a></p>')
    assert _html(source, click=None, attributes={"site": PHISHING}) == (
        f'<p><a href="https://shop.example.com/" style="x">shop</a> <a href="{PHISHING}">s</a> <a>js</a></p>')


def test_marked_links_keep_the_other_rules():
    source = ('<a href="https://shop.example.com/" data-parcours="notrack">n</a>'
              f'<a href="{UNSUBSCRIBE}">u</a><a href="mailto:help@example.com">m</a>')
    assert _html(source) == source
