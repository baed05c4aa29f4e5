from __future__ import annotations

import codecs

import pytest

from chalicelib.imports.csv_parse import (
    ImportFileError,
    ParsedImport,
    Refusal,
    Row,
    decode,
    parse_bounces,
    parse_contacts,
    parse_unsubscribes,
    sniff_dialect,
    split,
)


def csv_text(*lines: str, end: str = "\n") -> str:
    return end.join(lines) + end


def by_line(parsed: ParsedImport) -> dict[int, Row | Refusal]:
    outcomes = parsed.outcomes()
    assert len({outcome.line for outcome in outcomes}) == len(outcomes), "one outcome per line"
    return {outcome.line: outcome for outcome in outcomes}


def assert_every_line_accounted(parsed: ParsedImport, text: str, header_line: int = 1) -> None:
    """Every line after the header is a row, a refusal or a blank line: nothing silently dropped."""
    total = len(text.splitlines())
    seen = [outcome.line for outcome in parsed.outcomes()] + parsed.blank_lines
    assert sorted(seen) == list(range(header_line + 1, total + 1))


# --- decode --------------------------------------------------------------------------


def test_decode_utf8_with_bom_strips_the_bom():
    body = codecs.BOM_UTF8 + "email;prénom\nana@example.com;Anaïs\n".encode()
    text = decode(body)
    assert text.startswith("email;")
    assert "Anaïs" in text


def test_decode_plain_utf8():
    assert decode("é€".encode()) == "é€"


def test_decode_falls_back_to_windows_1252_for_french_spreadsheet_exports():
    body = "nom;ville\nDupré;Besançon\nŒuvre;Prix 5€\n".encode("cp1252")
    assert decode(body) == "nom;ville\nDupré;Besançon\nŒuvre;Prix 5€\n"


def test_decode_latin1_bytes():
    assert decode("Müller;Noël".encode("latin-1")) == "Müller;Noël"


def test_decode_utf16_with_bom_as_excel_unicode_text():
    assert decode("email\tnom\r\n".encode("utf-16")) == "email\tnom\r\n"


def test_decode_with_a_given_encoding():
    assert decode("Dupré".encode("latin-1"), "latin-1") == "Dupré"
    assert decode(codecs.BOM_UTF8 + b"email", "utf-8") == "email"


def test_decode_given_utf8_but_not_utf8_names_the_line():
    body = "email\nana@example.com\nDupré\n".encode("cp1252")
    with pytest.raises(ImportFileError, match="line 3"):
        decode(body, "utf-8")


def test_decode_refuses_bytes_neither_utf8_nor_cp1252():
    with pytest.raises(ImportFileError, match="0x81"):
        decode(b"email\n\x81\xe9\n")


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"", "empty"), (b"PK\x03\x04rest-of-zip", "xlsx"), (b"a\x00b", "NUL")],
)
def test_decode_refuses_empty_binary_and_workbooks(body, message):
    with pytest.raises(ImportFileError, match=message):
        decode(body)


def test_decode_refuses_unknown_encoding():
    with pytest.raises(ImportFileError, match="unknown encoding"):
        decode(b"email", "klingon-8")


# --- dialect -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("email,first_name\na@x.fr,Ana\n", ","),
        ("email;first_name\na@x.fr;Ana\n", ";"),
        ("email\tfirst_name\na@x.fr\tAna\n", "\t"),
        ("email;nom\na@x.fr;Dupont, Jean\nb@x.fr;Martin, Paul\n", ";"),
        ('"email;x",nom\n"a@x.fr;y",Dupont\n', ","),
        ("email\na@x.fr\n", ","),
        ("sep=;\nemail;nom\n", ";"),
    ],
)
def test_sniff_dialect(text, delimiter):
    assert sniff_dialect(text).delimiter == delimiter


def test_sniff_dialect_with_both_delimiters_in_the_header_uses_the_sniffer_or_the_most_frequent():
    text = "email;first_name;last_name,suffix\na@x.fr;Ana;Dupont,Jr\nb@x.fr;Bo;Martin,Sr\n"
    assert sniff_dialect(text).delimiter == ";"


