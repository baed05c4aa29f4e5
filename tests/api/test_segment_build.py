"""A segment build over the existing base schedules the checks of a time-relative segment."""
from __future__ import annotations

from datetime import timedelta

from chalicelib import clock
from tests.helpers import member_ids, run_schedule, segment_ready, wait_event


def _new(api, email: str) -> str:
    response = api.post("/contacts", {"email": email})
    assert response.status_code in (200, 201), response.data
    return response.data["id"]


def _recent(days: int) -> dict:
    return {"name": "Recent", "criteria": {"field": "created_at", "op": "after", "value": f"-P{days}D"}}


def test_builds_of_a_time_relative_segment_move_its_checks(api):
    ana = _new(api, "ana@example.com")
    clock.advance(timedelta(days=5))
    carl = _new(api, "carl@example.com")
    assert api.post("/segments", {"id": "recent", **_recent(7)}).status_code == 201
    segment_ready(api, "recent")
    assert member_ids(api, "recent") == {ana, carl}  # ana leaves in 2 days, carl in 7

    assert api.put("/segments/recent", _recent(4)).status_code == 200
    segment_ready(api, "recent")
    wait_event(api, ana, "segment.left", segment="recent")
    assert member_ids(api, "recent") == {carl}  # ana's check is gone, carl's moved to 4 days

    clock.advance(timedelta(days=3))
    assert run_schedule("segment_refresh")["checked"] == 0  # nothing due: not ana's old check
    clock.advance(timedelta(days=1, hours=1))
    assert run_schedule("segment_refresh")["changed"] == 1
    wait_event(api, carl, "segment.left", segment="recent")
    assert member_ids(api, "recent") == set()
