"""CSV imports, stored: contacts (upsert or insert-only), unsubscribes and bounces, per-line report.

Parsing is imports.csv_parse (pure): a file-level problem (encoding, header, unknown column)
refuses the whole file before anything is written; a bad line is refused with its line number
and reason while the other lines are imported, and the report says so line by line. A file
of up to SYNC_MAX_ROWS lines (and the request size limit) is imported within the request;
a larger one is uploaded to S3 through a presigned URL and imported by a background job, in
parts of about `job_part_items` lines run in parallel, each checkpointed every CHUNK lines (the
report is kept in chunks next to the job).

Every write is idempotent per line: contact events are named `import:ID:LINE/...`, so a
resumed job changes nothing twice. Consent in a file is historical: it never re-subscribes an
address that was erased at the person's request (gdpr.erase).
"""
from __future__ import annotations

import codecs
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib import clock, faults
from chalicelib.audience import jobs
from chalicelib.audience.jobs import Step
from chalicelib.config import settings
from chalicelib.contacts import service as contacts
from chalicelib.events import service as events
from chalicelib.imports import csv_parse
from chalicelib.imports.csv_parse import ImportFileError, ParsedImport, Refusal, Row
from chalicelib.lists import membership
from chalicelib.lists import service as lists
from chalicelib.problems import Invalid, Problem
from chalicelib.store import audience as store
from chalicelib.store import queue
from chalicelib.store.audience import Job, contact_ref
from chalicelib.store.models import Contact, Event
from chalicelib.vocabulary import system_event_id

KINDS = ("contacts", "unsubscribes", "bounces")
MODES = ("upsert", "insert_only")
SYNC_MAX_ROWS = 1000
UPLOAD_MAX_BYTES = 50 * 1024 * 1024
UPLOAD_SECONDS = 3600
CHUNK = 200
INLINE_LINES = 5000  # GET /imports/{id} lists every line up to this; beyond, /imports/{id}/lines pages them
_REGION = re.compile(r"^[A-Za-z]{2}$")
IMPORT_SOURCE = "import:"  # consent_source of consent read from a file: historical, never fresh


class FileRefused(Invalid):
    """The whole file cannot be imported; `reason` says why in a few words."""

    def __init__(self, reason: str, problems: list[Problem]) -> None:
        super().__init__(problems, f"The file cannot be imported: {reason}.")
        self.reason = reason


class TooLarge(Exception):
    pass


@dataclass
class Options:
    kind: str
    mode: str = "upsert"
    encoding: str | None = None
    delimiter: str | None = None
    list_id: str | None = None
    region: str | None = None
    dry_run: bool = False

    def as_dict(self) -> dict:
        return {"kind": self.kind, "mode": self.mode, "encoding": self.encoding, "delimiter": self.delimiter,
                "list": self.list_id, "region": self.region, "dry_run": self.dry_run}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Options:
        return cls(data["kind"], data.get("mode") or "upsert", data.get("encoding"), data.get("delimiter"),
                   data.get("list"), data.get("region"), bool(data.get("dry_run")))


QUERY = ("kind", "mode", "encoding", "delimiter", "list", "region", "dry_run")


def parse_options(params: Mapping[str, str]) -> Options:
    """The import's options from the query string; Invalid lists every problem."""
    problems = [Problem(name, f"unknown parameter '{name}'; expected {', '.join(QUERY)}")
                for name in params if name not in QUERY]
    kind = params.get("kind")
    if kind not in KINDS:
        problems.append(Problem("kind", f"kind is required: one of {', '.join(KINDS)}"))
    mode = params.get("mode") or "upsert"
    if mode not in MODES:
        problems.append(Problem("mode", f"mode must be one of {', '.join(MODES)}"))
    encoding = params.get("encoding") or None
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            problems.append(Problem("encoding", f"unknown encoding {encoding!r}; use utf-8 or latin-1 "
                                                "(windows-1252)"))
    delimiter = params.get("delimiter") or None
    if delimiter is not None:
        delimiter = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(delimiter, delimiter)
        if delimiter not in (",", ";", "\t", "|"):
            problems.append(Problem("delimiter", "delimiter must be , ; | or tab"))
    list_id = params.get("list") or None
    if list_id is not None:
        if kind != "contacts":
            problems.append(Problem("list", "only a contacts import adds its contacts to a list"))
        elif lists.get(list_id) is None:
            problems.append(Problem("list", f"no list '{list_id}': create it first (POST /lists)"))
    region = params.get("region") or None
    if region is not None and not _REGION.match(region):
        problems.append(Problem("region", "region is a two-letter country code (FR) for phone numbers written "
                                          "without country code"))
    dry_run = (params.get("dry_run") or "false").lower()
    if dry_run not in ("true", "false", "1", "0"):
        problems.append(Problem("dry_run", "dry_run must be true or false"))
    if problems:
        raise Invalid(problems, "The import parameters are not valid.")
    return Options(str(kind), mode, encoding, delimiter, list_id, region.upper() if region else None,
                   dry_run in ("true", "1"))


