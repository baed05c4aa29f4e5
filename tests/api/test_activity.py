"""Activity rank through the HTTP API: settings, deciles over a generated base, the schedule."""
from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest

from chalicelib import clock
from chalicelib.activity import rank
from chalicelib.activity.service import ranks_by_count
from tests.helpers import error_paths, eventually, run_schedule


def _generate(groups: dict[int, int], *, stale: int = 0) -> dict[str, int]:
    """Contacts and their page views, written straight to the store (fast): {count: contacts}.
    `stale` more contacts only have views older than the window. Returns contact id -> count."""
    from chalicelib.contacts import service as contacts
    from chalicelib.store.models import Event

    now = clock.now()
    counts: dict[str, int] = {}
    number = 0
    with Event.batch_write() as batch:
        for count, how_many in [*groups.items(), (-1, stale)]:
            for _ in range(how_many):
                number += 1
                made = contacts.upsert(contacts.Identity(email=f"c{number}@example.com"), contacts.Change()).contact
                counts[made.id] = max(count, 0)
                moments = [now - timedelta(days=90)] if count < 0 else \
                    [now - timedelta(days=1 + index % 50, minutes=index) for index in range(count)]
                for index, moment in enumerate(moments):
                    batch.save(Event(made.id, f"{clock.iso(moment)}#v{number}-{index}", id=f"v{number}-{index}",
                                     type="page_view", properties={}, received_at=clock.iso(now)))
    return counts


def _recompute(api) -> dict:
    started = api.post("/activity/recompute")
    assert started.status_code == 202 and started.data["started"] is True
    eventually(lambda: (api.get("/settings/activity").data["job"] or {}).get("status") == "done", timeout=120,
               interval=0.5)
    return api.get("/settings/activity").data


def _ranks(api) -> dict[str, int]:
    ranks, cursor = {}, None
    while True:
        page = api.get("/contacts?limit=500" + (f"&cursor={cursor}" if cursor else "")).data
        ranks.update({item["id"]: item["activity_rank"] for item in page["items"]})
        cursor = page["next"]
        if not cursor:
            return ranks


def test_settings_defaults_and_validation(api):
    settings = api.get("/settings/activity").data
    assert settings["window"] == "P60D" and settings["min_events"] == 1 and settings["every"] == "P30D"
    assert settings["last_computed_at"] is None
    assert clock.parse_iso(settings["next_run_at"]) - clock.parse_iso(settings["installed_at"]) == timedelta(days=7)
    updated = api.put("/settings/activity", {"window": "P30D", "count": ["page_view", "purchase"], "min_events": 2})
    assert updated.status_code == 200 and updated.data["window"] == "P30D" and updated.data["every"] == "P30D"
    bad = api.put("/settings/activity", {"window": "-P1D", "count": [], "min_events": 0, "every": "PT1H", "x": 1})
    assert bad.status_code == 422
    assert sorted(error_paths(bad)) == ["count", "every", "min_events", "window", "x"]
    analyst = api.key_for("analyst")
    assert api.post("/activity/recompute", key=analyst).status_code == 403


@pytest.mark.slow
def test_deciles_over_a_generated_base(api):
    # 200 active contacts in groups of 20 per count (1..10 views): each group is one decile,
    # ties never split; 40 with no activity and 20 whose views are older than the window: 0.
    counts = _generate({count: 20 for count in range(1, 11)} | {0: 40}, stale=20)
    settings = _recompute(api)
    assert settings["last_computed_at"] and settings["job"]["progress"]["counted"] == 260
    ranks = _ranks(api)
    assert len(ranks) == 260
    assert Counter(ranks.values()) == {**{decile: 20 for decile in range(1, 11)}, 0: 60}
    assert all(ranks[contact_id] == count for contact_id, count in counts.items())
    assert rank.rank(counts) == {contact_id: ranks[contact_id] for contact_id in counts}


@pytest.mark.slow
def test_ties_across_decile_boundaries_and_the_built_in_segments(api):
    # 100 active contacts: 30 with 1 view, 30 with 2, 40 with 3: a tie takes the decile of its
    # top member; 10 without activity. The built-in segments follow the ranks.
    counts = _generate({1: 30, 2: 30, 3: 40, 0: 10})
    assert api.get("/segments/inactive").data["builtin"] is True
    eventually(lambda: api.get("/segments/inactive").data["count"] == 110)
    _recompute(api)
    ranks = _ranks(api)
    assert {count: {ranks[c] for c, n in counts.items() if n == count} for count in (0, 1, 2, 3)} == {
        0: {0}, 1: {3}, 2: {6}, 3: {10}}
    eventually(lambda: api.get("/segments/active").data["count"] == 100)
    eventually(lambda: api.get("/segments/inactive").data["count"] == 10)
    some = next(c for c, n in counts.items() if n == 2)
    entered = [e for e in api.get(f"/contacts/{some}/events?type=segment.entered").data["items"]]
    assert {e["properties"]["segment"] for e in entered} == {"active", "inactive"}


def test_ranks_by_count_is_the_rank_rule_on_a_histogram():
    generator = random.Random(7)
    for _ in range(50):
        counts = {f"c{index}": generator.choice([0, 0, 1, 2, 3, 5, 8, 13, generator.randrange(40)])
                  for index in range(generator.randrange(1, 400))}
        minimum = generator.choice([1, 2, 3])
        by_count = ranks_by_count(Counter(counts.values()), min_events=minimum)
        assert rank.rank(counts, min_events=minimum) == {c: by_count.get(n, 0) for c, n in counts.items()}


def test_the_schedule_runs_seven_days_after_install_then_every_period(api):
    installed = api.get("/settings/activity").data
    assert run_schedule("audience_daily")["activity_job"] is None
    clock.advance(timedelta(days=7, minutes=1))
    started = run_schedule("audience_daily")["activity_job"]
    assert started is not None

    def computed() -> dict | None:
        # the job reads done a moment before its completion hook notes when the ranks were computed
        now = api.get("/settings/activity").data
        return now if (now["job"] or {}).get("status") == "done" and now["last_computed_at"] else None

    after = eventually(computed, timeout=60)
    assert after["installed_at"] == installed["installed_at"]
    assert clock.parse_iso(after["next_run_at"]) - clock.parse_iso(after["last_computed_at"]) == timedelta(days=30)
    assert run_schedule("audience_daily")["activity_job"] is None
    clock.advance(timedelta(days=30))
    assert run_schedule("audience_daily")["activity_job"] not in (None, started)
