"""Lead scoring, stored: settings, the score and stage of each contact, decay and rescoring.

The pure rules are in scoring.rules. Each contact's event points live in the `scores` table as
one number decayed to a reference instant: exponential decay is memoryless, so adding an
event is  points(ref) = points(prev) * 2^-((ref - prev) / half_life) + p * 2^-((ref - at) / half_life)
and the score at any instant follows from that pair, whatever the history. Adding points is one
transaction: the score.changed event (idempotency record included, so a redelivered event
scores once), the state (optimistic version), the contact's score and stage, and
stage.changed when the stage moves. Decay is applied to the stored score by a daily job;
changing the rules rescores every contact from its history in a background job.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib import clock, durations, retry
from chalicelib.audience import jobs
from chalicelib.audience import settings as stored
from chalicelib.audience.jobs import Step
from chalicelib.contacts import service as contacts
from chalicelib.criteria import ContactSubject
from chalicelib.events import readers, routing
from chalicelib.events import service as events
from chalicelib.problems import Problem, join
from chalicelib.scoring import rules
from chalicelib.store import queue
from chalicelib.store.audience import Job, ScoreState, contact_ref, event_items
from chalicelib.store.models import Contact, Event
from chalicelib.store.transactions import CONFLICT, Transaction

NAME = "scoring"
LOOPING = ("score.changed", "stage.changed")  # scoring these would feed on itself
DECAY_STEP = 0.5  # the daily decay job rewrites a score that moved by at least this much


# -- settings -------------------------------------------------------------------------------


def current() -> dict[str, Any]:
    return rules.with_defaults(stored.value(NAME))


@dataclass(frozen=True)
class _Rescore:
    """A rescore under way (or just done): events received up to `since` are its to count."""

    job: str
    since: str


RESCORE_MEMORY = timedelta(hours=1)  # after the job, late deliveries of older events still defer to it


def _current_with_rescore() -> tuple[dict[str, Any], _Rescore | None]:
    item = stored.read(NAME, consistent=False)  # every event reads it: half a read unit
    settings = rules.with_defaults(item.value if item is not None and item.value else None)
    state = dict(item.state or {}) if item is not None else {}
    job, since, finished = state.get("rescore_job"), state.get("rescore_from"), state.get("rescore_finished_at")
    if not job or not since or (finished and clock.now() - clock.parse_iso(finished) > RESCORE_MEMORY):
        return settings, None
    return settings, _Rescore(job, since)


def _received_after(event: Mapping[str, Any], contact_id: str, since: str) -> bool:
    """Whether the event was stored after `since` (timestamps run at most minutes ahead of storage)."""
    if clock.parse_iso(event["timestamp"]) > clock.parse_iso(since) + timedelta(minutes=10):
        return True
    try:
        item = Event.get(contact_id, f"{event['timestamp']}#{event['id']}")
    except DoesNotExist:
        return True
    return item.received_at > since


def validate(body: Any) -> list[Problem]:
    problems = rules.validate_settings(body)
    if isinstance(body, Mapping) and isinstance(body.get("rules"), list):
        for index, rule in enumerate(body["rules"]):
            if isinstance(rule, Mapping) and rule.get("event") in LOOPING:
                problems.append(Problem(join(join("rules", index), "event"),
                                        f"{rule['event']} comes from scoring itself: it cannot give points"))
    return problems


def put(body: dict) -> dict:
    """Store new settings and rescore every contact under them (background job)."""
    routing.set_scoring(readers.scoring_facts(rules.with_defaults(body)))  # before events are scored by them
    stored.write(NAME, {key: body[key] for key in ("rules", "half_life", "stages") if key in body})
    previous = stored.state(NAME).get("rescore_job")
    if previous:
        jobs.cancel(previous, "replaced by newer settings")
    job_id, since = jobs.new_id("rescore"), clock.iso(clock.now())
    stored.merge_state(NAME, {"rescore_job": job_id, "rescore_from": since, "rescore_finished_at": None})
    jobs.start("rescore", {"total": jobs.scan_parts(Contact), "since": since}, job_id=job_id)
    return to_api()


def to_api() -> dict:
    item = stored.read(NAME)
    job_id = stored.state(NAME).get("rescore_job")
    return {**current(), "updated_at": item.updated_at if item else None,
            "rescore": jobs.summary(jobs.get(job_id)) if job_id else None}


# -- the score of a contact -----------------------------------------------------------------


def _half_life_seconds(settings: Mapping[str, Any]) -> float | None:
    half_life = settings.get("half_life")
    return durations.seconds(half_life) if half_life else None


def _decay(points: float, since: datetime | None, until: datetime, half_life: float | None) -> float:
    if not points or half_life is None or since is None or until <= since:
        return float(points or 0)
    return float(points) * 0.5 ** ((until - since).total_seconds() / half_life)


@dataclass
class _State:
    item: ScoreState
    points: float
    at: datetime | None

    @classmethod
    def load(cls, contact_id: str) -> _State:
        try:
            item = ScoreState.get(contact_id, consistent_read=True)
        except DoesNotExist:
            item = ScoreState(contact_id, points=0, fields=0, score=0, stage="visitor")
        at = clock.parse_iso(item.at) if item.at else None
        return cls(item, float(item.points or 0), at)


@dataclass
class Applied:
    applied: bool  # False: done before (same cause), or the contact is gone
    changed: set[str] = field(default_factory=set)  # "score", "stage"
    score: float | None = None  # as written on the contact
    stage: str | None = None


def field_points(settings: Mapping[str, Any], contact: Contact, now: datetime | None = None) -> int:
    if not any("criteria" in rule for rule in settings["rules"]):
        return 0
    subject = ContactSubject(contacts.to_api(contact), lists=set(contact.lists or ()))
    return rules.field_points(settings, subject, now=now)


def score_event(event: Mapping[str, Any], load: Callable[[], Contact | None]) -> Applied:
    """Score one stored event (and the profile it left): called for every event by automation.
    `load` reads the contact, only when a rule may give points."""
    if event["type"] in LOOPING:
        return Applied(False)
    settings, rescore = _current_with_rescore()
    points = rules.event_points(settings, event)
    profile_rules = any("criteria" in rule for rule in settings["rules"])
    if not points and not profile_rules:
        return Applied(False)
    contact = load()
    if contact is None:
        return Applied(False)
    fields = field_points(settings, contact)
    at = clock.parse_iso(event["timestamp"]) if event.get("timestamp") else clock.now()
    after = _received_after(event, contact.id, rescore.since) if rescore and points else None
    return apply(contact.id, settings, points=points, at=at, fields=fields, cause=event["id"],
                 reason={"event": event["type"], "by": event["id"]}, rescore=rescore, received_after=after)


def add(contact_id: str, points: int, *, reason: dict, event_id: str) -> Applied:
    """Points from a scenario step, once per `event_id`; they decay like event points. The
    caller re-evaluates what reads the fields that changed (audience.react)."""
    settings, rescore = _current_with_rescore()
    contact = contacts.get(contact_id)
    if contact is None:
        return Applied(False)
    return apply(contact_id, settings, points=points, at=clock.now(), fields=field_points(settings, contact),
                 cause=event_id, reason=reason, rescore=rescore, received_after=True)


def apply(contact_id: str, settings: Mapping[str, Any], *, points: float, at: datetime, fields: float,
          cause: str, reason: dict, rescore: _Rescore | None = None, received_after: bool | None = None) -> Applied:
    """Add `points` earned at `at` and set the profile's field points; write score and stage.

    While a rescore runs, an event it counts from history (received before it started) adds
    nothing once the contact is rescored; a later one also goes into the state's `delta`, which
    the rescore adds to its recomputation: no event counts twice, none is lost."""
    half_life = _half_life_seconds(settings)

    def attempt() -> Applied | None:
        state = _State.load(contact_id)
        counted, late = points, 0.0
        if rescore is not None and points:
            if not received_after and state.item.rescored_by == rescore.job:
                counted = 0
            elif received_after and state.item.rescored_by != rescore.job:
                late = points
        if not counted and float(state.item.fields or 0) == float(fields):
            return Applied(False)
        now = clock.now()
        reference = max(moment for moment in (state.at, at, now) if moment is not None)
        base = _decay(state.points, state.at, reference, half_life) + _decay(counted, at, reference, half_life)
        if rescore is not None:
            kept = float(state.item.delta or 0) if state.item.delta_job == rescore.job else 0.0
            delta = _decay(kept, state.at, reference, half_life) + _decay(late, at, reference, half_life)
            state.item.delta, state.item.delta_job = delta, (rescore.job if delta else None)
        score = round(base + fields, 2)
        properties = {"points": counted, "score": score, "previous": _plain(state.item.score), **reason}
        return _write(contact_id, state, base=base, reference=reference, fields=fields, score=score,
                      stage=rules.stage_for(settings, score), cause=cause, score_event=properties)

    return retry.until_settled(attempt, limit=8, what=f"score of {contact_id}")


def _plain(value: Any) -> Any:
    return contacts.plain(value) if value is not None else 0


def _write(contact_id: str, state: _State, *, base: float, reference: datetime, fields: float, score: float,
           stage: str, cause: str, score_event: dict | None) -> Applied | None:
    """The transaction; None when it must be retried (a concurrent writer of the state)."""
    previous_stage = state.item.stage or "visitor"
    previous_score = float(state.item.score or 0)
    item = state.item
    item.points, item.at, item.fields, item.score, item.stage = base, clock.iso(reference), fields, score, stage
    write = Transaction()
    stored_events = []
    if score_event is not None:
        idempotency, stored_event = event_items(contact_id, "score.changed", score_event, f"{cause}/score")
        write.put("event_id", idempotency, condition=type(idempotency).id.does_not_exist())
        write.put("event", stored_event)
        stored_events.append(stored_event)
    if stage != previous_stage:
        idempotency, stored_event = event_items(
            contact_id, "stage.changed", {"stage": stage, "previous": previous_stage, "score": score},
            f"{cause}/stage")
        write.put("stage_event_id", idempotency, condition=type(idempotency).id.does_not_exist())
        write.put("stage_event", stored_event)
        stored_events.append(stored_event)
    write.put("state", item)
    write.update("contact", contact_ref(contact_id), [Contact.score.set(score), Contact.stage.set(stage)],
                 condition=Contact.id.exists(), versioned=False)
    failed = write.commit()
    if not failed:
        queue.enqueue([events.to_api(stored_event) for stored_event in stored_events])
        changed = {"score"} if score != previous_score else set()
        if stage != previous_stage:
            changed.add("stage")
        return Applied(True, changed, score, stage)
    if failed == [CONFLICT] or failed == ["state"]:
        return None
    return Applied(False)


def of_contact(contact_id: str) -> dict | None:
    """The scoring state, for the GDPR export."""
    try:
        item = ScoreState.get(contact_id)
    except DoesNotExist:
        return None
    return {"event_points": _plain(item.points), "at": item.at, "field_points": _plain(item.fields),
            "score": _plain(item.score), "stage": item.stage}


def delete_of(contact_id: str) -> None:
    ScoreState(contact_id).delete(add_version_condition=False)


# -- decay and rescoring (background jobs) ----------------------------------------------------


def start_decay() -> Job:
    """The daily job that applies decay to stored scores (and moves stages down)."""
    return jobs.start("score_decay", {"total": jobs.scan_parts(ScoreState), "day": clock.now().date().isoformat()})


# What a job does with a contact whose score or stage it moved: (contact id, changed fields, cause).
ScoreMoved = Callable[[str, set[str], str], None]


class Decay:
    def __init__(self, then: ScoreMoved) -> None:
        self.then = then

    def parts(self, head: Job, phase: int) -> int:
        return int(head.params["total"])

    def step(self, head: Job, part: Job, index: int) -> Step:
        settings = current()
        half_life = _half_life_seconds(settings)
        result = ScoreState.scan(segment=index, total_segments=int(head.parts), limit=100,
                                 last_evaluated_key=part.cursor)
        seen = moved = 0
        for item in result:
            seen += 1
            if half_life is None or not item.at:
                continue
            now, at = clock.now(), clock.parse_iso(item.at)
            score = round(_decay(float(item.points or 0), at, now, half_life)
                          + float(item.fields or 0), 2)
            stage = rules.stage_for(settings, score)
            if abs(score - float(item.score or 0)) < DECAY_STEP and stage == item.stage:
                continue
            state = _State(item, float(item.points or 0), at)
            cause = f"decay:{head.params['day']}:{item.contact_id}"
            outcome = _write(item.contact_id, state, base=state.points, reference=at, fields=float(item.fields),
                             score=score, stage=stage, cause=cause, score_event=None)
            if outcome is not None and outcome.applied:
                moved += 1
                self.then(item.contact_id, outcome.changed, cause)
        return Step(result.last_evaluated_key, {"scanned": seen, "moved": moved})

    def phase_done(self, head: Job, phase: int, parts: list[Job]) -> tuple[int, dict | None]:
        return 0, None

    def finished(self, head: Job) -> None:
        stored.merge_state(NAME, {"decayed_at": clock.iso(clock.now())})

    def failed(self, head: Job, error: str) -> None:
        pass


class Rescore:
    """Every contact's score from its history under the current rules: the events received
    before the job started, plus the `delta` that later events left on the state meanwhile."""

    def __init__(self, then: ScoreMoved) -> None:
        self.then = then

    def parts(self, head: Job, phase: int) -> int:
        return int(head.params["total"])

    def step(self, head: Job, part: Job, index: int) -> Step:
        settings = current()
        since = head.params["since"]
        result = Contact.scan(segment=index, total_segments=int(head.parts), limit=100,
                              last_evaluated_key=part.cursor)
        seen = changed = 0
        for contact in result:
            seen += 1
            outcome = self._rescore(head, settings, contact, since)
            if outcome.applied and outcome.changed:
                changed += 1
                self.then(contact.id, outcome.changed, f"rescore:{head.id}:{contact.id}")
        return Step(result.last_evaluated_key, {"scanned": seen, "changed": changed})

    def _rescore(self, head: Job, settings: Mapping[str, Any], contact: Contact, since: str) -> Applied:
        half_life = _half_life_seconds(settings)
        types = sorted({rule["event"] for rule in settings["rules"] if "event" in rule})
        history: list[tuple[datetime, int]] = []
        if types:
            for item in Event.query(contact.id, filter_condition=Event.type.is_in(*types)):
                if item.received_at <= since:
                    event = events.to_api(item)
                    points = rules.event_points(settings, event)
                    if points:
                        history.append((clock.parse_iso(event["timestamp"]), points))

        def attempt() -> Applied | None:
            now = clock.now()
            state = _State.load(contact.id)
            if state.item.rescored_by == head.id:
                return Applied(False)  # done by an earlier run of this page
            late = float(state.item.delta or 0) if state.item.delta_job == head.id else 0.0
            base = sum(_decay(points, at, now, half_life) for at, points in history) + \
                _decay(late, state.at, now, half_life)
            fields = field_points(settings, contact, now)
            if not state.item.at and not base and not fields and not state.item.score:
                return Applied(False)  # never scored, nothing to score
            score = round(base + fields, 2)
            state.item.rescored_by, state.item.delta, state.item.delta_job = head.id, 0, None
            changed = {"points": 0, "score": score, "previous": _plain(state.item.score), "reason": "rescore"} \
                if score != float(state.item.score or 0) else None
            return _write(contact.id, state, base=base, reference=now, fields=fields, score=score,
                          stage=rules.stage_for(settings, score), cause=f"rescore:{head.id}:{contact.id}",
                          score_event=changed)

        return retry.until_settled(attempt, limit=8, what=f"rescore of {contact.id}")

    def phase_done(self, head: Job, phase: int, parts: list[Job]) -> tuple[int, dict | None]:
        return 0, None

    def finished(self, head: Job) -> None:
        if stored.state(NAME).get("rescore_job") == head.id:
            stored.merge_state(NAME, {"rescore_finished_at": clock.iso(clock.now())})

    def failed(self, head: Job, error: str) -> None:
        self.finished(head)