def _encoding_used(body: bytes, asked: str | None) -> str:
    if asked:
        return codecs.lookup(asked).name
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "windows-1252"


def parse_file(body: bytes, options: Options) -> tuple[ParsedImport, str]:
    """The parsed file and the encoding it was read with; FileRefused when it cannot be imported."""
    try:
        text = csv_parse.decode(body, options.encoding)
        if options.kind == "contacts":
            parsed = csv_parse.parse_contacts(text, unique_key=settings().unique_key, delimiter=options.delimiter,
                                              default_region=options.region)
        elif options.kind == "unsubscribes":
            parsed = csv_parse.parse_unsubscribes(text, delimiter=options.delimiter, default_region=options.region)
        else:
            parsed = csv_parse.parse_bounces(text, delimiter=options.delimiter)
    except ImportFileError as error:
        raise FileRefused(error.message, error.details or [Problem("file", error.message)]) from None
    return parsed, _encoding_used(body, options.encoding)


# -- applying lines -------------------------------------------------------------------------


@dataclass
class _Batch:
    ahead: contacts.ReadAhead
    erased: set[int]  # lines whose identifiers were erased (gdpr.erase), of those granting consent
    lines: list[dict] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    stored: list[dict] = field(default_factory=list)  # events to hand to automation

    def add(self, outcome: dict) -> None:
        self.lines.append(outcome)
        self.counters[outcome["outcome"]] = self.counters.get(outcome["outcome"], 0) + 1


def _apply_chunk(import_id: str, options: Options, outcomes: list[Row | Refusal], *,
                 again_since: str | None = None) -> _Batch:
    """Apply lines and queue their events; `again_since` (when the import started) when an
    earlier try of these lines may have written some of them without finishing."""
    rows = [outcome for outcome in outcomes if isinstance(outcome, Row)]
    granting = [row for row in rows if options.kind == "contacts" and any(row.consent.values())]
    erased = store.suppressed_each([{name: row.values.get(name) for name in contacts.IDENTIFIERS}
                                    for row in granting]) if granting else set()
    batch = _Batch(contacts.ReadAhead([_identity(row.values) for row in rows]),
                   {granting[position].line for position in erased})
    position = 0
    while position < len(outcomes):
        new = _new_contacts(options, outcomes, position, batch) if again_since is None else []
        created = _create_together(import_id, options, new, batch) if new else None
        if created is not None:
            for result in created:
                batch.add(result)
        else:  # one by one; lines of a run that could not be created together read their contact again
            for outcome in outcomes[position:position + max(1, len(new))]:
                batch.add(_apply_one(import_id, options, outcome, batch, again_since))
        position += max(1, len(new))
    if batch.stored and not options.dry_run:
        queue.enqueue(batch.stored)
    return batch


def _apply_one(import_id: str, options: Options, outcome: Row | Refusal, batch: _Batch,
               again_since: str | None) -> dict:
    if isinstance(outcome, Refusal):
        return {"line": outcome.line, "outcome": "refused", "reason": outcome.reason}
    try:
        result = _apply_row(import_id, options, outcome, batch)
    except contacts.ContactConflict:
        result = {"line": outcome.line, "outcome": "refused",
                  "reason": f"this {settings().unique_key} belongs to another contact"}
    if again_since and not options.dry_run and result.get("contact_id"):
        result = _as_first_tried(import_id, result, batch, again_since)
    return result


