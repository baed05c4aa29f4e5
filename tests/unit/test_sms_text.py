"""SMS encoding, length and segment counts."""
from __future__ import annotations

import dataclasses
import json

import pytest

from chalicelib.channels.sms_text import SmsLength, is_gsm7, segments


@pytest.mark.parametrize(
    ("length", "expected"),
    [(1, 1), (159, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm7_boundaries(length, expected):
    result = segments("a" * length)
    assert result.encoding == "GSM-7"
    assert result.characters == length
    assert result.segments == expected


@pytest.mark.parametrize(
    ("length", "expected"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_ucs2_boundaries(length, expected):
    result = segments("ç" + "a" * (length - 1))
    assert result.encoding == "UCS-2"
    assert result.characters == length
    assert result.segments == expected


def test_empty_text():
    result = segments("")
    assert (result.encoding, result.characters, result.segments) == ("GSM-7", 0, 0)


def test_per_segment_and_remaining():
    single = segments("a" * 150)
    assert (single.per_segment, single.remaining) == (160, 10)
    multi = segments("a" * 200)
    assert (multi.per_segment, multi.remaining) == (153, 153 - 47)
    unicode = segments("ç" * 10)
    assert (unicode.per_segment, unicode.remaining) == (70, 60)


def test_euro_and_extension_characters_count_double():
    assert segments("€").characters == 2
    assert segments("€" * 80).segments == 1
    assert segments("€" * 81).segments == 2
    assert segments("a" * 159 + "€").characters == 161
    assert segments("a" * 159 + "€").segments == 2
    for char in "€[]{}^~|\\\f":
        result = segments(char)
        assert (result.encoding, result.characters) == ("GSM-7", 2), char


def test_an_escape_pair_is_not_split_across_parts():
    # 152 + 2 + 152 = 306 septets would fit in 2 x 153, but the € cannot straddle parts.
    result = segments("a" * 152 + "€" + "a" * 152)
    assert result.characters == 306
    assert result.segments == 3


def test_french_accents_are_gsm7():
    text = "Bientôt les soldes : -50 % sur tout, à partir de 9h ! é è ù ì ò à É Ç Ø Å Æ ß ä ö ñ ü"
    text = text.replace("ô", "o")  # ô is not GSM
    result = segments(text)
    assert result.encoding == "GSM-7"
    assert is_gsm7(text)


@pytest.mark.parametrize("char", ["ç", "ô", "’", "“", "—", "ω", "\u0303", "日", "😀"])
def test_other_characters_force_ucs2(char):
    result = segments("Bonjour " + char)
    assert result.encoding == "UCS-2"
    assert char[0] in result.non_gsm
    assert not is_gsm7("Bonjour " + char)


def test_non_gsm_lists_each_offending_character_once_in_order():
    assert segments("ç’ç’ô").non_gsm == ("ç", "’", "ô")
    assert segments("plain").non_gsm == ()


def test_emoji_count_two_units():
    assert segments("😀").characters == 2
    assert segments("😀" * 35).segments == 1
    assert segments("😀" * 36).segments == 2
    # 66 + 2 would overflow a 67-unit part: the surrogate pair moves to the next part.
    result = segments("ç" + "a" * 65 + "😀" + "a" * 60)
    assert result.characters == 128
    assert result.segments == 2
    result = segments("ç" + "a" * 65 + "😀" + "a" * 66)
    assert result.characters == 134
    assert result.segments == 3


def test_newlines_count_one():
    assert segments("a\nb").characters == 3
    assert segments("a\r\nb").characters == 4


def test_as_dict_is_json_ready_and_the_result_frozen():
    result = segments("Hello €")
    data = result.as_dict()
    assert data == {
        "encoding": "GSM-7",
        "characters": 8,
        "segments": 1,
        "per_segment": 160,
        "remaining": 152,
        "non_gsm": [],
    }
    json.dumps(data)
    assert isinstance(result, SmsLength)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.segments = 5  # type: ignore[misc]
