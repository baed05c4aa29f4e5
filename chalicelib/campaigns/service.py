"""Campaigns: create, edit (in draft only), schedule, start, cancel, pick the A/B winner, end.

States: draft -> scheduled -> sending -> sent, and cancelled from scheduled or sending (failed
when the selection fails). Every move is a conditional update on the state read, so two
requests, or a request and the minute schedule, never both move a campaign.

Timed moves (a start at a date, an A/B winner after its delay) are found by the `campaign_tick`
schedule through the sparse `by-due` index: one Query a minute, nothing scanned. A start "now"
happens within the request.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib import clock, durations, faults
from chalicelib.audience import jobs, workers
from chalicelib.campaigns import ab, definition, report
from chalicelib.problems import Invalid, WrongState
from chalicelib.reports import counters
from chalicelib.store.campaigns import DUE, Campaign

SELECTION = "campaign_selection"
EDITABLE = ("draft",)
RUNNING = ("scheduled", "sending")


class Exists(Exception):
    pass


def create(body: Any) -> Campaign:
    found = definition.problems(body)
    if found:
        raise Invalid(found)
    now = clock.iso(clock.now())
    campaign = Campaign(body["id"], name=body["name"], channel=body["channel"], definition=body, status="draft",
                        created_at=now, updated_at=now)
    try:
        campaign.save(condition=Campaign.id.does_not_exist())
    except PutError as error:
        if faults.lost_to_condition(error):
            raise Exists() from None
        raise
    return campaign


def get(campaign_id: str) -> Campaign | None:
    try:
        return Campaign.get(campaign_id, consistent_read=True)
    except DoesNotExist:
        return None


def page(limit: int, cursor: dict | None) -> tuple[list[Campaign], dict | None]:
    # Campaigns number in the hundreds to thousands a year: a page of the small table.
    result = Campaign.scan(limit=limit, last_evaluated_key=cursor)
    items = list(result)
    return items, result.last_evaluated_key


def update(campaign: Campaign, body: Any) -> Campaign:
    if campaign.status not in EDITABLE:
        raise WrongState(f"a {campaign.status} campaign cannot be changed (only a draft can)")
    found = definition.problems(body, path_id=campaign.id)
    if found:
        raise Invalid(found)
    body = {**body, "id": campaign.id}
    _move(campaign, EDITABLE, [Campaign.name.set(body["name"]), Campaign.channel.set(body["channel"]),
                               Campaign.definition.set(body)])
    return campaign


def delete(campaign: Campaign) -> None:
    if campaign.status not in EDITABLE:
        raise WrongState(f"a {campaign.status} campaign cannot be deleted (only a draft can; cancel one that runs)")
    try:
        campaign.delete(condition=Campaign.status.is_in(*EDITABLE))
    except DeleteError as error:
        if faults.lost_to_condition(error):
            raise WrongState("the campaign is no longer a draft") from None
        raise


def schedule(campaign: Campaign, body: Any) -> Campaign:
    """A draft scheduled `{"at": "now" | date-time, "local_time"?}`; started at once when due."""
    now = clock.now()
    found = definition.schedule_problems(body, now)
    if found:
        raise Invalid(found)
    if campaign.status != "draft":
        raise WrongState(f"a {campaign.status} campaign cannot be scheduled (only a draft can)")
    moment = now if body["at"] == "now" else definition.parse_moment(body["at"])
    assert moment is not None  # checked above
    start_at = clock.iso(max(moment, now))
    plan = {"at": body["at"], **({"local_time": body["local_time"]} if "local_time" in body else {})}
    _move(campaign, EDITABLE, [Campaign.status.set("scheduled"), Campaign.schedule.set(plan),
                               Campaign.start_at.set(start_at), Campaign.due.set(DUE), Campaign.due_at.set(start_at)])
    if start_at <= clock.iso(clock.now()):
        start(campaign)
    return campaign


def start(campaign: Campaign) -> bool:
    """Freeze the audience and start sending: the selection job, whose parts write the recipients
    and queue their batches. False when another start (or a cancel) came first."""
    job_id = jobs.new_id(SELECTION)
    now = clock.now()
    actions: list[Action] = [Campaign.status.set("sending"), Campaign.job_id.set(job_id),
                             Campaign.started_at.set(clock.iso(now))]
    variants = definition.variant_names(campaign.definition)
    by, after, share = definition.winner_rule(campaign.definition)
    if variants and share < 100:  # the winner is picked after the delay, by the schedule
        actions += [Campaign.due_at.set(clock.iso(durations.shift(now, after)))]
    else:
        actions += [Campaign.due.remove(), Campaign.due_at.remove()]
    try:
        _move(campaign, ("scheduled",), actions)
    except WrongState:
        return False
    jobs.start(SELECTION, {"campaign": campaign.id, "stage": "select"}, job_id=job_id)
    workers.start(1)  # on AWS: at once rather than at the next minute's schedule
    return True


def cancel(campaign: Campaign) -> Campaign:
    """Stop what has not gone: the selection stops, and the sender drops the batches it finds
    after this (a batch under way finishes its current sends)."""
    if campaign.status not in RUNNING:
        raise WrongState(f"a {campaign.status} campaign cannot be cancelled (a scheduled or sending one can)")
    _move(campaign, RUNNING, [Campaign.status.set("cancelled"), Campaign.due.remove(), Campaign.due_at.remove(),
                              Campaign.finished_at.set(clock.iso(clock.now()))])
    for job_id in (campaign.job_id, campaign.release_job_id):
        if job_id:
            jobs.cancel(job_id, "the campaign was cancelled")
    return campaign


def _move(campaign: Campaign, states: tuple[str, ...], actions: list[Action]) -> None:
    actions = [*actions, Campaign.updated_at.set(clock.iso(clock.now()))]
    try:
        campaign.update(actions=actions, condition=Campaign.status.is_in(*states))
    except UpdateError as error:
        if faults.lost_to_condition(error):
            raise WrongState(f"the campaign is no longer {' or '.join(states)}") from None
        raise


# -- timed moves: the minute schedule ----------------------------------------------------------


def tick() -> dict[str, int]:
    """Start the scheduled campaigns that are due; pick the A/B winners whose delay is over."""
    done = {"started": 0, "winners": 0}
    now = clock.iso(clock.now())
    for hit in Campaign.by_due.query(DUE, Campaign.due_at <= now):
        campaign = get(hit.id)
        if campaign is None or campaign.due_at is None or campaign.due_at > now:
            continue
        if campaign.status == "scheduled":
            done["started"] += start(campaign)
        elif campaign.status == "sending" and campaign.winner is None:
            done["winners"] += choose_winner(campaign)
    return done


def choose_winner(campaign: Campaign) -> bool:
    """The A/B winner, by unique opens or clicks per message sent so far; the rest of the audience
    then gets it (the release job queues the held recipients). Once: conditional on no winner.
    Not before the selection is over (its last parts may still write held recipients): the next
    minute's tick tries again."""
    if campaign.selected is None:
        return False
    variants = definition.variant_names(campaign.definition)
    by, _, _ = definition.winner_rule(campaign.definition)
    found = report.counts(campaign.id, [f"variant#{variant}" for variant in variants])
    chosen = ab.winner(variants, {variant: found[f"variant#{variant}"] for variant in variants}, by)
    job_id = jobs.new_id(SELECTION)
    try:
        _move(campaign, ("sending",), [Campaign.winner.set(chosen), Campaign.winner_at.set(clock.iso(clock.now())),
                                       Campaign.release_job_id.set(job_id), Campaign.due.remove(),
                                       Campaign.due_at.remove()])
    except WrongState:
        return False
    jobs.start(SELECTION, {"campaign": campaign.id, "stage": "release", "winner": chosen}, job_id=job_id)
    workers.start(1)
    return True


