"""Contact fields: normalising and validating what the API, events and CSV imports write.

One set of rules everywhere, so a contact written by an event, by POST /contacts or by a
CSV import looks the same:

- email: validated by email-validator (syntax only, no DNS), then lowercased as a whole.
  Strictly the local part is case-sensitive, but no real mailbox provider treats it so,
  and the address is the default unique key: `Ana@Example.com` and `ana@example.com`
  must be one contact.
- phone: E.164 (`+33612345678`); the number must be valid for its country. Without a
  leading `+` (or `00`) a default region (`FR`) is needed to read it.
- birthday: ISO `YYYY-MM-DD`, or `--MM-DD` when the year is unknown (ISO 8601's form
  without year). `DD/MM/YYYY` (as French spreadsheets write it) is read too.
- timezone: an IANA name (`Europe/Paris`); language: a BCP 47 tag (`fr`, `fr-FR`).
- attributes: a flat object of custom fields (strings, numbers, booleans, null).

Normalisers raise FieldError with a plain message; `clean_traits` collects every problem
of a traits object, each with its JSON path.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from chalicelib import clock
from chalicelib.problems import Problem, join

BUILTIN_WRITABLE = frozenset(
    {"email", "phone", "external_id", "first_name", "last_name", "birthday", "timezone", "language"}
)
# Fields of a contact that exist but are computed or managed elsewhere: named in messages.
READ_ONLY = frozenset(
    {"id", "score", "stage", "activity_rank", "email_status", "consent", "lists", "created_at",
     "updated_at", "last_activity_at"}
)
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_ATTRIBUTES = 100
MAX_STRING = 2000
MAX_NAME = 200  # first_name, last_name, external_id

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")
_DMY = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")
_YMD = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MD = re.compile(r"^--(\d{2})-(\d{2})$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class FieldError(ValueError):
    """A field value that cannot be accepted; str(error) is a plain message for the user."""


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise FieldError(f"{what} must be a string")
    text = value.strip()
    if not text:
        raise FieldError(f"{what} is empty")
    return text


def normalize_email(value: Any) -> str:
    """The address, syntax-checked (no DNS lookup) and lowercased as a whole (see module doc)."""
    text = _text(value, "an email address")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as error:
        raise FieldError(f"{text!r} is not a valid email address: {error}") from None
    return result.normalized.lower()


def normalize_phone(value: Any, default_region: str | None = None) -> str:
    """The number in E.164 (`+33612345678`). `default_region` (ISO country, e.g. "FR") reads
    national numbers (`06 12 34 56 78`); without it the number must start with + or 00."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = _text(value, "a phone number")
    readable = "+" + text[2:] if default_region is None and text.startswith("00") else text
    try:  # without a region, 00 is read as the international prefix (everywhere but North America)
        number = phonenumbers.parse(readable, default_region)
    except phonenumbers.NumberParseException as error:
        if error.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise FieldError(
                f"{text!r} has no country code: write it as +33 6 12 34 56 78"
            ) from None
        raise FieldError(f"{text!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise FieldError(f"{text!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_birthday(value: Any) -> str:
    """`YYYY-MM-DD`, or `--MM-DD` for a birthday without year. Accepts those two forms and
    `DD/MM/YYYY` (also `D/M/YYYY` and dots). The date must exist, and lie between 1900 and today."""
    text = _text(value, "a birthday")
    if match := _MD.match(text):
        month, day = int(match[1]), int(match[2])
        try:
            date(2000, month, day)  # a leap year: --02-29 is a birthday
        except ValueError:
            raise FieldError(f"{text!r} is not a date: month {month}, day {day} does not exist") from None
        return f"--{month:02d}-{day:02d}"
    if match := _YMD.match(text):
        year, month, day = int(match[1]), int(match[2]), int(match[3])
    elif match := _DMY.match(text):
        day, month, year = int(match[1]), int(match[2]), int(match[3])
    else:
        raise FieldError(f"{text!r} is not a date: write YYYY-MM-DD, DD/MM/YYYY or --MM-DD")
    try:
        found = date(year, month, day)
    except ValueError:
        raise FieldError(f"{text!r} is not a date that exists") from None
    if found.year < 1900 or found > clock.now().date():
        raise FieldError(f"{text!r} is not a plausible birthday (from 1900 to today)")
    return found.isoformat()


def validate_timezone(value: Any) -> str:
    """An IANA time zone name such as Europe/Paris; returned as given (trimmed)."""
    text = _text(value, "a time zone")
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise FieldError(f"{text!r} is not a time zone: use an IANA name such as Europe/Paris") from None
    return text


def validate_language(value: Any) -> str:
    """A BCP 47 language tag, normalised: `fr`, `fr-FR`, `zh-Hant-TW` (`fr_fr` gives `fr-FR`)."""
    text = _text(value, "a language")
    if not _LANGUAGE.match(text) or len(text) > 35:
        raise FieldError(f"{text!r} is not a language tag such as fr or fr-FR")
    first, *rest = text.replace("_", "-").split("-")
    parts = [first.lower()]
    for part in rest:
        if len(part) == 2 and part.isalpha():
            parts.append(part.upper())  # region
        elif len(part) == 4 and part.isalpha():
            parts.append(part.title())  # script
        else:
            parts.append(part.lower())
    return "-".join(parts)


def _plain_text(value: Any, what: str, limit: int) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and what == "external_id":
        value = str(value)
    text = _text(value, what)
    if len(text) > limit:
        raise FieldError(f"longer than {limit} characters")
    if _CONTROL.search(text):
        raise FieldError("contains a line break or another control character")
    return text


def clean_field(name: str, value: Any, *, default_region: str | None = None) -> Any:
    """The normalised value of one built-in writable field; None (or a blank string) is None,
    which clears the field. Raises FieldError."""
    if name not in BUILTIN_WRITABLE:
        raise FieldError(f"{name} is not a writable contact field")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if name == "email":
        return normalize_email(value)
    if name == "phone":
        return normalize_phone(value, default_region)
    if name == "birthday":
        return parse_birthday(value)
    if name == "timezone":
        return validate_timezone(value)
    if name == "language":
        return validate_language(value)
    return _plain_text(value, name, MAX_NAME)


def check_attribute_name(name: Any) -> str:
    if not isinstance(name, str) or not ATTRIBUTE_NAME.match(name):
        raise FieldError(
            f"{name!r} is not an attribute name: a letter or _, then letters, digits or _, at most 64"
        )
    return name


def clean_attribute_value(value: Any) -> Any:
    """A custom attribute value: string (trimmed, at most 2,000 characters), finite number,
    boolean or None (None removes the attribute). ISO dates are kept as strings."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FieldError("a number must be finite")
        return value
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_STRING:
            raise FieldError(f"a text is at most {MAX_STRING} characters")
        return text
    if isinstance(value, Mapping | list | tuple):
        raise FieldError("attributes are flat: a value is a string, number, boolean or null, not an object or list")
    raise FieldError("a value is a string, number, boolean or null")


def clean_attributes(attributes: Any, path: str = "attributes") -> tuple[dict[str, Any], list[Problem]]:
    if not isinstance(attributes, Mapping):
        return {}, [Problem(path, "must be an object of custom fields")]
    cleaned: dict[str, Any] = {}
    problems: list[Problem] = []
    if len(attributes) > MAX_ATTRIBUTES:
        problems.append(Problem(path, f"at most {MAX_ATTRIBUTES} attributes"))
    for name, value in attributes.items():
        where = join(path, str(name))
        try:
            check_attribute_name(name)
        except FieldError as error:
            problems.append(Problem(where, str(error)))
            continue
        try:
            cleaned[name] = clean_attribute_value(value)
        except FieldError as error:
            problems.append(Problem(where, str(error)))
    return cleaned, problems


def clean_traits(
    traits: Any, path: str = "traits", *, default_region: str | None = None
) -> tuple[dict[str, Any], list[Problem]]:
    """Validate a traits object: built-in writable fields and `attributes`.

    Returns the normalised values (a key with None clears that field or removes that
    attribute; blank strings count as None) and every problem, with its path such as
    `traits.phone` or `traits.attributes.plan`. Only valid values are in the result; a
    caller refuses the whole object when problems is not empty.
    """
    if not isinstance(traits, Mapping):
        return {}, [Problem(path, "must be an object")]
    cleaned: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, value in traits.items():
        where = join(path, str(name))
        if name == "attributes":
            if value is None:
                continue
            attributes, found = clean_attributes(value, where)
            cleaned["attributes"] = attributes
            problems.extend(found)
        elif name in BUILTIN_WRITABLE:
            try:
                cleaned[name] = clean_field(name, value, default_region=default_region)
            except FieldError as error:
                problems.append(Problem(where, str(error)))
        elif name in READ_ONLY:
            problems.append(Problem(where, f"{name} cannot be written here"))
        else:
            problems.append(Problem(where, f"unknown field {name!r}: custom fields go in attributes"))
    return cleaned, problems


def clean_assignments(assignments: Mapping[str, Any], path: str) -> tuple[dict[str, Any], list[Problem]]:
    """Field paths to values (`first_name`, `attributes.plan`), as an update_contact step sets
    them, cleaned like traits."""
    traits: dict[str, Any] = {}
    for name, value in assignments.items():
        if name.startswith("attributes."):
            traits.setdefault("attributes", {})[name.split(".", 1)[1]] = value
        else:
            traits[name] = value
    return clean_traits(traits, path)
