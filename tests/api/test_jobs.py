"""Background jobs through the HTTP API: they scale with the work, outlive a worker's budget,
and survive a worker that stops mid-part."""
from __future__ import annotations

import time

import pytest

from tests.helpers import eventually, member_ids, run_schedule, segment_ready, throttled

CSV = {"Content-Type": "text/csv"}
PRO = {"field": "attributes.plan", "op": "eq", "value": "pro"}
BASE = 120  # contacts: two scan pages (100, 20)


@pytest.fixture
def job_settings(monkeypatch):
    """Set job settings for one test (read lazily, so they apply to the running stack)."""
    from chalicelib import config

    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"PARCOURS_JOB_{name.upper()}", value)
        config.reload()

    yield apply
    monkeypatch.undo()
    config.reload()


def _base(api, count: int = BASE) -> set[str]:
    """`count` contacts, one in three on the pro plan; the ids of the pro ones."""
    rows = "".join(f"user{index}@example.com;{'pro' if index % 3 == 0 else 'free'}\n" for index in range(count))
    imported = api.post("/imports?kind=contacts", raw=f"email;attributes.plan\n{rows}".encode(), headers=CSV)
    assert imported.status_code == 200 and imported.data["counts"]["created"] == count, imported.data
    return {line["contact_id"] for line in imported.data["lines"]
            if int(line["line"]) % 3 == 2}  # line 2 is user0


def _no_local_worker() -> None:
    """Jobs run only when a test runs a worker (as on AWS, where the schedule does)."""
    from chalicelib.audience import jobs

    jobs.run_as_started(lambda: False)


def test_a_build_longer_than_a_worker_budget_finishes_on_the_local_stack(api, job_settings):
    pro = _base(api)
    job_settings(budget_seconds="0.3")  # each worker round ends mid-part, its part handed back
    created = api.post("/segments", {"id": "pro", "name": "Pro plan", "criteria": PRO})
    assert created.status_code == 201 and created.data["build"]["parts"] == 1
    ready = segment_ready(api, "pro")
    assert ready["count"] == len(pro) == BASE // 3
    assert ready["build"]["progress"]["evaluated"] == BASE
    assert member_ids(api, "pro") == pro


def test_parts_follow_the_base_size(api, job_settings):
    pro = _base(api)
    job_settings(part_items="40")
    created = api.post("/segments", {"id": "pro", "name": "Pro plan", "criteria": PRO})
    assert created.data["build"]["parts"] == 3  # 120 contacts, 40 a part
    ready = segment_ready(api, "pro")
    assert ready["build"]["parts_done"] == 3 and ready["build"]["progress"]["evaluated"] == BASE
    assert member_ids(api, "pro") == pro


def test_a_build_survives_a_worker_that_stops_mid_part(api, job_settings):
    from chalicelib.audience import jobs

    pro = _base(api)
    job_settings(lease_seconds="3")
    _no_local_worker()
    created = api.post("/segments", {"id": "pro", "name": "Pro plan", "criteria": PRO})
    assert created.data["status"] == "building" and created.data["build"]["parts"] == 1

    def first_page_only() -> bool:  # the worker stops after its first checkpoint, keeping its lease
        return api.get("/segments/pro").data["build"]["progress"].get("evaluated", 0) == 0

    jobs.work(alive=first_page_only)
    stopped = api.get("/segments/pro").data
    assert stopped["status"] == "building" and stopped["build"]["progress"]["evaluated"] == 100
    assert run_schedule("audience_jobs") == {"parts": 0, "workers": 0}  # its lease holds the part
    time.sleep(3.1)
    assert run_schedule("audience_jobs") == {"parts": 1, "workers": 0}  # taken over from the checkpoint
    ready = api.get("/segments/pro").data
    assert ready["status"] == "ready" and ready["count"] == len(pro)
    assert ready["build"]["progress"]["evaluated"] == BASE  # the first page was not evaluated twice
    assert member_ids(api, "pro") == pro


@pytest.mark.slow
def test_a_build_whose_scans_are_throttled_backs_off_and_finishes(api):
    from chalicelib.store.models import Contact

    pro = _base(api, 30)
    client = Contact._get_connection().connection.client
    # one failure more than a part used to be allowed in its whole life
    with throttled(client, "Scan", 4, "ProvisionedThroughputExceededException") as left:
        api.post("/segments", {"id": "pro", "name": "Pro plan", "criteria": PRO})
        ready = segment_ready(api, "pro")
        assert left["refusals"] == 0
    assert ready["count"] == len(pro) == 10 and ready["build"]["progress"]["evaluated"] == 30
    assert member_ids(api, "pro") == pro


def test_the_schedule_starts_more_workers_when_parts_wait_and_none_without_work(api, job_settings):
    from chalicelib.local.stack import function_name

    pro = _base(api)
    job_settings(part_items="20", threads="1", max_workers="3", worker_function=function_name("audience_worker"))
    _no_local_worker()
    assert run_schedule("audience_jobs") == {"parts": 0, "workers": 0}  # nothing to do: no worker started
    created = api.post("/segments", {"id": "pro", "name": "Pro plan", "criteria": PRO})
    assert created.data["build"]["parts"] == 6  # 120 contacts, 20 a part
    # one part in its thread, five waiting: two more workers (the most allowed), which took the rest
    assert run_schedule("audience_jobs") == {"parts": 1, "workers": 2}
    ready = api.get("/segments/pro").data
    assert ready["status"] == "ready" and ready["build"]["parts_done"] == 6
    assert ready["build"]["progress"]["evaluated"] == BASE and member_ids(api, "pro") == pro
    assert run_schedule("audience_jobs") == {"parts": 0, "workers": 0}