def test_sniff_dialect_given_delimiter_wins():
    assert sniff_dialect("a;b,c\n", ",").delimiter == ","
    assert sniff_dialect("a;b\n", "tab").delimiter == "\t"
    with pytest.raises(ImportFileError):
        sniff_dialect("a;b\n", "#")


def test_sniff_dialect_needs_a_header():
    with pytest.raises(ImportFileError, match="header"):
        sniff_dialect("\n\n  \n")


# --- contacts: encodings and accents -------------------------------------------------


def test_latin1_semicolon_file_with_accents_end_to_end():
    body = csv_text(
        "Courriel;Prénom;Nom;Téléphone;Date de naissance;Langue;attributes.ville",
        "anais.dupre@exemple.fr;Anaïs;Dupré;06 12 34 56 78;17/04/1990;fr;Besançon",
        "noel@exemple.fr;Noël;Müller;+49 30 901820;--12-25;de-de;Zürich",
        end="\r\n",
    ).encode("cp1252")
    parsed = parse_contacts(decode(body), default_region="FR")
    assert parsed.delimiter == ";"
    assert parsed.refusals == []
    assert parsed.columns == {
        "Courriel": "email", "Prénom": "first_name", "Nom": "last_name", "Téléphone": "phone",
        "Date de naissance": "birthday", "Langue": "language", "attributes.ville": "attributes.ville",
    }
    first, second = parsed.rows
    assert first == Row(
        line=2,
        values={"email": "anais.dupre@exemple.fr", "first_name": "Anaïs", "last_name": "Dupré",
                "phone": "+33612345678", "birthday": "1990-04-17", "language": "fr"},
        attributes={"ville": "Besançon"},
        consent={},
        cleared=set(),
    )
    assert second.line == 3
    assert second.values["phone"] == "+4930901820"
    assert second.values["birthday"] == "--12-25"
    assert second.values["language"] == "de-DE"
    assert second.attributes == {"ville": "Zürich"}


def test_utf8_bom_file_header_is_not_polluted_by_the_bom():
    body = codecs.BOM_UTF8 + csv_text("email,first_name", "Ana@Example.com,Ana").encode()
    parsed = parse_contacts(decode(body))
    assert parsed.columns == {"email": "email", "first_name": "first_name"}
    assert parsed.rows[0].values == {"email": "ana@example.com", "first_name": "Ana"}


def test_bom_left_in_text_is_ignored_in_the_header():
    parsed = parse_contacts("\ufeffemail\nana@example.com\n")
    assert parsed.columns == {"email": "email"}


# --- contacts: column mapping --------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("E-mail", "email"), ("MAIL", "email"), ("courriel", "email"), ("Email Address", "email"),
        ("Telephone", "phone"), ("téléphone", "phone"), ("Mobile", "phone"), ("SMS", "phone"),
        ("FirstName", "first_name"), ("Prénom", "first_name"), ("prenom", "first_name"),
        ("LastName", "last_name"), ("NOM", "last_name"),
        ("date_of_birth", "birthday"), ("Date de naissance", "birthday"), ("Birthday", "birthday"),
        ("ID", "external_id"), ("external_id", "external_id"),
        ("TimeZone", "timezone"), ("langue", "language"), ("Language", "language"),
        ("consent_email", "consent.email"), ("OPTIN_EMAIL", "consent.email"), ("email_consent", "consent.email"),
        ("consent_sms", "consent.sms"), ("optin_sms", "consent.sms"),
        ("attributes.plan", "attributes.plan"), ("attribute:Plan_2", "attributes.Plan_2"),
    ],
)
def test_column_aliases_are_case_and_accent_insensitive(header, field):
    key = "external_id" if field == "email" else "email"
    key_header = "id" if key == "external_id" else "email"
    parsed = parse_contacts(f"{key_header},{header}\nk@x.fr,\n", unique_key=key)
    assert parsed.columns[header] == field


def test_unknown_columns_are_a_file_error_listing_each_one():
    with pytest.raises(ImportFileError) as caught:
        parse_contacts("email;plan;ville\na@x.fr;pro;Paris\n")
    error = caught.value
    assert "plan" in error.message and "ville" in error.message
    assert [problem.path for problem in error.details] == ["header[1]", "header[2]"]
    assert "column B" in error.details[0].message
    assert "attributes.NAME" in error.details[0].message