def _new_contacts(options: Options, outcomes: list[Row | Refusal], start: int, batch: _Batch) -> list[Row]:
    """The contact lines from `start` on whose contact does not exist (as read ahead), up to
    what one transaction creates: taken from the read-ahead, so that a later line with the same
    key reads the contact again."""
    if options.kind != "contacts" or options.dry_run:
        return []
    new: list[Row] = []
    for outcome in outcomes[start:start + contacts.CREATED_TOGETHER]:
        if not isinstance(outcome, Row):
            break
        identity = _identity(outcome.values)
        if batch.ahead.peek(identity) is not None:
            break
        batch.ahead.take(identity)
        new.append(outcome)
    return new


def _create_together(import_id: str, options: Options, rows: list[Row], batch: _Batch) -> list[dict] | None:
    """The lines' contacts created in one transaction, each with its contact.created; the lines'
    results, or None if they could not be (nothing was written)."""
    planned = []
    for row in rows:
        change, note = _change_of(import_id, options, row, batch)
        alongside, stored = events.created_alongside(_origin(import_id, row.line))
        planned.append((row, _identity(row.values), change, note, alongside, stored))
    created = contacts.create_together([(identity, change, alongside)
                                        for _, identity, change, _, alongside, _ in planned])
    if created is None:
        return None
    results = []
    for (row, _, _, note, _, stored), upserted in zip(planned, created, strict=True):
        batch.stored += stored
        results.append(_joined(import_id, options, row, {"line": row.line, "outcome": "created",
                                                         "contact_id": upserted.contact.id,
                                                         **({"note": note} if note else {})}))
    return results


def _as_first_tried(import_id: str, result: dict, batch: _Batch, since: str) -> dict:
    """A line an unfinished try wrote finds nothing left to change: it is reported as that try
    did it (created, updated), and the events that try recorded are queued again, since they may
    never have reached the queue (queueing is the chunk's last write)."""
    prefix = system_event_id(f"{_origin(import_id, int(result['line']))}/")
    queued = {record["id"] for record in batch.stored}
    earlier = [events.to_api(item) for item in Event.query(result["contact_id"], Event.at >= since,
                                                              filter_condition=Event.id.startswith(prefix))]
    batch.stored += [record for record in earlier if record["id"] not in queued]
    types = {record["type"] for record in earlier}
    if "contact.created" in types:
        return {key: value for key, value in result.items() if key not in ("reason", "changed")} | {
            "outcome": "created"}
    changed = sorted({name for record in earlier if record["type"] == "contact.updated"
                      for name in record["properties"].get("changed") or []})
    if result["outcome"] == "skipped" and changed:
        return {key: value for key, value in result.items() if key != "reason"} | {
            "outcome": "updated", "changed": changed}
    return result


def _origin(import_id: str, line: int) -> str:
    return f"import:{import_id}:{line}"


def _apply_row(import_id: str, options: Options, row: Row, batch: _Batch) -> dict:
    if options.kind == "contacts":
        return _contact_row(import_id, options, row, batch)
    if options.kind == "unsubscribes":
        return _unsubscribe_row(import_id, options, row, batch)
    return _bounce_row(import_id, options, row, batch)


def _identity(values: Mapping[str, Any]) -> contacts.Identity:
    return contacts.Identity(**{name: values[name] for name in contacts.IDENTIFIERS if values.get(name)})


def _upsert(import_id: str, options: Options, row: Row, change: contacts.Change, batch: _Batch,
            note: str | None = None) -> dict:
    identity = _identity(row.values)
    result: dict[str, Any] = {"line": row.line}
    if options.mode == "insert_only" or options.dry_run:
        existing = batch.ahead.find(identity)
        if existing is not None and options.mode == "insert_only":
            return {**result, "outcome": "skipped", "contact_id": existing.id,
                    "reason": "already exists (insert_only)"}
        if options.dry_run:
            return {**result, "outcome": "updated" if existing else "created",
                    **({"contact_id": existing.id} if existing else {}), **({"note": note} if note else {})}
        known: Contact | None | contacts.NotRead = existing
    else:
        known = batch.ahead.take(identity)
    upserted = _upsert_recording(import_id, row, identity, change, known, batch)
    if upserted.created:
        result.update(outcome="created")
    elif upserted.changed:
        result.update(outcome="updated", changed=upserted.changed)
    else:
        result.update(outcome="skipped", reason="no change")
    result["contact_id"] = upserted.contact.id
    if note:
        result["note"] = note
    return result


