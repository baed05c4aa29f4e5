"""CSV imports through the HTTP API: per-line reports, modes, encodings, file errors, S3 uploads."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from tests.helpers import aws_calls_through, aws_fault, error_paths, events_of, eventually, observing, run_schedule

CSV = {"Content-Type": "text/csv"}


def _import(api, body: bytes | str, query: str = "kind=contacts", **kwargs):
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return api.post(f"/imports?{query}", raw=raw, headers=CSV, **kwargs)


def _contact(api, email: str) -> dict | None:
    items = api.get(f"/contacts?email={email}").data["items"]
    return items[0] if items else None


def _outcomes(report: dict) -> dict[int, tuple[str, str]]:
    return {line["line"]: (line["outcome"], line.get("reason", "")) for line in report["lines"]}


def test_a_file_with_errors_on_some_lines(api):
    body = ("sep=;\n"
            "Courriel;Prénom;Nom;attributes.plan;consent_email\n"
            "ana@example.com;Ana;López;pro;oui\n"
            "not-an-email;Bob;Martin;free;oui\n"
            "carl@example.com;Carl;;team;peut-être\n"
            "dina@example.com;Dina;Durand;;\n"
            "\n"
            "ana@example.com;Ana;Lopez;team;oui\n"
            'eve@example.com;"Eve;Ève";Roux;pro;non\n'
            'fred@example.com;"Fred;Roux;pro;non\n'
            "gus@example.com;Gus;Bon;pro;non;extra\n").encode("cp1252")
    response = _import(api, body)
    assert response.status_code == 200, response.data
    report = response.data
    assert report["encoding"] == "windows-1252" and report["delimiter"] == ";"
    assert report["counts"] == {**report["counts"], "created": 3, "refused": 5, "blank": 1}
    lines = _outcomes(report)
    assert {line: outcome for line, (outcome, _) in lines.items()} == {
        3: "refused", 4: "refused", 5: "refused", 6: "created", 8: "created", 9: "created", 10: "refused",
        11: "refused"}
    assert "duplicate of line 8" in lines[3][1]
    assert "not a valid email address" in lines[4][1]
    assert "peut-être" in lines[5][1] and "consent" in lines[5][1]
    assert "never closed" in lines[10][1]
    assert "6 cells" in lines[11][1]
    ana = _contact(api, "ana@example.com")
    assert (ana["first_name"], ana["last_name"], ana["attributes"]) == ("Ana", "Lopez", {"plan": "team"})
    assert ana["consent"]["email"]["granted"] is True and ana["consent"]["email"]["source"].startswith("import:")
    assert _contact(api, "eve@example.com")["first_name"] == "Eve;Ève"
    assert _contact(api, "dina@example.com")["attributes"] == {}
    for email in ("carl@example.com", "fred@example.com", "gus@example.com"):
        assert _contact(api, email) is None
    assert api.get(f"/imports/{report['id']}").data["counts"] == report["counts"]
    created = [event for event in events_of(api, ana["id"], "contact.created")]
    assert created and created[0]["id"].startswith(f"s:import:{report['id']}:")


def test_upsert_clears_empty_cells_and_insert_only_skips_known_contacts(api):
    api.post("/contacts", {"email": "ana@example.com", "first_name": "Ana", "last_name": "Lopez",
                           "attributes": {"plan": "pro", "city": "Lyon"}})
    upsert = _import(api, "email,first_name,last_name,attributes.plan\n"
                          "ana@example.com,Ana,,team\nbob@example.com,Bob,Martin,free\n")
    assert [line["outcome"] for line in upsert.data["lines"]] == ["updated", "created"]
    ana = _contact(api, "ana@example.com")
    assert ana["last_name"] is None and ana["attributes"] == {"plan": "team", "city": "Lyon"}
    again = _import(api, "email,first_name\nana@example.com,Ana\n")
    assert again.data["lines"][0] == {**again.data["lines"][0], "outcome": "skipped", "reason": "no change"}
    insert_only = _import(api, "email,first_name\nana@example.com,Anna\ncarl@example.com,Carl\n",
                          "kind=contacts&mode=insert_only")
    assert [(line["outcome"], line.get("reason")) for line in insert_only.data["lines"]] == [
        ("skipped", "already exists (insert_only)"), ("created", None)]
    assert _contact(api, "ana@example.com")["first_name"] == "Ana"


def test_imported_contacts_join_a_list(api):
    api.post("/lists", {"id": "fair-2026", "name": "Met at the fair"})
    report = _import(api, "email\nana@example.com\nbob@example.com\n", "kind=contacts&list=fair-2026").data
    assert report["counts"]["created"] == 2 and report["list"] == "fair-2026"
    assert api.get("/lists/fair-2026").data["count"] == 2
    ana = _contact(api, "ana@example.com")
    assert ana["lists"] == ["fair-2026"]
    joined = events_of(api, ana["id"], "list.joined")
    assert joined[0]["properties"]["source"] == f"import:{report['id']}"


@contextmanager
def transactions_counted(before_first: Callable[[], None] | None = None) -> Iterator[list[int]]:
    """The DynamoDB transactions this thread writes meanwhile (a request's, not the queue
    consumer's), counted; `before_first` runs just before the first."""
    counted = [0]
    thread = threading.current_thread()

    def counting(make_call: Callable[..., Any], client: Any, operation: str, params: Any) -> Any:
        if operation == "TransactWriteItems" and threading.current_thread() is thread:
            counted[0] += 1
            if counted[0] == 1 and before_first is not None:
                before_first()
        return make_call(client, operation, params)

    with aws_calls_through(counting):
        yield counted


def test_new_contacts_are_created_many_to_a_request(api):
    body = "email,first_name\n" + "".join(f"guest{n}@example.com,Guest {n}\n" for n in range(60))
    with transactions_counted() as counted:
        report = _import(api, body).data
    assert report["counts"]["created"] == 60 and [line["line"] for line in report["lines"]] == list(range(2, 62))
    assert counted[0] == 3  # 25 contacts a transaction, each with its key and its contact.created
    guest = _contact(api, "guest59@example.com")
    assert guest["first_name"] == "Guest 59"
    assert [event["id"] for event in events_of(api, guest["id"], "contact.created")] == [
        f"s:import:{report['id']}:61/contact.created"]


def test_a_key_taken_while_lines_are_created_together_sends_each_line_on_its_own(api):
    body = "email,first_name\n" + "".join(f"guest{n}@example.com,Guest {n}\n" for n in range(30))

    def signup_meanwhile() -> None:  # another writer creates line 12's contact after the file was read
        with observing():
            assert api.post("/contacts", {"email": "guest10@example.com", "last_name": "Early"}).status_code == 201

    with transactions_counted(signup_meanwhile):
        report = _import(api, body).data
    outcomes = {line["line"]: line["outcome"] for line in report["lines"]}
    assert outcomes.pop(12) == "updated" and set(outcomes.values()) == {"created"}
    early = _contact(api, "guest10@example.com")
    assert (early["first_name"], early["last_name"]) == ("Guest 10", "Early")
    assert len(api.get("/contacts?limit=100").data["items"]) == 30

    def aws_fails() -> None:
        raise aws_fault("5xx", "TransactWriteItems")

    with transactions_counted(aws_fails) as counted:
        again = _import(api, body.replace("guest", "other")).data
    assert again["counts"]["created"] == 30
    assert counted[0] == 1 + 25 + 1  # the refused run of 25, its lines one by one, then the last 5 together


def test_file_errors_refuse_the_whole_file(api):
    unknown = _import(api, "email;first_name;favourite_colour\nana@example.com;Ana;blue\n")
    assert unknown.status_code == 422 and error_paths(unknown) == ["header[2]"]
    assert "favourite_colour" in unknown.data["error"]["details"][0]["message"]
    no_key = _import(api, "first_name\nAna\n")
    assert no_key.status_code == 422 and error_paths(no_key) == ["header"]
    wrong_encoding = _import(api, "email;first_name\nana@example.com;Zoé\n".encode("cp1252"),
                             "kind=contacts&encoding=utf-8")
    assert wrong_encoding.status_code == 422 and "line 2" in wrong_encoding.data["error"]["message"]
    assert _import(api, b"").status_code == 422
    workbook = _import(api, b"PK\x03\x04 binary")
    assert workbook.status_code == 422 and "xlsx" in workbook.data["error"]["message"]
    assert api.get("/contacts?limit=500").data["items"] == []


def test_explicit_encoding_and_delimiter(api):
    body = "email|prenom\nzoe@example.com|Zoé\n".encode("latin-1")
    report = _import(api, body, "kind=contacts&encoding=latin-1&delimiter=|").data
    assert report["counts"]["created"] == 1 and report["encoding"] == "iso8859-1"
    assert _contact(api, "zoe@example.com")["first_name"] == "Zoé"


def test_bad_parameters(api):
    bad = _import(api, "email\nana@example.com\n", "kind=people&mode=merge&delimiter=x&dry_run=maybe&list=nope")
    assert bad.status_code == 422
    assert sorted(error_paths(bad)) == ["delimiter", "dry_run", "kind", "list", "mode"]
    assert _import(api, "email\n", "").status_code == 422
    too_many = "email\n" + "".join(f"user{index}@example.com\n" for index in range(1001))
    large = _import(api, too_many)
    assert large.status_code == 413 and "/imports/uploads" in large.data["error"]["message"]
    analyst = api.key_for("analyst")
    assert _import(api, "email\nana@example.com\n", key=analyst).status_code == 403


def test_dry_run_writes_nothing(api):
    report = _import(api, "email\nana@example.com\nbroken\n", "kind=contacts&dry_run=true").data
    assert report["dry_run"] is True and [line["outcome"] for line in report["lines"]] == ["created", "refused"]
    assert _contact(api, "ana@example.com") is None


def test_unsubscribes_and_bounces(api):
    api.post("/contacts", {"email": "ana@example.com", "phone": "+33612345678",
                           "consent": {"email": True, "sms": True, "source": "form"}})
    unsubscribes = _import(api, "email;phone;channel\nana@example.com;;email\n;+33 6 12 34 56 78;sms\n"
                                "new@example.com;;\nnobody;;\n", "kind=unsubscribes").data
    assert [line["outcome"] for line in unsubscribes["lines"]] == ["updated", "updated", "created", "refused"]
    ana = _contact(api, "ana@example.com")
    assert ana["consent"]["email"]["granted"] is False and ana["consent"]["sms"]["granted"] is False
    assert _contact(api, "new@example.com")["consent"]["email"]["granted"] is False
    again = _import(api, "email\nana@example.com\n", "kind=unsubscribes").data
    assert again["lines"][0]["reason"] == "already unsubscribed"

    bounces = _import(api, "email,status,comment\nana@example.com,Hard,mailbox gone\nbob@example.com,soft,\n"
                           "ana@example.com,what,\n", "kind=bounces").data
    assert bounces["ignored_columns"] == ["comment"]
    assert [line["outcome"] for line in bounces["lines"]] == ["updated", "created", "refused"]
    assert _contact(api, "ana@example.com")["email_status"] == "hard_bounce"
    assert _contact(api, "bob@example.com")["email_status"] == "soft_bounce"
    updated = events_of(api, ana["id"], "contact.updated")
    assert any(event["properties"]["changed"] == ["email_status"] for event in updated)


@pytest.mark.slow
def test_large_files_go_through_an_upload_and_a_background_job(api):
    created = api.post("/imports/uploads?kind=contacts&mode=upsert")
    assert created.status_code == 201, created.data
    upload = created.data["upload"]
    assert created.data["status"] == "awaiting_upload" and upload["method"] == "PUT"
    not_yet = api.post(f"/imports/{created.data['id']}/start")
    assert not_yet.status_code == 409
    rows = "".join(f"user{index}@example.com;User {index}\n" for index in range(450))
    body = ("email;first_name\n" + rows + "broken;Nobody\n").encode("utf-8")
    put = requests.put(upload["url"], data=body, headers=upload["headers"], timeout=10)
    assert put.status_code == 200
    started = api.post(f"/imports/{created.data['id']}/start")
    assert started.status_code == 202
    report = eventually(lambda: (lambda data: data if data["status"] == "done" else None)(
        api.get(f"/imports/{created.data['id']}").data), timeout=120)
    assert report["counts"] == {**report["counts"], "created": 450, "refused": 1}
    assert report["lines_total"] == 451 and len(report["lines"]) == 451
    assert report["lines"][-1] == {"line": 452, "outcome": "refused", "reason": report["lines"][-1]["reason"]}
    refused = api.get(f"/imports/{created.data['id']}/lines?outcome=refused").data
    assert [line["line"] for line in refused["items"]] == [452]
    assert _contact(api, "user449@example.com")["first_name"] == "User 449"


def test_an_uploaded_import_goes_before_the_automation_queue_on_the_local_stack(api, monkeypatch):
    """One process runs the job and the queue's consumer: the pumps let the job go first, as they
    do a request (on AWS each runs in its own Lambda function)."""
    from chalicelib.imports.service import ImportJob
    from chalicelib.local.pump import FOREGROUND

    answered = threading.Event()  # no request in flight from then until both steps ran
    seen: list[bool] = []
    step = ImportJob.step

    def observed_step(self, head, part, index):
        answered.wait(timeout=10)
        seen.append(FOREGROUND.busy)
        return step(self, head, part, index)

    monkeypatch.setattr(ImportJob, "step", observed_step)
    created = api.post("/imports/uploads?kind=contacts").data
    requests.put(created["upload"]["url"], data=b"email\nana@example.com\nbob@example.com\n",
                 headers=created["upload"]["headers"], timeout=10)
    assert api.post(f"/imports/{created['id']}/start").status_code == 202
    answered.set()
    assert eventually(lambda: len(seen) >= 2)  # the file read (phase 0), then its lines
    assert seen == [True, True]
    done = eventually(lambda: (lambda data: data if data["status"] == "done" else None)(
        api.get(f"/imports/{created['id']}").data))
    assert done["counts"]["created"] == 2
    assert eventually(lambda: not FOREGROUND.busy, timeout=5)  # let go once the job is done


def test_an_upload_is_picked_up_by_the_schedule_and_unknown_imports_are_404(api):
    created = api.post("/imports/uploads?kind=bounces").data
    requests.put(created["upload"]["url"], data=b"email,status\nana@example.com,hard\n",
                 headers=created["upload"]["headers"], timeout=10)
    run_schedule("audience_jobs")
    report = eventually(lambda: (lambda data: data if data["status"] == "done" else None)(
        api.get(f"/imports/{created['id']}").data))
    assert report["counts"]["created"] == 1
    assert api.get("/imports/nope").status_code == 404
    assert api.post("/imports/nope/start").status_code == 404