def test_invalid_attribute_column_name_is_a_file_error():
    with pytest.raises(ImportFileError, match="attribute name"):
        parse_contacts("email;attributes.2nd plan\na@x.fr;x\n")


def test_two_columns_for_one_field_is_a_file_error():
    with pytest.raises(ImportFileError, match="both give email"):
        parse_contacts("email;courriel\na@x.fr;b@x.fr\n")


def test_missing_unique_key_column_is_a_file_error():
    with pytest.raises(ImportFileError, match="no email column"):
        parse_contacts("first_name;phone\nAna;+33612345678\n")
    with pytest.raises(ImportFileError, match="no phone column"):
        parse_contacts("email\na@x.fr\n", unique_key="phone")


def test_unnamed_column_in_the_middle_is_a_file_error():
    with pytest.raises(ImportFileError, match="column B has no name"):
        parse_contacts("email;;first_name\na@x.fr;;Ana\n")


def test_header_that_is_data_is_a_file_error():
    with pytest.raises(ImportFileError, match="header row"):
        parse_contacts("ana@example.com;Ana\nbob@example.com;Bob\n")


def test_malformed_header_is_a_file_error():
    with pytest.raises(ImportFileError, match="line 1"):
        parse_contacts('email;"first_name\na@x.fr;Ana\n')


def test_unique_key_must_be_known():
    with pytest.raises(ValueError):
        parse_contacts("email\na@x.fr\n", unique_key="first_name")


# --- contacts: per-line outcomes -----------------------------------------------------


def test_bad_emails_and_phones_are_refused_with_their_line_numbers_and_reasons():
    text = csv_text(
        "email;phone;first_name",
        "ana@example.com;+33612345678;Ana",
        "not-an-email;+33612345678;Bob",
        "carl@example.com;06 12;Carl",
        "dora@;12;Dora",
        "eve@example.com;+33 6 98 76 54 32;Eve",
    )
    parsed = parse_contacts(text)
    outcomes = by_line(parsed)
    assert isinstance(outcomes[2], Row)
    assert isinstance(outcomes[3], Refusal) and outcomes[3].reason.startswith("email:")
    assert isinstance(outcomes[4], Refusal) and outcomes[4].reason.startswith("phone:")
    assert "06 12" in outcomes[4].reason
    both = outcomes[5]
    assert isinstance(both, Refusal) and "email:" in both.reason and "phone:" in both.reason
    assert isinstance(outcomes[6], Row)
    assert [row.line for row in parsed.rows] == [2, 6]
    assert_every_line_accounted(parsed, text)


def test_phone_default_region_reads_national_numbers():
    parsed = parse_contacts("email;mobile\na@x.fr;06 12 34 56 78\n", default_region="FR")
    assert parsed.rows[0].values["phone"] == "+33612345678"
    refused = parse_contacts("email;mobile\na@x.fr;06 12 34 56 78\n")
    assert "country code" in refused.refusals[0].reason


def test_duplicate_unique_keys_last_line_wins_and_earlier_ones_are_refused():
    text = csv_text(
        "email;first_name",
        "ana@example.com;Ana",
        "bob@example.com;Bob",
        "ANA@example.com;Anaïs",
        "bob@example.com;Robert",
        "ana@example.com;Ana-Maria",
    )
    parsed = parse_contacts(text)
    assert [(row.line, row.values["first_name"]) for row in parsed.rows] == [(5, "Robert"), (6, "Ana-Maria")]
    assert parsed.refusals == [
        Refusal(2, "duplicate of line 6 (email ana@example.com): the last line wins"),
        Refusal(3, "duplicate of line 5 (email bob@example.com): the last line wins"),
        Refusal(4, "duplicate of line 6 (email ana@example.com): the last line wins"),
    ]
    assert_every_line_accounted(parsed, text)


def test_a_refused_later_duplicate_does_not_displace_the_valid_line():
    parsed = parse_contacts("email;phone\na@x.fr;+33612345678\na@x.fr;bad\n")
    assert [row.line for row in parsed.rows] == [2]
    assert [refusal.line for refusal in parsed.refusals] == [3]