def _upsert_recording(import_id: str, row: Row, identity: contacts.Identity, change: contacts.Change,
                      known: Contact | None | contacts.NotRead, batch: _Batch) -> contacts.Upserted:
    """The line's upsert, its contact.created written in the creation's transaction (one request,
    and a contact is never without it), its contact.updated recorded after."""
    origin = _origin(import_id, row.line)
    alongside, created = events.created_alongside(origin)
    try:
        upserted = contacts.upsert(identity, change, alongside=alongside, known=known)
    except contacts.AlreadyRecorded:  # another try of this line is creating it at the same moment
        created.clear()
        upserted = contacts.upsert(identity, change)
    batch.stored += created or events.contact_events(upserted, origin=origin)
    return upserted


def _screen(row: Row, consent: dict[str, bool], batch: _Batch) -> tuple[dict[str, bool], str | None]:
    """Consent grants in a file never re-subscribe an erased address."""
    if row.line in batch.erased:
        kept: dict[str, bool] = {channel: granted for channel, granted in consent.items() if not granted}
        return kept, "consent not granted: this address was erased at the person's request; it needs fresh consent"
    return consent, None


def _contact_row(import_id: str, options: Options, row: Row, batch: _Batch) -> dict:
    change, note = _change_of(import_id, options, row, batch)
    return _joined(import_id, options, row, _upsert(import_id, options, row, change, batch, note))


def _change_of(import_id: str, options: Options, row: Row, batch: _Batch) -> tuple[contacts.Change, str | None]:
    """What a contact line changes, and a note on the consent it could not grant."""
    traits = {name: value for name, value in row.values.items() if name in contacts.PROFILE_FIELDS}
    attributes = dict(row.attributes)
    if options.mode == "upsert":
        for name in row.cleared:
            if name.startswith("attributes."):
                attributes[name.split(".", 1)[1]] = None
            elif name in contacts.PROFILE_FIELDS:
                traits[name] = None
    consent, note = _screen(row, dict(row.consent), batch)
    return contacts.Change(traits=traits, attributes=attributes, consent=consent,
                           consent_source=f"{IMPORT_SOURCE}{import_id}"), note


def _joined(import_id: str, options: Options, row: Row, result: dict) -> dict:
    """The line's contact joins the import's list, if the import names one."""
    in_file = result["outcome"] in ("created", "updated") or result.get("reason") == "no change"
    if options.list_id and in_file and not options.dry_run:
        membership.join(result["contact_id"], options.list_id, source=f"import:{import_id}",
                        event_id=f"{_origin(import_id, row.line)}/list.joined")
    return result


def _unsubscribe_row(import_id: str, options: Options, row: Row, batch: _Batch) -> dict:
    change = contacts.Change(consent=dict(row.consent), consent_source=f"{IMPORT_SOURCE}{import_id}")
    result = _upsert(import_id, options, row, change, batch)
    if result.get("reason") == "no change":
        result["reason"] = "already unsubscribed"
    return result


def _bounce_row(import_id: str, options: Options, row: Row, batch: _Batch) -> dict:
    status = row.values["email_status"]
    identity = _identity(row.values)
    existing = batch.ahead.find(identity)
    if existing is not None and options.mode == "insert_only":
        return {"line": row.line, "outcome": "skipped", "contact_id": existing.id,
                "reason": "already exists (insert_only)"}
    if options.dry_run:
        return {"line": row.line, "outcome": "updated" if existing else "created",
                **({"contact_id": existing.id} if existing else {})}
    created = False
    if existing is None:
        upserted = _upsert_recording(import_id, row, identity, contacts.Change(), None, batch)
        existing, created = upserted.contact, upserted.created
    result = {"line": row.line, "contact_id": existing.id, "outcome": "created" if created else "updated"}
    if existing.email_status == status:
        return result if created else {**result, "outcome": "skipped", "reason": f"already {status}"}
    try:
        contact_ref(existing.id).update(
            actions=[Contact.email_status.set(status), Contact.soft_bounces.set(1 if status == "soft_bounce" else 0),
                     Contact.updated_at.set(clock.iso(clock.now()))],
            condition=Contact.id.exists(), add_version_condition=False)
    except UpdateError as error:
        if not faults.lost_to_condition(error):
            raise
        return {"line": row.line, "outcome": "refused", "reason": "the contact was erased meanwhile"}
    updated = events.record(existing.id, "contact.updated", {"changed": ["email_status"]},
                            event_id=f"{_origin(import_id, row.line)}/email_status")
    if updated:
        batch.stored.append(updated)
    return result