# -- the end -------------------------------------------------------------------------------------


def selection_over(campaign_id: str, stage: str, progress: dict[str, int]) -> None:
    """The selection (or the winner's release) queued every recipient: record the numbers."""
    campaign = get(campaign_id)
    if campaign is None:
        return
    if stage == "select":
        selected, held = int(progress.get("selected", 0)), int(progress.get("held", 0))
        actions: list[Action] = [Campaign.selected.set(selected), Campaign.held.set(held),
                                 Campaign.expected.set(selected - held)]
    else:
        actions = [Campaign.expected.set(int(campaign.selected or 0))]
    campaign.update(actions=actions)
    check_done(campaign_id)


def processed(campaign_id: str) -> int:
    totals = report.counts(campaign_id, [counters.CAMPAIGN_TOTALS])[counters.CAMPAIGN_TOTALS]
    return totals.get("sent", 0) + totals.get("failed", 0) + sum(
        value for name, value in totals.items() if name.startswith("skipped:"))


def check_done(campaign_id: str) -> bool:
    """Mark the campaign sent once every recipient expected so far is sent, skipped or failed
    (and an A/B test's winner went to the rest)."""
    campaign = get(campaign_id)
    if campaign is None or campaign.status != "sending" or campaign.expected is None:
        return False
    variants = definition.variant_names(campaign.definition)
    if variants and int(campaign.held or 0) and campaign.winner is None:
        return False
    if campaign.winner is not None and int(campaign.expected) != int(campaign.selected or 0):
        return False  # the release is under way
    if processed(campaign_id) < int(campaign.expected):
        return False
    try:
        _move(campaign, ("sending",), [Campaign.status.set("sent"), Campaign.finished_at.set(clock.iso(clock.now()))])
    except WrongState:
        return False
    return True


def failed(campaign_id: str, error: str) -> None:
    campaign = get(campaign_id)
    if campaign is None:
        return
    try:
        _move(campaign, ("sending",), [Campaign.status.set("failed"), Campaign.error.set(error[:500]),
                                       Campaign.due.remove(), Campaign.due_at.remove(),
                                       Campaign.finished_at.set(clock.iso(clock.now()))])
    except WrongState:
        pass


def to_api(campaign: Campaign) -> dict[str, Any]:
    body = dict(campaign.definition)
    return {**body, "status": campaign.status, "schedule": campaign.schedule, "start_at": campaign.start_at,
            "selected": int(campaign.selected) if campaign.selected is not None else None,
            "winner": campaign.winner, "winner_at": campaign.winner_at, "error": campaign.error,
            "created_at": campaign.created_at, "updated_at": campaign.updated_at,
            "started_at": campaign.started_at, "finished_at": campaign.finished_at}


def started_at(campaign: Campaign) -> datetime:
    return clock.parse_iso(campaign.start_at or campaign.started_at or clock.iso(clock.now()))