def test_duplicates_on_another_unique_key():
    parsed = parse_contacts("id;email\ncrm-1;a@x.fr\ncrm-1;b@x.fr\n", unique_key="external_id")
    assert [row.values["email"] for row in parsed.rows] == ["b@x.fr"]
    assert "duplicate of line 3" in parsed.refusals[0].reason


def test_empty_cells_clear_their_fields():
    text = csv_text(
        "email;first_name;last_name;phone;attributes.plan;consent_email",
        "ana@example.com;;Dupré;  ;;",
    )
    row = parse_contacts(text).rows[0]
    assert row.values == {"email": "ana@example.com", "last_name": "Dupré"}
    assert row.cleared == {"first_name", "phone", "attributes.plan"}
    assert row.consent == {}  # an empty consent cell changes nothing
    assert row.attributes == {}


def test_empty_unique_key_cell_refuses_the_line():
    parsed = parse_contacts("email;first_name\n;Ana\n")
    assert parsed.rows == []
    assert parsed.refusals[0].line == 2 and "unique key" in parsed.refusals[0].reason


@pytest.mark.parametrize(
    ("cell", "granted"),
    [("Yes", True), ("yes", True), ("Oui", True), ("OUI", True), ("1", True), ("true", True), ("TRUE", True),
     ("No", False), ("non", False), ("0", False), ("false", False), ("False", False)],
)
def test_consent_values(cell, granted):
    row = parse_contacts(f"email;consent_email;optin_sms\na@x.fr;{cell};{cell}\n").rows[0]
    assert row.consent == {"email": granted, "sms": granted}


def test_invalid_consent_value_refuses_the_line():
    parsed = parse_contacts("email;consent_email\na@x.fr;maybe\n")
    assert parsed.refusals[0].line == 2 and "consent_email" in parsed.refusals[0].reason


def test_attribute_values_stay_strings_and_keep_leading_zeros():
    row = parse_contacts("email;attribute:zip;attributes.seats\na@x.fr;01200;12\n").rows[0]
    assert row.attributes == {"zip": "01200", "seats": "12"}


def test_attribute_value_too_long_is_refused():
    parsed = parse_contacts("email;attributes.note\na@x.fr;" + "x" * 2001 + "\n")
    assert parsed.refusals[0].line == 2 and "2000" in parsed.refusals[0].reason


def test_invalid_birthday_timezone_language_are_refused():
    text = csv_text(
        "email;birthday;timezone;language",
        "a@x.fr;31/02/1990;Europe/Paris;fr",
        "b@x.fr;1990-01-01;Mars/Olympus;fr",
        "c@x.fr;1990-01-01;UTC;français",
        "d@x.fr;01/02/1990;America/New_York;en-US",
    )
    outcomes = by_line(parse_contacts(text))
    assert "birthday" in outcomes[2].reason
    assert "timezone" in outcomes[3].reason
    assert "language" in outcomes[4].reason
    assert outcomes[5].values["birthday"] == "1990-02-01"


def test_ragged_lines_are_refused_with_the_cell_counts():
    text = csv_text(
        "email;first_name;last_name",
        "a@x.fr;Ana",
        "b@x.fr;Bob;Martin;extra",
        "c@x.fr;Carl;Dupont;;",
        "d@x.fr;Dora;Durand",
    )
    parsed = parse_contacts(text)
    outcomes = by_line(parsed)
    assert outcomes[2] == Refusal(2, "2 cells where the header has 3")
    assert outcomes[3] == Refusal(3, "4 cells where the header has 3")
    assert isinstance(outcomes[4], Row)  # trailing empty cells, as spreadsheets add them, are fine
    assert isinstance(outcomes[5], Row)
    assert_every_line_accounted(parsed, text)


