"""Header values from contact data: no injection, proper encoding."""
from __future__ import annotations

import email
from email import policy

import pytest

from chalicelib.channels.headers import clean_header_value, format_address, list_unsubscribe_headers


def parse_address_header(value: str):
    message = email.message_from_string(f"To: {value}\r\nSubject: x\r\n\r\nbody", policy=policy.default)
    return message["To"].addresses, list(message.keys())


# --------------------------------------------------------------------------- clean values


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Hello\r\nBcc: evil@example.com", "Hello Bcc: evil@example.com"),
        ("Soldes\rd'été", "Soldes d'été"),
        ("a\nb", "a b"),
        ("a\x00b\x07c\x1bd\x7fe", "a b c d e"),
        ("  lots\t\tof   space  ", "lots of space"),
        ("line\u2028separator\u2029para\x85nel", "line separator para nel"),
        ("admin\u202egpj.exe", "admingpj.exe"),
        ("Promo 🎉 été", "Promo 🎉 été"),
        ("", ""),
        (None, ""),
    ],
)
def test_clean_header_value(value, expected):
    assert clean_header_value(value) == expected


def test_cleaned_values_hold_no_line_break_or_control_character():
    nasty = "".join(chr(code) for code in range(0, 0x20)) + "x\x7f\x85\u2028\u2029"
    cleaned = clean_header_value(nasty)
    assert cleaned == "x"


# ------------------------------------------------------------------------------ addresses


def test_address_without_name():
    assert format_address(None, "ana@example.com") == "ana@example.com"
    assert format_address("", "ana@example.com") == "ana@example.com"
    assert format_address("  \r\n ", "ana@example.com") == "ana@example.com"


def test_ascii_name():
    assert format_address("Ana Silva", "ana@example.com") == "Ana Silva <ana@example.com>"


def test_name_with_specials_is_quoted():
    value = format_address('Silva, Ana "the boss" <ceo>', "ana@example.com")
    addresses, _ = parse_address_header(value)
    assert len(addresses) == 1
    assert addresses[0].display_name == 'Silva, Ana "the boss" <ceo>'
    assert addresses[0].addr_spec == "ana@example.com"


@pytest.mark.parametrize("name", ["Ana Müller", "Zoë", "Élodie d'Artagnan", "日本語 の 名前", "🎉 Promo"])
def test_non_ascii_name_is_rfc2047_encoded(name):
    value = format_address(name, "ana@example.com")
    assert value.isascii()
    assert "=?utf-8?" in value
    addresses, _ = parse_address_header(value)
    assert addresses[0].display_name == name
    assert addresses[0].addr_spec == "ana@example.com"


def test_long_non_ascii_name_stays_on_one_line():
    name = "Zoë Émilie " * 10
    value = format_address(name, "zoe@example.com")
    assert "\r" not in value and "\n" not in value
    addresses, _ = parse_address_header(value)
    assert addresses[0].display_name == name.strip()
    # absurdly long names are cut
    value = format_address("Zoë " * 100, "zoe@example.com")
    addresses, _ = parse_address_header(value)
    assert len(addresses[0].display_name) <= 128


@pytest.mark.parametrize(
    "name",
    ["Ana\r\nBcc: evil@example.com", "Ana\nSubject: win", "Ana\rX-Spam: no", "Ana\x00", "Éva\r\nBcc: e@example.com"],
)
def test_injection_through_the_name_is_neutralised(name):
    value = format_address(name, "ana@example.com")
    assert "\r" not in value and "\n" not in value and "\x00" not in value
    addresses, keys = parse_address_header(value)
    assert [a.addr_spec for a in addresses] == ["ana@example.com"]
    assert keys == ["To", "Subject"]


@pytest.mark.parametrize(
    "address",
    [
        "ana@example.com\r\nBcc: evil@example.com",
        "ana@example.com\nBcc: evil@example.com",
        "ana@example.com>, evil@example.com",
        "ana@example.com, evil@example.com",
        "Ana <ana@example.com>",
        "<ana@example.com>",
        '"ana@x"@example.com',
        "ana@[192.0.2.1]",
        "ana (comment)@example.com",
        "an a@example.com",
        "ana@example.com\x00",
        "ana..silva@example.com",
        ".ana@example.com",
        "ana@",
        "@example.com",
        "ana",
        "ana@-example.com",
        "ana@example..com",
        "añá@example.com",
        "",
        "a" * 250 + "@example.com",
    ],
)
def test_bad_addresses_are_refused(address):
    with pytest.raises(ValueError):
        format_address("Ana", address)


def test_address_forms_accepted():
    assert format_address(None, " ana.silva+promo@mail.example.co.uk ") == "ana.silva+promo@mail.example.co.uk"
    assert format_address(None, "o'brien@example.com") == "o'brien@example.com"


def test_internationalised_domain_becomes_punycode():
    assert format_address(None, "ana@exämple.com") == "ana@xn--exmple-cua.com"


# ---------------------------------------------------------------------- List-Unsubscribe


def test_list_unsubscribe_one_click():
    assert list_unsubscribe_headers("https://t.example.com/u/TOKEN") == {
        "List-Unsubscribe": "<https://t.example.com/u/TOKEN>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_list_unsubscribe_with_mailto():
    headers = list_unsubscribe_headers("https://t.example.com/u/TOKEN", "unsubscribe@example.com")
    assert headers["List-Unsubscribe"] == "<https://t.example.com/u/TOKEN>, <mailto:unsubscribe@example.com>"
    headers = list_unsubscribe_headers("https://t.example.com/u/T", "mailto:u@example.com?subject=unsubscribe")
    assert headers["List-Unsubscribe"] == "<https://t.example.com/u/T>, <mailto:u@example.com?subject=unsubscribe>"


def test_list_unsubscribe_accepts_http_for_local_stacks():
    assert list_unsubscribe_headers("http://localhost:8000/u/T")["List-Unsubscribe"] == "<http://localhost:8000/u/T>"


@pytest.mark.parametrize(
    ("url", "mailto"),
    [
        ("https://t.example.com/u/T\r\nBcc: evil@example.com", None),
        ("https://t.example.com/u/T>, <https://evil.example.com", None),
        ("https://t.example.com/u/T", "u@example.com>\r\nBcc: evil@example.com"),
        ("https://t.example.com/u/T", "u@example.com>, <https://evil.example.com"),
        ("javascript:alert(1)", None),
        ("mailto:u@example.com", None),
        ("", None),
        ("https://t.example.com/u/é", None),
    ],
)
def test_list_unsubscribe_refuses_injection(url, mailto):
    with pytest.raises(ValueError):
        list_unsubscribe_headers(url, mailto)
