"""CSV imports: decoding, dialect detection and parsing into rows or refusals, line by line.

Pure parsing: the HTTP handler and the writes to the store live elsewhere. Every input line
after the header ends up in exactly one place of a ParsedImport: a Row (`line` is where
its record starts; a quoted cell may run over several lines), a Refusal with its reason,
or `blank_lines`. Line numbers are 1-based file lines as a spreadsheet shows them (the
header is line 1, or line 2 after an Excel `sep=;` line).

Decisions callers rely on:
- Cells are trimmed. In a contacts file an empty cell clears that field (it is listed in
  `Row.cleared`, e.g. "first_name" or "attributes.plan"); an empty consent cell changes
  nothing; an empty unique-key cell refuses the line.
- Duplicates of the unique key within a contacts file: the last line wins; earlier lines
  are refused as "duplicate of line N". Only lines that parsed into rows take part.
- Contacts files: unknown columns are a file error (so no data is silently dropped); custom
  fields are written `attributes.NAME` or `attribute:NAME`, and their values stay strings
  (so `01200` stays `01200`). Unsubscribe and bounce files ignore other columns (they are
  listed in `ignored_columns`), and their lines are not deduplicated: they apply in order.
- Cells beyond the header's width are allowed when empty (spreadsheets add trailing `;`).
"""
from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from chalicelib.contacts.fields import (
    MAX_ATTRIBUTES,
    FieldError,
    check_attribute_name,
    clean_attribute_value,
    clean_field,
    normalize_email,
    normalize_phone,
)
from chalicelib.problems import Problem