def test_removing_a_large_list_runs_in_key_ranges(api, job_settings):
    api.post("/lists", {"id": "vip", "name": "VIP"})
    rows = "".join(f"user{index}@example.com\n" for index in range(100))
    imported = api.post("/imports?kind=contacts&list=vip", raw=f"email\n{rows}".encode(), headers=CSV)
    assert imported.status_code == 200 and api.get("/lists/vip").data["count"] == 100
    job_settings(part_items="25")
    removal = api.delete("/lists/vip")
    assert removal.status_code == 202 and removal.data["job"]["parts"] == 4  # 100 members, 25 a part
    assert api.get("/lists/vip").status_code == 404  # gone at once for users; its members leave in the job

    def still_listed() -> int:
        listed = api.get("/contacts?limit=500").data["items"]
        assert len(listed) == 100
        return sum(1 for item in listed if item["lists"])

    eventually(lambda: still_listed() == 0, timeout=30)
    recreated = eventually(lambda: (lambda r: r if r.status_code == 201 else None)(
        api.post("/lists", {"id": "vip", "name": "VIP again"})))  # once the removal has finished
    assert recreated.data["count"] == 0


def _upload(api, body: bytes) -> str:
    import requests

    created = api.post("/imports/uploads?kind=contacts").data
    put = requests.put(created["upload"]["url"], data=body, headers=created["upload"]["headers"], timeout=10)
    assert put.status_code == 200
    return created["id"]


@pytest.mark.slow  # 600 contacts created in the background: about 20 s
def test_an_upload_is_imported_in_parts_and_survives_a_worker_that_stops_mid_part(api, job_settings):
    from chalicelib.audience import jobs

    job_settings(part_items="400", lease_seconds="3")  # two parts of two chunks of 200 lines
    _no_local_worker()
    rows = [f'user{index}@example.com;"User;{index}"\n' for index in range(600)]  # quoted delimiters
    rows[450] = "broken;Nobody\n"
    import_id = _upload(api, ("email;first_name\n" + "".join(rows)).encode())
    assert api.post(f"/imports/{import_id}/start").status_code == 202

    def report() -> dict:
        return api.get(f"/imports/{import_id}").data

    def first_chunk() -> bool:  # stop once the file is read and a part has its first checkpoint
        return sum((jobs.summary(jobs.get(import_id)) or {})["progress"].values()) < 200

    jobs.work(alive=first_chunk)
    stopped = report()
    assert stopped["status"] == "running" and 200 <= stopped["counts"]["created"] < 599
    assert stopped["lines"] and len(stopped["lines"]) < 600
    time.sleep(3.1)
    run_schedule("audience_jobs")
    done = eventually(lambda: (lambda data: data if data["status"] == "done" else None)(report()), timeout=30)
    assert done["counts"] == {"created": 599, "updated": 0, "skipped": 0, "refused": 1, "blank": 0}
    lines = done["lines"]
    assert [line["line"] for line in lines] == list(range(2, 602))  # each line once, in file order
    assert [line["outcome"] for line in lines].count("created") == 599
    assert api.get("/contacts?email=user599@example.com").data["items"][0]["first_name"] == "User;599"


def test_an_uploaded_file_refused_when_read_fails_its_import_with_the_reasons(api):
    import_id = _upload(api, b"email;colour\nana@example.com;red\n")
    assert api.post(f"/imports/{import_id}/start").status_code == 202
    failed = eventually(lambda: (lambda data: data if data["status"] == "failed" else None)(
        api.get(f"/imports/{import_id}").data), timeout=30)
    assert "colour" in failed["error"]["message"] + str(failed["error"]["details"])
    assert failed["counts"]["created"] == 0 and api.get("/contacts?email=ana@example.com").data["items"] == []


def test_an_import_chunk_whose_events_were_not_queued_is_retried_as_it_happened(api):
    """The chunk's contacts are written, then the queue refuses its events: the retried chunk
    reports the lines as created (not "no change") and queues the events the first try recorded,
    so the new contacts still enter the segments they match."""
    from chalicelib.store import queue

    api.post("/segments", {"id": "pro", "name": "Pro plan", "criteria": PRO})
    segment_ready(api, "pro")
    rows = "".join(f"user{index}@example.com;{'pro' if index % 3 == 0 else 'free'}\n" for index in range(60))
    with throttled(queue._sqs(), "SendMessageBatch", 1) as left:
        import_id = _upload(api, f"email;attributes.plan\n{rows}".encode())
        assert api.post(f"/imports/{import_id}/start").status_code == 202
        done = eventually(lambda: (lambda data: data if data["status"] == "done" else None)(
            api.get(f"/imports/{import_id}").data), timeout=30)
        assert left["refusals"] == 0
    assert done["counts"]["created"] == 60 and {line["outcome"] for line in done["lines"]} == {"created"}
    pro = {line["contact_id"] for line in done["lines"] if int(line["line"]) % 3 == 2}
    assert eventually(lambda: member_ids(api, "pro") == pro, timeout=30)
