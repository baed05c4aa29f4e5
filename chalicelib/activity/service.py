"""Activity rank, stored: settings, the schedule, and the recomputation job.

The rule is activity.rank's (deciles of the cumulative share of active contacts). The job
never holds the base in memory: phase 1 scans the contacts in parallel, counts each one's
counted activities in the window (one Query per contact, on its own partition), stores the
count and builds a histogram (count -> contacts) per part; the histograms give the rank of
every count; phase 2 scans the stored counts and writes the ranks that changed, re-evaluating
the segments (built-in `active` / `inactive` among them) and field scores that read
activity_rank. Scheduled 7 days after install, then every `every` (default 30 days); on
demand through POST /activity/recompute.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib import clock, durations, faults
from chalicelib.activity import rank as ranking
from chalicelib.audience import jobs, react
from chalicelib.audience import settings as stored
from chalicelib.audience.jobs import Step
from chalicelib.problems import Problem
from chalicelib.scoring import service as scoring
from chalicelib.segments import service as segments
from chalicelib.store.audience import ActivityCount, Job, contact_ref
from chalicelib.store.models import Contact, Event

NAME = "activity"
FIRST_RUN_AFTER = timedelta(days=7)
PAGE = 100
KEEP_COUNTS_DAYS = 90


def current() -> dict[str, Any]:
    return ranking.with_defaults(stored.value(NAME))


def validate(body: Any) -> list[Problem]:
    return ranking.validate_settings(body)


def _state() -> dict:
    state = stored.state(NAME)
    if "installed_at" not in state:
        state = stored.merge_state(NAME, {"installed_at": clock.iso(clock.now())})
    return state


def next_run(state: Mapping[str, Any], settings: Mapping[str, Any]) -> datetime:
    if state.get("last_computed_at"):
        return durations.shift(clock.parse_iso(state["last_computed_at"]), settings["every"])
    return clock.parse_iso(state["installed_at"]) + FIRST_RUN_AFTER


def put(body: dict) -> dict:
    stored.write(NAME, {key: body[key] for key in ranking.DEFAULT_SETTINGS if key in body})
    return to_api()


def to_api() -> dict:
    settings = current()
    state = _state()
    job_id = state.get("job")
    return {**settings, "installed_at": state["installed_at"], "last_computed_at": state.get("last_computed_at"),
            "next_run_at": clock.iso(next_run(state, settings)),
            "job": jobs.summary(jobs.get(job_id)) if job_id else None}


def running_job() -> Job | None:
    job_id = stored.state(NAME).get("job")
    head = jobs.get(job_id) if job_id else None
    return head if head is not None and head.status in jobs.ACTIVE else None


def recompute() -> tuple[Job, bool]:
    """Start a recomputation; (job, started) with started False when one is running already."""
    running = running_job()
    if running is not None:
        return running, False
    settings = current()
    now = clock.now()
    job_id = jobs.new_id("activity_rank")
    stored.merge_state(NAME, {"job": job_id})
    job = jobs.start("activity_rank", {
        "total": jobs.scan_parts(Contact), "since": clock.iso(ranking.window_start(settings, now)),
        "until": clock.iso(now), "types": list(settings["count"]), "min_events": int(settings["min_events"])},
        job_id=job_id)
    return job, True


def tick() -> Job | None:
    """The schedule: start a recomputation when one is due."""
    segments.ensure_builtins()
    state = _state()
    if clock.now() < next_run(state, current()) or running_job() is not None:
        return None
    return recompute()[0]


def ranks_by_count(histogram: Mapping[int, int], *, min_events: int = 1) -> dict[int, int]:
    """The rank of each count from how many contacts have it: activity.rank's rule, on a
    histogram instead of the whole base (so a job never holds every contact)."""
    active = {count: number for count, number in histogram.items() if count >= min_events and number}
    total = sum(active.values())
    ranks: dict[int, int] = {}
    at_or_below = 0
    for count in sorted(active):
        at_or_below += active[count]
        ranks[count] = -(-10 * at_or_below // total)
    return ranks


def count_for(contact_id: str, since: str, until: str, types: list[str]) -> int:
    condition = Event.at.between(since, until + "~")
    return Event.count(contact_id, range_key_condition=condition, filter_condition=Event.type.is_in(*types))


class ActivityRank:
    def parts(self, head: Job, phase: int) -> int:
        return int(head.params["total"])

    def step(self, head: Job, part: Job, index: int) -> Step:
        return self._count(head, part, index) if int(head.phase or 0) == 0 else self._assign(head, part, index)

    def _count(self, head: Job, part: Job, index: int) -> Step:
        params = head.params
        minimum = int(params["min_events"])
        histogram: dict[str, int] = dict((part.data or {}).get("histogram") or {})
        result = Contact.scan(segment=index, total_segments=int(head.parts), limit=PAGE,
                              last_evaluated_key=part.cursor)
        seen = active = 0
        expires = clock.now() + timedelta(days=KEEP_COUNTS_DAYS)
        with ActivityCount.batch_write() as batch:
            for contact in result:
                seen += 1
                count = count_for(contact.id, params["since"], params["until"], params["types"])
                previous = int(contact.activity_rank or 0)
                if count >= minimum:
                    active += 1
                    histogram[str(count)] = histogram.get(str(count), 0) + 1
                if count >= minimum or previous:
                    batch.save(ActivityCount(contact.id, count=count, previous_rank=previous, job_id=head.id,
                                             computed_at=params["until"], expires_at=expires))
        return Step(result.last_evaluated_key, {"counted": seen, "active": active}, {"histogram": histogram})

    def _assign(self, head: Job, part: Job, index: int) -> Step:
        scoring_settings = scoring.current()
        ranks = {int(count): rank for count, rank in (head.data or {}).get("ranks", {}).items()}
        result = ActivityCount.scan(ActivityCount.job_id == head.id, segment=index,
                                    total_segments=int(head.parts), limit=PAGE,
                                    last_evaluated_key=part.cursor)
        seen = changed = 0
        for item in result:
            seen += 1
            new = ranks.get(int(item.count), 0)
            if new == int(item.previous_rank or 0):
                continue
            try:
                contact_ref(item.contact_id).update(actions=[Contact.activity_rank.set(new)],
                                                    condition=Contact.id.exists(), add_version_condition=False)
            except UpdateError as error:
                if not faults.lost_to_condition(error):
                    raise
                continue  # erased since
            changed += 1
            react.fields_changed(item.contact_id, {"activity_rank"}, cause=f"activity:{head.id}:{item.contact_id}",
                                 settings=scoring_settings)
        return Step(result.last_evaluated_key, {"ranked": seen, "changed": changed})

    def phase_done(self, head: Job, phase: int, parts: list[Job]) -> tuple[int, dict | None]:
        if phase > 0:
            return 0, None
        histogram: dict[int, int] = {}
        for part in parts:
            for count, number in ((part.data or {}).get("histogram") or {}).items():
                histogram[int(count)] = histogram.get(int(count), 0) + int(number)
        ranks = ranks_by_count(histogram, min_events=int(head.params["min_events"]))
        return jobs.scan_parts(ActivityCount), {"ranks": {str(count): rank for count, rank in ranks.items()},
                                           "active": sum(histogram.values())}

    def finished(self, head: Job) -> None:
        stored.merge_state(NAME, {"last_computed_at": head.params["until"], "last_job": head.id})

    def failed(self, head: Job, error: str) -> None:
        pass