UNIQUE_KEYS = ("email", "phone", "external_id")
DELIMITERS = (",", ";", "\t")
SNIFF_LINES = 20


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (encoding, header); `details` locate the problems."""

    def __init__(self, message: str, details: list[Problem] | None = None):
        super().__init__(message)
        self.message = message
        self.details = list(details or [])


@dataclass
class Row:
    line: int
    values: dict[str, Any]  # normalised built-in fields (contacts), identifiers, email_status
    attributes: dict[str, Any] = field(default_factory=dict)
    consent: dict[str, bool] = field(default_factory=dict)  # channel -> granted
    cleared: set[str] = field(default_factory=set)  # fields whose cell was empty


@dataclass
class Refusal:
    line: int
    reason: str


@dataclass
class ParsedImport:
    kind: str  # contacts | unsubscribes | bounces
    delimiter: str
    columns: dict[str, str]  # header cell as written -> what it maps to
    rows: list[Row]
    refusals: list[Refusal]
    blank_lines: list[int] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def outcomes(self) -> list[Row | Refusal]:
        """Rows and refusals together, in file order: the per-line report."""
        return sorted([*self.rows, *self.refusals], key=lambda outcome: outcome.line)


def split(outcomes: list[Row | Refusal], size: int) -> list[tuple[int, int]]:
    """Ranges [start, end) of `outcomes` of about `size` lines each, to import in parallel.

    Lines that name the same contact (one identifier twice, as a bounce file may: soft, then
    hard) must apply in file order, so the ranges between their two places merge into one."""
    if not outcomes:
        return []
    chunks = -(-len(outcomes) // size)
    reach = list(range(chunks))  # the last chunk each chunk must run with
    first: dict[tuple[str, Any], int] = {}
    for position, outcome in enumerate(outcomes):
        if isinstance(outcome, Refusal):
            continue
        chunk = position // size
        for name in UNIQUE_KEYS:
            value = outcome.values.get(name)
            if value:
                seen = first.setdefault((name, value), chunk)
                reach[seen] = max(reach[seen], chunk)
    ranges: list[tuple[int, int]] = []
    start = 0
    while start < chunks:
        end = reach[start]
        following = start
        while following <= end:
            end = max(end, reach[following])
            following += 1
        ranges.append((start * size, min(following * size, len(outcomes))))
        start = following
    return ranges


# --- decoding ------------------------------------------------------------------------


def decode(body: bytes, encoding: str | None = None) -> str:
    """The file's text. Without `encoding`: UTF-8 (with or without BOM; UTF-16 with a BOM, as
    Excel's "Unicode text" writes it), else Windows-1252, the superset of Latin-1 that French
    spreadsheet exports use. Raises ImportFileError."""
    if not body:
        raise ImportFileError("the file is empty: a header row naming the columns is required")
    if body.startswith(b"PK\x03\x04"):
        raise ImportFileError("this is a spreadsheet workbook (.xlsx or .ods), not CSV: save it as CSV first")
    if encoding:
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            raise ImportFileError(f"unknown encoding {encoding!r}") from None
        if name == "utf-8":
            name = "utf-8-sig"
        text = _decode(body, name, encoding)
    elif body.startswith(codecs.BOM_UTF8):
        text = _decode(body, "utf-8-sig", "UTF-8")
    elif body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _decode(body, "utf-16", "UTF-16")
    else:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = _decode(body, "cp1252", "UTF-8 nor Windows-1252 (Latin-1)")
    if "\x00" in text:
        raise ImportFileError("the file contains NUL characters: it is not a CSV text file")
    return text


def _decode(body: bytes, codec: str, label: str) -> str:
    try:
        return body.decode(codec)
    except UnicodeDecodeError as error:
        line = body[: error.start].count(b"\n") + 1
        byte = body[error.start : error.start + 1].hex()
        raise ImportFileError(
            f"the file is not {label} text: byte 0x{byte} on line {line} cannot be read; "
            "export it as UTF-8 or name its encoding"
        ) from None


# --- dialect -------------------------------------------------------------------------


class _Dialect(csv.Dialect):
    delimiter = ","
    quotechar = '"'
    doublequote = True
    skipinitialspace = True
    lineterminator = "\r\n"
    quoting = csv.QUOTE_MINIMAL
    strict = True


def _dialect(delimiter: str) -> type[csv.Dialect]:
    return type("ImportDialect", (_Dialect,), {"delimiter": delimiter})


_SEP_LINE = re.compile(r"^sep=(.)\s*$", re.IGNORECASE)
_QUOTED = re.compile(r'"[^"]*"')


def _sep_line(text: str) -> str | None:
    """The delimiter an Excel `sep=;` first line names, if any."""
    first = text.split("\n", 1)[0].strip("\r\ufeff")
    match = _SEP_LINE.match(first)
    return match[1] if match else None


def sniff_dialect(text: str, delimiter: str | None = None) -> type[csv.Dialect]:
    """The CSV dialect: `delimiter` when given (",", ";", tab or "|"), else the one an Excel
    `sep=` line names, else detected among `,` `;` and tab from the header row (a delimiter
    inside the header is decisive; with several, the one splitting the first lines alike and
    most often, csv.Sniffer settling a tie), with `,` for a single-column file. Quoting is
    always standard (`"`, doubled inside quotes)."""
    if delimiter is not None:
        if delimiter in ("tab", "\\t"):
            delimiter = "\t"
        if delimiter not in (*DELIMITERS, "|"):
            raise ImportFileError(f"delimiter {delimiter!r} is not supported: use , ; | or tab")
        return _dialect(delimiter)
    if named := _sep_line(text):
        if named not in (*DELIMITERS, "|"):
            raise ImportFileError(f"the sep= line names {named!r}, which is not supported: use , ; | or tab")
        return _dialect(named)
    lines = [line for line in text[:65536].splitlines() if line.strip()][:SNIFF_LINES]
    if not lines:
        raise ImportFileError("the file is empty: a header row naming the columns is required")
    header = _QUOTED.sub("", lines[0])
    present = [candidate for candidate in DELIMITERS if candidate in header]
    if not present:
        return _dialect(",")
    if len(present) == 1:
        return _dialect(present[0])
    # Several candidates in the header: prefer those splitting every sampled line alike, then
    # the most frequent in the header; csv.Sniffer settles a remaining tie.
    counts = {candidate: [_QUOTED.sub("", line).count(candidate) for line in lines] for candidate in present}
    pool = [candidate for candidate in present if len(set(counts[candidate])) == 1] or present
    most = max(counts[candidate][0] for candidate in pool)
    top = [candidate for candidate in pool if counts[candidate][0] == most]
    if len(top) > 1:
        try:
            sniffed = csv.Sniffer().sniff("\n".join(lines), delimiters="".join(top)).delimiter
        except csv.Error:
            sniffed = None
        if sniffed in top:
            return _dialect(sniffed)
    return _dialect(top[0])


# --- records -------------------------------------------------------------------------


@dataclass
class _Record:
    line: int  # 1-based line where the record starts
    end: int  # index of the line after the record
    cells: list[str] | None  # None when malformed
    reason: str = ""


class _Feed:
    """Physical lines from a position, so a parse can resume after a malformed record."""

    def __init__(self, lines: list[str], position: int):
        self.lines = lines
        self.position = position

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        if self.position >= len(self.lines):
            raise StopIteration
        self.position += 1
        return self.lines[self.position - 1]


def _csv_reason(error: csv.Error) -> str:
    text = str(error)
    if "unexpected end of data" in text:
        return 'a quoted cell is never closed (unbalanced ")'
    if "expected after" in text:
        return 'text follows the closing quote of a quoted cell (write "" for a quote inside a cell)'
    return f"malformed CSV: {text}"


class _Records:
    """The records of a file from a line index on, each with the line where it starts.

    A stray quote must never swallow the lines after it: when a record is malformed, or is
    refused while spanning several lines (`reread_after`), reading resumes on the line after
    its first line, so every following line gets its own outcome.
    """

    def __init__(self, lines: list[str], dialect: type[csv.Dialect], start: int, width: int | None):
        self.lines = lines
        self.dialect = dialect
        self.start = start
        self.width = width  # the header's width; None while looking for the header
        self._resume: int | None = None

    def reread_after(self, record: _Record) -> None:
        """After `record` is refused: if it spans several lines, read its later lines again."""
        if record.end > record.line:
            self._resume = record.line

    def __iter__(self) -> Iterator[_Record]:
        position = self.start
        while position < len(self.lines):
            feed = _Feed(self.lines, position)
            reader = csv.reader(feed, self.dialect)
            while True:
                begin = feed.position
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    record = _Record(begin + 1, feed.position, None, _csv_reason(error))
                    self._resume = begin + 1  # a fresh reader, from the next line
                else:
                    record = _Record(begin + 1, feed.position, cells)
                    if self.width is not None and _is_ragged(cells, self.width):
                        record.cells = None
                        record.reason = f"{_cells_text(len(cells))} where the header has {self.width}"
                        if record.end > record.line:
                            record.reason += " (a quoted cell seems to run over several lines)"
                        self.reread_after(record)
                yield record
                if self._resume is not None:
                    position, self._resume = self._resume, None
                    break


def _cells_text(count: int) -> str:
    return f"{count} cell" if count == 1 else f"{count} cells"


def _is_blank(cells: list[str]) -> bool:
    return all(not cell.strip() for cell in cells)


def _is_ragged(cells: list[str], width: int) -> bool:
    if _is_blank(cells):
        return False
    if len(cells) < width:
        return True
    return any(cell.strip() for cell in cells[width:])


@dataclass
class _Table:
    delimiter: str
    header: list[str]  # trimmed cells, trailing empty cells dropped
    header_line: int
    records: _Records
    blank_lines: list[int]


def _open(text: str, delimiter: str | None) -> _Table:
    dialect = sniff_dialect(text, delimiter)
    lines = list(io.StringIO(text, newline=""))
    start = 1 if _sep_line(text) else 0
    blank_lines: list[int] = []
    records = _Records(lines, dialect, start, None)
    for record in records:
        if record.cells is None:
            raise ImportFileError(f"the header row (line {record.line}) is malformed: {record.reason}")
        if _is_blank(record.cells):
            blank_lines.append(record.line)
            continue
        header = [cell.strip().lstrip("\ufeff").strip() for cell in record.cells]
        while header and not header[-1]:
            header.pop()
        return _Table(
            delimiter=dialect.delimiter,
            header=header,
            header_line=record.line,
            records=_Records(lines, dialect, record.end, len(header)),
            blank_lines=blank_lines,
        )
    raise ImportFileError("the file has no header row: the first line must name the columns (email;first_name;...)")


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _plain(text: str) -> str:
    """Header or value text without accents, case or separators: `Téléphone` -> `telephone`."""
    decomposed = unicodedata.normalize("NFKD", text.strip())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    return re.sub(r"[\s\-]+", "_", bare)


# --- columns -------------------------------------------------------------------------

_FIELD_ALIASES = {
    "email": ["email", "e_mail", "mail", "courriel", "email_address", "adresse_email", "adresse_mail"],
    "phone": ["phone", "phone_number", "telephone", "tel", "mobile", "portable", "sms", "numero_de_telephone"],
    "first_name": ["first_name", "firstname", "prenom", "given_name"],
    "last_name": ["last_name", "lastname", "nom", "nom_de_famille", "surname", "family_name"],
    "birthday": ["birthday", "birthdate", "birth_date", "date_of_birth", "dob", "date_de_naissance"],
    "external_id": ["external_id", "externalid", "id", "identifiant"],
    "timezone": ["timezone", "time_zone", "tz", "fuseau_horaire"],
    "language": ["language", "lang", "langue", "locale"],
}
_CONSENT_ALIASES = {
    "email": ["consent_email", "optin_email", "opt_in_email", "email_consent", "email_optin"],
    "sms": ["consent_sms", "optin_sms", "opt_in_sms", "sms_consent", "sms_optin"],
}
_CHANNEL_ALIASES = ["channel", "canal", "channels"]
_STATUS_ALIASES = ["status", "statut", "etat", "email_status", "bounce", "bounce_type", "type"]


def _lookup(aliases: dict[str, list[str]]) -> dict[str, str]:
    return {alias: target for target, names in aliases.items() for alias in names}


_FIELDS = _lookup(_FIELD_ALIASES)
_CONSENTS = _lookup({f"consent.{channel}": names for channel, names in _CONSENT_ALIASES.items()})
_ATTRIBUTE_PREFIX = re.compile(r"^attributes?\s*[.:]\s*(.*)$", re.IGNORECASE)

_YES = {"yes", "y", "oui", "o", "1", "true", "vrai"}
_NO = {"no", "n", "non", "0", "false", "faux"}


def _map_columns(
    header: list[str], header_line: int, known: dict[str, str], *, attributes: bool, strict: bool
) -> tuple[list[str | None], list[str]]:
    """The target of each column ("email", "consent.email", "attributes.plan", ...; None when
    ignored) and the ignored header names. Raises ImportFileError listing every problem."""
    problems: list[Problem] = []
    targets: list[str | None] = []
    ignored: list[str] = []
    seen: dict[str, int] = {}
    looks_like_data = any("@" in cell for cell in header)
    if looks_like_data:
        raise ImportFileError(
            f"line {header_line} looks like data, not a header row: the first line must name the "
            "columns (email;first_name;...)"
        )
    for index, cell in enumerate(header):
        where = f"header[{index}]"
        column = f"column {_letter(index)}"
        target: str | None = None
        if not cell:
            problems.append(Problem(where, f"{column} has no name"))
        elif attributes and (match := _ATTRIBUTE_PREFIX.match(cell)):
            name = match[1].strip()
            try:
                target = f"attributes.{check_attribute_name(name)}"
            except FieldError as error:
                problems.append(Problem(where, f"{column} ({cell!r}): {error}"))
        else:
            target = known.get(_plain(cell))
            if target is None:
                if strict:
                    problems.append(Problem(
                        where,
                        f"unknown {column} {cell!r}: name a contact field (email, phone, first_name, "
                        "last_name, birthday, external_id, timezone, language, consent_email, consent_sms) "
                        "or write a custom field as attributes.NAME",
                    ))
                else:
                    ignored.append(cell)
        if target is not None:
            if target in seen:
                problems.append(Problem(
                    where, f"{column} ({cell!r}) and column {_letter(seen[target])} both give {target}"
                ))
            seen[target] = index
        targets.append(target)
    if sum(1 for target in targets if target and target.startswith("attributes.")) > MAX_ATTRIBUTES:
        problems.append(Problem("header", f"at most {MAX_ATTRIBUTES} attribute columns"))
    if problems:
        raise ImportFileError(
            f"the header row (line {header_line}) has {len(problems)} problem(s): "
            + "; ".join(problem.message for problem in problems),
            problems,
        )
    return targets, ignored


def _cells(record: _Record, width: int) -> list[str]:
    cells = [cell.strip() for cell in record.cells or []]
    return cells + [""] * (width - len(cells))


def _consent(cell: str) -> bool:
    word = cell.strip().casefold()
    if word in _YES:
        return True
    if word in _NO:
        return False
    raise FieldError(f"{cell!r} is not a consent: write Yes or No (Oui/Non, 1/0, true/false), or leave empty")


# --- contacts ------------------------------------------------------------------------


def parse_contacts(
    text: str, *, unique_key: str = "email", delimiter: str | None = None, default_region: str | None = None
) -> ParsedImport:
    """Parse a contacts file: one Row (or Refusal) per data line. `unique_key` (email, phone
    or external_id) must have a column and a value on every line; `default_region` (e.g.
    "FR") reads phone numbers written without country code."""
    if unique_key not in UNIQUE_KEYS:
        raise ValueError(f"unique_key must be one of {UNIQUE_KEYS}")
    table = _open(text, delimiter)
    targets, _ = _map_columns(
        table.header, table.header_line, {**_FIELDS, **_CONSENTS}, attributes=True, strict=True
    )
    if unique_key not in targets:
        raise ImportFileError(
            f"the file has no {unique_key} column: contacts are matched on their {unique_key}, "
            "so every line needs one",
            [Problem("header", f"a {unique_key} column is required")],
        )
    rows: list[Row] = []
    refusals: list[Refusal] = []
    blank = list(table.blank_lines)
    for record, cells in _data(table, targets, refusals, blank):
        row = Row(record.line, {})
        reasons: list[str] = []
        for header, target, cell in zip(table.header, targets, cells, strict=False):
            assert target is not None
            try:
                if target.startswith("consent."):
                    if cell:
                        row.consent[target.split(".", 1)[1]] = _consent(cell)
                elif target.startswith("attributes."):
                    if cell:
                        row.attributes[target.split(".", 1)[1]] = clean_attribute_value(cell)
                    else:
                        row.cleared.add(target)
                elif not cell:
                    if target == unique_key:
                        reasons.append(f"{header}: empty, but the {unique_key} is the unique key")
                    else:
                        row.cleared.add(target)
                else:
                    row.values[target] = clean_field(target, cell, default_region=default_region)
            except FieldError as error:
                reasons.append(f"{header}: {error}")
        if reasons:
            _refuse(table, record, reasons, refusals)
        else:
            rows.append(row)
    rows = _last_wins(rows, unique_key, refusals)
    refusals.sort(key=lambda refusal: refusal.line)
    return ParsedImport(
        kind="contacts",
        delimiter=table.delimiter,
        columns=_columns(table, targets),
        rows=rows,
        refusals=refusals,
        blank_lines=blank,
    )


def _last_wins(rows: list[Row], key: str, refusals: list[Refusal]) -> list[Row]:
    last: dict[Any, Row] = {}
    for row in rows:
        last[row.values[key]] = row
    kept = []
    for row in rows:
        winner = last[row.values[key]]
        if winner is row:
            kept.append(row)
        else:
            refusals.append(Refusal(
                row.line, f"duplicate of line {winner.line} ({key} {row.values[key]}): the last line wins"
            ))
    return kept


# --- unsubscribes and bounces --------------------------------------------------------

_CHANNELS = {
    "email": ("email",), "e_mail": ("email",), "mail": ("email",), "courriel": ("email",),
    "sms": ("sms",), "texto": ("sms",), "phone": ("sms",), "telephone": ("sms",), "mobile": ("sms",),
    "all": ("email", "sms"), "both": ("email", "sms"), "tous": ("email", "sms"), "toutes": ("email", "sms"),
}
_STATUSES = {
    "hard": "hard_bounce", "hard_bounce": "hard_bounce", "hardbounce": "hard_bounce", "dur": "hard_bounce",
    "rebond_dur": "hard_bounce", "permanent": "hard_bounce", "npai": "hard_bounce",
    "soft": "soft_bounce", "soft_bounce": "soft_bounce", "softbounce": "soft_bounce", "mou": "soft_bounce",
    "rebond_mou": "soft_bounce", "temporaire": "soft_bounce", "temporary": "soft_bounce",
    "valid": "valid", "valide": "valid", "ok": "valid", "good": "valid",
}


def parse_unsubscribes(
    text: str, *, delimiter: str | None = None, default_region: str | None = None
) -> ParsedImport:
    """Parse an unsubscribe list: an email and/or phone column, an optional channel column
    (email, sms or all; French accepted). A Row carries the identifiers in `values` and the
    opt-outs in `consent` (channel -> False). Without a channel a line unsubscribes every
    channel it names an identifier for: email for an address, sms for a number."""
    table = _open(text, delimiter)
    known = {alias: target for alias, target in _FIELDS.items() if target in ("email", "phone")}
    known.update({alias: "channel" for alias in _CHANNEL_ALIASES})
    targets, ignored = _map_columns(table.header, table.header_line, known, attributes=False, strict=False)
    if "email" not in targets and "phone" not in targets:
        raise ImportFileError(
            "the file needs an email or a phone column", [Problem("header", "an email or phone column is required")]
        )
    rows: list[Row] = []
    refusals: list[Refusal] = []
    blank = list(table.blank_lines)
    for record, cells in _data(table, targets, refusals, blank):
        values: dict[str, Any] = {}
        reasons: list[str] = []
        channels: tuple[str, ...] = ()
        for header, target, cell in zip(table.header, targets, cells, strict=False):
            if target is None or not cell:
                continue
            try:
                if target == "email":
                    values["email"] = normalize_email(cell)
                elif target == "phone":
                    values["phone"] = normalize_phone(cell, default_region)
                else:
                    channels = _CHANNELS.get(_plain(cell), ())
                    if not channels:
                        raise FieldError(f"{cell!r} is not a channel: write email, sms or all")
            except FieldError as error:
                reasons.append(f"{header}: {error}")
        if not reasons and not values:
            reasons.append("no email or phone on this line")
        if reasons:
            _refuse(table, record, reasons, refusals)
            continue
        if not channels:
            channels = tuple(channel for channel, key in (("email", "email"), ("sms", "phone")) if key in values)
        rows.append(Row(record.line, values, consent=dict.fromkeys(channels, False)))
    return ParsedImport("unsubscribes", table.delimiter, _columns(table, targets), rows, refusals, blank, ignored)


def parse_bounces(text: str, *, delimiter: str | None = None) -> ParsedImport:
    """Parse a bounce list: an email column and a status column with Hard, Soft or Valid
    (any case; French: dur/rebond dur/NPAI, mou/rebond mou/temporaire, valide). A Row's
    values are {"email", "email_status": "hard_bounce" | "soft_bounce" | "valid"}."""
    table = _open(text, delimiter)
    known = {alias: target for alias, target in _FIELDS.items() if target == "email"}
    known.update({alias: "status" for alias in _STATUS_ALIASES})
    targets, ignored = _map_columns(table.header, table.header_line, known, attributes=False, strict=False)
    missing = [name for name in ("email", "status") if name not in targets]
    if missing:
        raise ImportFileError(
            f"the file needs an email column and a status column (Hard, Soft or Valid); missing: {', '.join(missing)}",
            [Problem("header", f"a {name} column is required") for name in missing],
        )
    rows: list[Row] = []
    refusals: list[Refusal] = []
    blank = list(table.blank_lines)
    for record, cells in _data(table, targets, refusals, blank):
        values: dict[str, Any] = {}
        reasons: list[str] = []
        for header, target, cell in zip(table.header, targets, cells, strict=False):
            if target is None:
                continue
            if not cell:
                reasons.append(f"{header}: empty")
                continue
            try:
                if target == "email":
                    values["email"] = normalize_email(cell)
                else:
                    status = _STATUSES.get(_plain(cell))
                    if status is None:
                        raise FieldError(f"{cell!r} is not a bounce status: write Hard, Soft or Valid")
                    values["email_status"] = status
            except FieldError as error:
                reasons.append(f"{header}: {error}")
        if reasons:
            _refuse(table, record, reasons, refusals)
        else:
            rows.append(Row(record.line, values))
    return ParsedImport("bounces", table.delimiter, _columns(table, targets), rows, refusals, blank, ignored)


def _data(
    table: _Table, targets: list[str | None], refusals: list[Refusal], blank: list[int]
) -> Iterator[tuple[_Record, list[str]]]:
    """Well-formed, non-blank records with their trimmed cells; the others are recorded."""
    for record in table.records:
        if record.cells is None:
            refusals.append(Refusal(record.line, record.reason))
        elif _is_blank(record.cells):
            blank.append(record.line)
        else:
            yield record, _cells(record, len(targets))


def _refuse(table: _Table, record: _Record, reasons: list[str], refusals: list[Refusal]) -> None:
    reason = "; ".join(reasons)
    if record.end > record.line:
        reason += f" (a quoted cell runs from line {record.line} to line {record.end}: those lines are read again)"
        table.records.reread_after(record)
    refusals.append(Refusal(record.line, reason))


def _columns(table: _Table, targets: list[str | None]) -> dict[str, str]:
    return {header: target for header, target in zip(table.header, targets, strict=True) if target}
