"""Background jobs through the HTTP API: they scale with the work, outlive a worker's budget,
and survive a worker that stops mid-part."""
from __future__ import annotations

import time

import pytest

from tests.helpers import member_ids, run_schedule, segment_ready

CSV = {"Content-Type": "text/csv"}
PRO = {"field": "attributes.plan", "op": "eq", "value": "pro"}
BASE = 300  # contacts: three scan pages of 100


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
    assert created.data["build"]["parts"] == 8  # 300 contacts, 40 a part
    ready = segment_ready(api, "pro")
    assert ready["build"]["parts_done"] == 8 and ready["build"]["progress"]["evaluated"] == BASE
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
    assert run_schedule("audience_jobs") == {"parts": 0}  # its lease holds the part
    time.sleep(3.1)
    assert run_schedule("audience_jobs") == {"parts": 1}  # taken over from the checkpoint
    ready = api.get("/segments/pro").data
    assert ready["status"] == "ready" and ready["count"] == len(pro)
    assert ready["build"]["progress"]["evaluated"] == BASE  # the first page was not evaluated twice
    assert member_ids(api, "pro") == pro