def test_unclosed_quote_refuses_its_line_only_and_parsing_resumes():
    text = csv_text(
        "email;first_name",
        "a@x.fr;Ana",
        'b@x.fr;"Bob',
        "c@x.fr;Carl",
        "d@x.fr;Dora",
    )
    parsed = parse_contacts(text)
    outcomes = by_line(parsed)
    assert isinstance(outcomes[3], Refusal) and "quote" in outcomes[3].reason
    assert [row.line for row in parsed.rows] == [2, 4, 5]
    assert_every_line_accounted(parsed, text)


def test_stray_quotes_pairing_across_lines_do_not_swallow_lines():
    text = csv_text(
        "email;first_name",
        'a@x.fr;"Ana',
        "b@x.fr;Bob",
        'c@x.fr;Carl"',
        "d@x.fr;Dora",
    )
    parsed = parse_contacts(text)
    assert_every_line_accounted(parsed, text)
    outcomes = by_line(parsed)
    assert isinstance(outcomes[2], Refusal)
    assert isinstance(outcomes[3], Row) and isinstance(outcomes[5], Row)


def test_text_after_a_closing_quote_is_refused():
    parsed = parse_contacts('email;first_name\na@x.fr;"Ana"bella\nb@x.fr;Bob\n')
    assert parsed.refusals[0].line == 2 and "closing quote" in parsed.refusals[0].reason
    assert [row.line for row in parsed.rows] == [3]


def test_quoted_cells_with_delimiters_and_doubled_quotes():
    row = parse_contacts('email;last_name;attributes.note\na@x.fr;"Dupont; fils";"dit ""le grand"""\n').rows[0]
    assert row.values["last_name"] == "Dupont; fils"
    assert row.attributes == {"note": 'dit "le grand"'}


def test_a_quoted_multiline_cell_is_one_record_reported_at_its_first_line():
    text = 'email;attributes.address\na@x.fr;"1 rue Haute\n75001 Paris"\nb@x.fr;ici\n'
    parsed = parse_contacts(text)
    assert [row.line for row in parsed.rows] == [2, 4]
    assert parsed.rows[0].attributes == {"address": "1 rue Haute\n75001 Paris"}


def test_blank_lines_are_reported_not_refused():
    text = csv_text("email;first_name", "a@x.fr;Ana", "", ";", "b@x.fr;Bob", "   ")
    parsed = parse_contacts(text)
    assert [row.line for row in parsed.rows] == [2, 5]
    assert parsed.blank_lines == [3, 4, 6]
    assert parsed.refusals == []
    assert_every_line_accounted(parsed, text)


def test_crlf_and_excel_sep_line_keep_spreadsheet_line_numbers():
    text = csv_text("sep=,", "email,first_name", "bad,Ana", "b@x.fr,Bob", end="\r\n")
    parsed = parse_contacts(text)
    assert parsed.delimiter == ","
    assert parsed.refusals[0].line == 3
    assert parsed.rows[0].line == 4


def test_explicit_delimiter():
    parsed = parse_contacts("email|first_name\na@x.fr|Ana\n", delimiter="|")
    assert parsed.rows[0].values == {"email": "a@x.fr", "first_name": "Ana"}


def test_header_only_file_has_no_rows():
    parsed = parse_contacts("email;first_name\n")
    assert parsed.rows == [] and parsed.refusals == []


def test_outcomes_are_in_file_order():
    parsed = parse_contacts("email\nbad\na@x.fr\nbad2\n")
    assert [(type(outcome).__name__, outcome.line) for outcome in parsed.outcomes()] == [
        ("Refusal", 2), ("Row", 3), ("Refusal", 4)
    ]


# --- unsubscribes --------------------------------------------------------------------


def test_unsubscribes_by_email_phone_and_channel():
    text = csv_text(
        "email;phone;channel;date",
        "Ana@Example.com;;;2026-01-01",
        ";06 12 34 56 78;;2026-01-02",
        "bob@example.com;+33612345679;;",
        "carl@example.com;;sms;",
        "dora@example.com;;Tous;",
        "eve@example.com;;E-mail;",
    )
    parsed = parse_unsubscribes(text, default_region="FR")
    assert parsed.refusals == []
    assert parsed.ignored_columns == ["date"]
    assert [(row.line, row.values, row.consent) for row in parsed.rows] == [
        (2, {"email": "ana@example.com"}, {"email": False}),
        (3, {"phone": "+33612345678"}, {"sms": False}),
        (4, {"email": "bob@example.com", "phone": "+33612345679"}, {"email": False, "sms": False}),
        (5, {"email": "carl@example.com"}, {"sms": False}),
        (6, {"email": "dora@example.com"}, {"email": False, "sms": False}),
        (7, {"email": "eve@example.com"}, {"email": False}),
    ]