# -- imports within a request ---------------------------------------------------------------


def run_now(body: bytes, options: Options) -> dict:
    """Import a file within the request; the whole report."""
    if len(body) > settings().max_body_bytes:
        raise TooLarge(f"The file is {len(body)} bytes; up to {settings().max_body_bytes} are imported within a "
                       "request. Upload larger files through POST /imports/uploads.")
    parsed, encoding = parse_file(body, options)
    outcomes = parsed.outcomes()
    if len(outcomes) > SYNC_MAX_ROWS:
        raise TooLarge(f"The file has {len(outcomes)} lines; up to {SYNC_MAX_ROWS} are imported within a request. "
                       "Upload larger files through POST /imports/uploads.")
    import_id = jobs.new_id("import")
    now = clock.iso(clock.now())
    head = Job(import_id, jobs.HEAD, kind="import", params={**options.as_dict(), "source": "request"},
               status="running", phase=0, parts=0, parts_done=0, counters={},
               data=_file_data(parsed, encoding, len(outcomes)), created_at=now, updated_at=now,
               expires_at=clock.now() + timedelta(days=jobs.KEEP_DAYS))
    head.save()
    counters = {"blank": len(parsed.blank_lines)}
    for start in range(0, len(outcomes), CHUNK):
        batch = _apply_chunk(import_id, options, outcomes[start:start + CHUNK])
        _save_lines(import_id, start, batch.lines)
        for name, value in batch.counters.items():
            counters[name] = counters.get(name, 0) + value
    head.update(actions=[Job.status.set("done"), Job.counters.set(counters),
                         Job.finished_at.set(clock.iso(clock.now()))])
    return report(head)


def _file_data(parsed: ParsedImport, encoding: str, total: int) -> dict:
    return {"encoding": encoding, "delimiter": parsed.delimiter, "columns": parsed.columns,
            "ignored_columns": parsed.ignored_columns, "lines": total}


def _save_lines(import_id: str, start: int, lines: list[dict]) -> None:
    Job(import_id, f"lines:{start:07d}", data={"lines": lines},
        expires_at=clock.now() + timedelta(days=jobs.KEEP_DAYS)).save()


# -- imports of uploaded files (background) --------------------------------------------------


def _upload_key(import_id: str) -> str:
    return f"imports/{import_id}.csv"


def create_upload(options: Options) -> dict:
    import_id = jobs.new_id("import")
    expires = clock.now() + timedelta(seconds=UPLOAD_SECONDS)
    url = store.upload_url(_upload_key(import_id), expires_in=UPLOAD_SECONDS)
    head = jobs.start("import", {**options.as_dict(), "source": "upload", "key": _upload_key(import_id),
                                 "upload_expires_at": clock.iso(expires)},
                      status="awaiting_upload", job_id=import_id)
    return {**report(head), "upload": {"method": "PUT", "url": url, "headers": {"Content-Type": "text/csv"},
                                       "expires_at": clock.iso(expires), "max_bytes": UPLOAD_MAX_BYTES}}


class NotUploaded(Exception):
    pass


def start_upload(head: Job) -> Job:
    """The client says the file is uploaded: start the import now (the worker would find it too)."""
    if head.status != "awaiting_upload":
        return head
    if not ImportJob().poll(head):
        raise NotUploaded("the file has not been uploaded yet: PUT it to the upload URL first")
    return jobs.get(head.id) or head


_parsed: dict[str, tuple[ParsedImport, str]] = {}
_parsing = threading.Lock()  # a worker's threads share one parse of the file they import


def _load(head: Job) -> tuple[ParsedImport, str]:
    with _parsing:
        if head.id not in _parsed:
            body = store.read_upload(head.params["key"])
            _parsed.clear()  # one file in memory at a time
            _parsed[head.id] = parse_file(body, Options.from_dict(head.params))
        return _parsed[head.id]


