"""The MIME an email goes out as: what a mail client reads back from the bytes SES is given."""
from __future__ import annotations

import email
from email import policy

import pytest

from chalicelib.channels import providers
from chalicelib.channels.headers import format_address, list_unsubscribe_headers
from chalicelib.config import settings

UNSUBSCRIBE = "https://t.example.com/u/" + "a" * 200  # a real token is about this long


def read_back(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


@pytest.fixture
def sender(monkeypatch):
    def use(value: str) -> None:
        monkeypatch.setenv("PARCOURS_EMAIL_FROM", value)
        settings.cache_clear()

    yield use
    settings.cache_clear()


def test_a_mail_client_reads_back_every_part_as_written(sender):
    sender("Équipe Été <news@shop.example>")
    subject = "Soldes d'été : -20 % pour vous, Zoë " + "🎉" * 40  # non-ASCII, longer than a folded line
    html = "<p>Bonjour Zoë, voici nos offres.</p>" + "<p>" + "x" * 300 + "</p>"
    text = "Bonjour Zoë,\n\nSe désinscrire : " + UNSUBSCRIBE
    raw = providers.build_email(format_address("Zoë Lopez", "zoe@example.com"), subject, html, text,
                                list_unsubscribe_headers(UNSUBSCRIBE)).as_bytes()

    assert raw.isascii()  # 7-bit clean: SES and every relay take it as is
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\nList-Unsubscribe: <" + UNSUBSCRIBE.encode() + b">\r\n" in raw  # on one line, as RFC 8058 wants
    message = read_back(raw)
    assert message["Subject"] == subject
    assert message["From"].addresses[0].display_name == "Équipe Été"
    assert message["From"].addresses[0].addr_spec == "news@shop.example"
    assert message["To"].addresses[0].display_name == "Zoë Lopez"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].endswith("@shop.example>")
    assert message.get_content_type() == "multipart/alternative"
    # lines end in CRLF on the wire, and read back so
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert message.get_body(("html",)).get_content() == html


@pytest.mark.parametrize("where", ["subject", "to", "header"])
def test_a_line_break_in_a_header_is_refused(where):
    values = {"to": "ana@example.com", "subject": "Hello", "header": UNSUBSCRIBE}
    values[where] += "\r\nBcc: thief@evil.example"
    with pytest.raises(ValueError, match="line break"):
        providers.build_email(values["to"], values["subject"], "<p>x</p>", "x",
                              {"List-Unsubscribe": f"<{values['header']}>"})


def test_an_address_header_outside_ascii_is_refused():
    with pytest.raises(ValueError, match="outside ASCII"):
        providers.build_email("Zoë <zoe@example.com>", "Hello", "<p>x</p>", "x", {})