def test_unsubscribes_refusals():
    text = csv_text("email;canal", "not-an-email;email", "a@x.fr;fax", ";email", "a@x.fr;email", "a@x.fr;email")
    parsed = parse_unsubscribes(text)
    outcomes = by_line(parsed)
    assert "email:" in outcomes[2].reason
    assert "channel" in outcomes[3].reason
    assert "no email or phone" in outcomes[4].reason
    assert [row.line for row in parsed.rows] == [5, 6]  # repeated lines are harmless: not deduplicated
    assert_every_line_accounted(parsed, text)


def test_unsubscribes_need_an_identifier_column():
    with pytest.raises(ImportFileError, match="email or a phone"):
        parse_unsubscribes("name;channel\nAna;email\n")


# --- bounces -------------------------------------------------------------------------


def test_bounces_statuses_any_case_with_french_aliases():
    text = csv_text(
        "Email,Statut,Raison",
        "a@x.fr,Hard,mailbox unknown",
        "b@x.fr,SOFT,full",
        "c@x.fr,valid,",
        "d@x.fr,Rebond dur,",
        "e@x.fr,mou,",
        "f@x.fr,Valide,",
        "g@x.fr,Hard Bounce,",
        "h@x.fr,NPAI,",
        "i@x.fr,soft-bounce,",
    )
    parsed = parse_bounces(text)
    assert parsed.refusals == []
    assert parsed.ignored_columns == ["Raison"]
    assert [row.values["email_status"] for row in parsed.rows] == [
        "hard_bounce", "soft_bounce", "valid", "hard_bounce", "soft_bounce", "valid", "hard_bounce",
        "hard_bounce", "soft_bounce",
    ]
    assert parsed.rows[0].values == {"email": "a@x.fr", "email_status": "hard_bounce"}


def test_bounces_refusals_and_repeats():
    text = csv_text("email;status", "a@x.fr;bounced", "a@x.fr;", ";hard", "b@x.fr;soft", "b@x.fr;soft")
    parsed = parse_bounces(text)
    outcomes = by_line(parsed)
    assert "Hard, Soft or Valid" in outcomes[2].reason
    assert "status: empty" in outcomes[3].reason
    assert "email: empty" in outcomes[4].reason
    assert [row.line for row in parsed.rows] == [5, 6]  # each soft bounce counts: not deduplicated
    assert_every_line_accounted(parsed, text)


def test_bounces_need_email_and_status_columns():
    with pytest.raises(ImportFileError, match="status"):
        parse_bounces("email\na@x.fr\n")
    with pytest.raises(ImportFileError, match="email"):
        parse_bounces("status\nhard\n")


# --- splitting a file into parts --------------------------------------------------------


def test_split_cuts_contiguous_ranges_of_the_asked_size():
    text = csv_text("email;first_name", *(f'u{index}@x.fr;"Name;{index}"' for index in range(10)), "broken;x")
    outcomes = parse_contacts(text).outcomes()
    assert split(outcomes, 4) == [(0, 4), (4, 8), (8, 11)]
    assert split(outcomes, 20) == [(0, 11)]
    assert split([], 4) == []


def test_split_keeps_the_lines_of_one_contact_in_one_range_so_they_apply_in_order():
    lines = [f"u{index}@x.fr,soft" for index in range(12)]
    lines[1], lines[6] = "same@x.fr,soft", "same@x.fr,hard"  # ranges 0 and 1 must run as one
    outcomes = parse_bounces(csv_text("email,status", *lines)).outcomes()
    assert split(outcomes, 4) == [(0, 8), (8, 12)]
    lines[11] = "u0@x.fr,valid"  # and now the whole file
    assert split(parse_bounces(csv_text("email,status", *lines)).outcomes(), 4) == [(0, 12)]