def _part_lines() -> int:
    """Lines of a part: about `job_part_items`, in whole chunks (the report's unit)."""
    return max(1, -(-settings().job_part_items // CHUNK)) * CHUNK


class ImportJob:
    """Phase 0 reads the file once (one part): its report header, and how to split its lines
    into parts (csv_parse.split: contiguous ranges, a contact's lines in one range); phase 1
    imports each range as a part, checkpointed every CHUNK lines.

    Ranges of parsed rows rather than byte ranges of the file: a byte offset cannot tell
    whether it falls inside a quoted cell without reading from the start, line numbers count
    from the start too, and parsing is cheap next to the writes of a line, which is what the
    parts spread."""

    def parts(self, head: Job, phase: int) -> int:
        return 1

    def poll(self, head: Job) -> bool:
        size = store.uploaded_size(head.params["key"])
        if size is None:
            if clock.now() > clock.parse_iso(head.params["upload_expires_at"]) + timedelta(minutes=5):
                jobs.fail(head, "no file was uploaded before the upload URL expired")
            return False
        if size > UPLOAD_MAX_BYTES:
            jobs.fail(head, f"the file is {size} bytes; at most {UPLOAD_MAX_BYTES} are imported")
            store.delete_upload(head.params["key"])
            return False
        jobs.begin(head)
        return True

    def step(self, head: Job, part: Job, index: int) -> Step:
        try:
            parsed, encoding = _load(head)
        except FileRefused as error:
            head.update(actions=[Job.data.set({"problems": [problem.as_dict() for problem in error.problems]})])
            jobs.fail(head, error.reason)
            return Step(None)
        outcomes = parsed.outcomes()
        if int(head.phase or 0) == 0:
            ranges = csv_parse.split(outcomes, _part_lines())
            return Step(None, {"blank": len(parsed.blank_lines)},
                        {**_file_data(parsed, encoding, len(outcomes)), "ranges": [list(item) for item in ranges]})
        first, end = (head.data or {})["ranges"][index]
        start = first if part.cursor is None else int(part.cursor)
        batch = _apply_chunk(head.id, Options.from_dict(head.params), outcomes[start:min(start + CHUNK, end)],
                             again_since=head.created_at if part.attempts else None)
        _save_lines(head.id, start, batch.lines)
        following = start + CHUNK
        return Step(following if following < end else None, batch.counters)

    def phase_done(self, head: Job, phase: int, parts: list[Job]) -> tuple[int, dict | None]:
        read = (parts[0].data or {}) if phase == 0 else {}
        if "ranges" not in read:  # the file was refused (the job failed), or the lines are imported
            return 0, None
        return len(read["ranges"]), read

    def finished(self, head: Job) -> None:
        _parsed.pop(head.id, None)
        store.delete_upload(head.params["key"])

    def failed(self, head: Job, error: str) -> None:
        _parsed.pop(head.id, None)
        if head.params.get("key"):
            store.delete_upload(head.params["key"])


# -- reports --------------------------------------------------------------------------------


def get(import_id: str) -> Job | None:
    head = jobs.get(import_id)
    return head if head is not None and head.kind == "import" else None


def lines_page(import_id: str, limit_chunks: int, cursor: dict | None) -> tuple[list[dict], dict | None]:
    result = Job.query(import_id, Job.part.startswith("lines:"), limit=limit_chunks, last_evaluated_key=cursor)
    lines: list[dict] = []
    for chunk in result:
        lines += (chunk.data or {}).get("lines") or []
    return lines, result.last_evaluated_key


def report(head: Job) -> dict:
    summary = jobs.summary(head) or {}
    params = head.params or {}
    data = head.data or {}
    counts = {name: 0 for name in ("created", "updated", "skipped", "refused", "blank")}
    counts.update(summary.get("progress") or {})
    body: dict[str, Any] = {
        "id": head.id, "kind": params.get("kind"), "mode": params.get("mode"), "list": params.get("list"),
        "dry_run": bool(params.get("dry_run")), "status": head.status, "source": params.get("source"),
        "encoding": data.get("encoding"), "delimiter": data.get("delimiter"), "columns": data.get("columns"),
        "ignored_columns": data.get("ignored_columns") or [], "lines_total": data.get("lines"), "counts": counts,
        "created_at": head.created_at, "finished_at": head.finished_at,
    }
    if head.status == "failed":
        body["error"] = {"message": head.error, "details": data.get("problems") or []}
    total = data.get("lines") or 0
    if head.status in ("done", "running", "failed") and total <= INLINE_LINES:
        lines, _ = lines_page(head.id, 1000, None)
        body["lines"] = lines
    else:
        body["lines"] = None
        body["lines_url"] = f"/imports/{head.id}/lines"
    return body
