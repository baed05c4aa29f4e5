from __future__ import annotations

import pytest

from chalicelib.contacts.fields import (
    MAX_ATTRIBUTES,
    FieldError,
    clean_field,
    clean_traits,
    normalize_email,
    normalize_phone,
    parse_birthday,
    validate_language,
    validate_timezone,
)


def paths(problems):
    return [problem.path for problem in problems]


# --- email ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["ana@example.com", "Ana@Example.COM", "  ANA@EXAMPLE.COM  "])
def test_email_is_lowercased_as_a_whole_so_case_variants_are_one_contact(raw):
    assert normalize_email(raw) == "ana@example.com"


@pytest.mark.parametrize("raw", ["ana", "ana@", "ana@example", "ana @example.com", "Ana <ana@example.com>", "", "  "])
def test_invalid_email_raises_field_error_with_a_plain_message(raw):
    with pytest.raises(FieldError) as caught:
        normalize_email(raw)
    assert str(caught.value)


def test_email_must_be_a_string():
    with pytest.raises(FieldError):
        normalize_email(42)


def test_email_with_accented_local_part_is_kept():
    assert normalize_email("Élodie@Exemple.fr") == "élodie@exemple.fr"


# --- phone ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["+33 6 12 34 56 78", "+33612345678", "0033 6 12 34 56 78", "+33 (0)6 12 34 56 78"])
def test_international_phone_numbers_become_e164(raw):
    assert normalize_phone(raw) == "+33612345678"


@pytest.mark.parametrize("raw", ["06 12 34 56 78", "06.12.34.56.78", "0612345678", "612345678"])
def test_national_numbers_are_read_with_a_default_region(raw):
    assert normalize_phone(raw, "FR") == "+33612345678"


def test_national_number_without_region_asks_for_the_country_code():
    with pytest.raises(FieldError, match="country code"):
        normalize_phone("06 12 34 56 78")


@pytest.mark.parametrize("raw", ["+33 6 12", "abc", "+33 1", "123"])
def test_invalid_phone_numbers_are_refused(raw):
    with pytest.raises(FieldError):
        normalize_phone(raw, "FR")


def test_other_countries_are_kept_in_their_own_code():
    assert normalize_phone("+1 650 253 0000", "FR") == "+16502530000"


# --- birthday ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1990-04-17", "1990-04-17"),
        ("17/04/1990", "1990-04-17"),
        ("7/4/1990", "1990-04-07"),
        ("07.04.1990", "1990-04-07"),
        ("--04-17", "--04-17"),
        ("--02-29", "--02-29"),
        ("29/02/2000", "2000-02-29"),
    ],
)
def test_birthday_formats(raw, expected):
    assert parse_birthday(raw) == expected


@pytest.mark.parametrize("raw", ["31/02/1990", "1990-13-01", "--02-30", "04/17/1990", "17/04/90", "1850-01-01",
                                 "2999-01-01", "yesterday", "1990/04/17"])
def test_impossible_or_ambiguous_birthdays_are_refused(raw):
    with pytest.raises(FieldError):
        parse_birthday(raw)


# --- timezone and language -----------------------------------------------------------


def test_timezone_accepts_iana_names():
    assert validate_timezone("Europe/Paris") == "Europe/Paris"
    assert validate_timezone(" UTC ") == "UTC"


@pytest.mark.parametrize("raw", ["Paris", "Europe/Nowhere", "../etc/passwd", "", "CET+1"])
def test_timezone_refuses_unknown_names(raw):
    with pytest.raises(FieldError):
        validate_timezone(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("fr", "fr"), ("FR", "fr"), ("fr-fr", "fr-FR"), ("fr_FR", "fr-FR"), ("zh-hant-tw", "zh-Hant-TW")],
)
def test_language_tags_are_normalised(raw, expected):
    assert validate_language(raw) == expected


@pytest.mark.parametrize("raw", ["french", "f", "fr-", "fr FR", "12", ""])
def test_language_refuses_what_is_not_a_tag(raw):
    with pytest.raises(FieldError):
        validate_language(raw)


# --- clean_field and clean_traits ----------------------------------------------------


def test_clean_field_blank_or_none_clears():
    assert clean_field("first_name", None) is None
    assert clean_field("first_name", "   ") is None


def test_clean_field_trims_names_and_refuses_line_breaks():
    assert clean_field("first_name", "  Anaïs ") == "Anaïs"
    with pytest.raises(FieldError):
        clean_field("last_name", "Du\npont")


def test_external_id_accepts_a_number():
    assert clean_field("external_id", 12345) == "12345"


def test_clean_traits_normalises_every_builtin_and_attributes():
    cleaned, problems = clean_traits(
        {
            "email": "Ana@Example.com",
            "phone": "06 12 34 56 78",
            "first_name": " Ana ",
            "last_name": None,
            "birthday": "17/04/1990",
            "timezone": "Europe/Paris",
            "language": "fr-fr",
            "external_id": "crm-9",
            "attributes": {"plan": "pro", "seats": 3, "ratio": 0.5, "vip": True, "old": None,
                           "renews_at": "2026-12-01"},
        },
        default_region="FR",
    )
    assert problems == []
    assert cleaned == {
        "email": "ana@example.com",
        "phone": "+33612345678",
        "first_name": "Ana",
        "last_name": None,
        "birthday": "1990-04-17",
        "timezone": "Europe/Paris",
        "language": "fr-FR",
        "external_id": "crm-9",
        "attributes": {"plan": "pro", "seats": 3, "ratio": 0.5, "vip": True, "old": None,
                       "renews_at": "2026-12-01"},
    }


def test_clean_traits_reports_every_problem_with_its_path():
    cleaned, problems = clean_traits(
        {
            "email": "not-an-email",
            "phone": "+33 6 12",
            "score": 10,
            "favourite_colour": "blue",
            "attributes": {"ok": 1, "1bad": 2, "nested": {"a": 1}, "items": [1], "nan": float("nan"),
                           "long": "x" * 2001},
        },
        path="contact.traits",
    )
    assert sorted(paths(problems)) == sorted([
        "contact.traits.email",
        "contact.traits.phone",
        "contact.traits.score",
        "contact.traits.favourite_colour",
        "contact.traits.attributes.1bad",
        "contact.traits.attributes.nested",
        "contact.traits.attributes.items",
        "contact.traits.attributes.nan",
        "contact.traits.attributes.long",
    ])
    assert cleaned == {"attributes": {"ok": 1}}
    assert all(problem.message for problem in problems)


def test_clean_traits_refuses_a_non_object_and_non_object_attributes():
    assert paths(clean_traits(["email"])[1]) == ["traits"]
    assert paths(clean_traits({"attributes": "plan=pro"})[1]) == ["traits.attributes"]


def test_attribute_limits():
    many = {f"a{index}": index for index in range(MAX_ATTRIBUTES + 1)}
    assert paths(clean_traits({"attributes": many})[1]) == ["traits.attributes"]
    longest_name = "a" * 64
    cleaned, problems = clean_traits({"attributes": {longest_name: "x" * 2000, "b" * 65: 1}})
    assert paths(problems) == ["traits.attributes." + "b" * 65]
    assert cleaned["attributes"] == {longest_name: "x" * 2000}
