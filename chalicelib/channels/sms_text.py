"""SMS length: encoding, characters and number of segments (what the operator bills).

A text made only of GSM 03.38 characters goes as GSM-7: 160 septets in a single
message, 153 per part when concatenated; the extension characters (€ [ ] { } ^ ~ | \\
and form feed) take two septets. Any other character switches the whole message to
UCS-2: 70 UTF-16 code units in a single message, 67 per part; characters outside the
Basic Multilingual Plane (most emoji) take two units. An escape pair or a surrogate
pair is never split across two parts, as phones do.

The count is strict: lower-case 'ç', curly quotes and the like are not GSM and force
UCS-2; `non_gsm` lists them so a marketer can see why a message got expensive.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

GSM7 = "GSM-7"
UCS2 = "UCS-2"

_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

_LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # "GSM-7" or "UCS-2"
    characters: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int  # 0 for an empty text
    per_segment: int  # capacity of one segment for this text: 160, 153, 70 or 67
    remaining: int  # units still free in the last segment
    non_gsm: tuple[str, ...] = ()  # the characters that forced UCS-2, first occurrence order

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["non_gsm"] = list(self.non_gsm)
        return data


def is_gsm7(text: str) -> bool:
    return all(char in _GSM_BASIC or char in _GSM_EXTENSION for char in text)


def segments(text: str) -> SmsLength:
    """Encoding, length and number of segments of an SMS text."""
    non_gsm = tuple(dict.fromkeys(char for char in text if char not in _GSM_BASIC and char not in _GSM_EXTENSION))
    if non_gsm:
        encoding = UCS2
        units = [2 if ord(char) > 0xFFFF else 1 for char in text]
    else:
        encoding = GSM7
        units = [2 if char in _GSM_EXTENSION else 1 for char in text]
    single, multi = _LIMITS[encoding]
    total = sum(units)
    if total == 0:
        return SmsLength(encoding, 0, 0, single, single, non_gsm)
    if total <= single:
        return SmsLength(encoding, total, 1, single, single - total, non_gsm)
    count, fill = 1, 0
    for unit in units:
        if fill + unit > multi:
            count += 1
            fill = 0
        fill += unit
    return SmsLength(encoding, total, count, multi, multi - fill, non_gsm)
