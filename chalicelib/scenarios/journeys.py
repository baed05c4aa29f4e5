"""Enrollments: the durable record of each contact's journey, written before its execution starts.

Re-entry is decided by a guard item per contact and scenario, updated with a condition, so
two simultaneous triggers cannot both enter; the enrollment key and the execution name are
derived from contact, scenario and entry key, so a retried trigger starts nothing new.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from types import MappingProxyType
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from chalicelib import clock, durations, faults, logs
from chalicelib.logs import logger
from chalicelib.reports import counters
from chalicelib.scenarios import semantics
from chalicelib.scenarios.errors import Throttled
from chalicelib.store.models import Enrollment, Scenario
from chalicelib.store.transactions import CONFLICT, Transaction

RUNNING = "running"
ENDED = ("completed", "converted", "exited", "failed", "stopped")
FOREVER = "9999-12-31T00:00:00.000Z"
# The enrollment objects whose counting waits for the end of a counted_once block, with the path
# entries recorded `with_count` meanwhile (another copy of the same journey, read and recorded
# elsewhere, counts at once as usual).
_deferred: ContextVar[Mapping[int, list[dict[str, Any]]]] = ContextVar("deferred_counts",
                                                                         default=MappingProxyType({}))


@contextmanager
def counted_once(enrollment: Enrollment) -> Iterator[None]:
    """Count the journey once when the block ends, however often it is recorded or ended inside:
    each count is a transaction over the journey and every counter it moves, so a Task that
    evaluates, acts and ends pays for one instead of three. Outcomes recorded `with_count`
    inside are written by that transaction too (or with the journey's ending). Counted even when
    the block raises (an exit, a failure): what was recorded is counted."""
    unwritten: list[dict[str, Any]] = []
    token = _deferred.set({**_deferred.get(), id(enrollment): unwritten})
    try:
        yield
    finally:
        _deferred.reset(token)
        if unwritten:
            _write_with_count(enrollment, unwritten)
        else:
            _count(enrollment)


def _count(enrollment: Enrollment) -> None:
    if id(enrollment) not in _deferred.get():
        counters.journey(enrollment)


def get(contact_id: str, key: str) -> Enrollment | None:
    try:
        return Enrollment.get(contact_id, key, consistent_read=True)
    except DoesNotExist:
        return None


def admit(contact_id: str, head: Scenario, definition: dict, trigger: dict, at: datetime) -> Enrollment | None:
    """The enrollment for this trigger, created if the entry rules allow; None if they refuse.

    Idempotent: called again for the same trigger, it returns the same enrollment. The
    enrollment, the re-entry guard and the place taken under `max_contacts` are written in one
    transaction: a failure between them cannot leave a contact barred from a journey it never
    entered."""
    scenario_id = head.id
    key = f"{scenario_id}#{semantics.entry_key(definition, trigger)}"
    existing = get(contact_id, key)
    if existing is not None:
        return existing if existing.execution_arn is None else None
    name = semantics.execution_name(contact_id, scenario_id, key)
    enrollment = Enrollment(contact_id, key, id=name, scenario_id=scenario_id, version=head.live_version,
                            status=RUNNING, path=[], bucket=semantics.bucket_of(name),
                            entered_at=clock.iso(clock.now()),
                            trigger={k: trigger.get(k) for k in ("id", "type", "properties", "timestamp")})
    write = Transaction()
    write.put("enrollment", enrollment, condition=Enrollment.key.does_not_exist())
    reentry = (definition.get("entry") or {}).get("reentry", "never")
    if reentry != "always":
        until = FOREVER if reentry == "never" else clock.iso(durations.shift(at, reentry["after"]))
        write.update("guard", Enrollment(contact_id, f"{scenario_id}#guard"), [Enrollment.next_entry_at.set(until)],
                     condition=Enrollment.next_entry_at.does_not_exist() | (Enrollment.next_entry_at <= clock.iso(at)),
                     versioned=False)
    cap = (definition.get("entry") or {}).get("max_contacts")
    write.update("place", head, [Scenario.entered.add(1)], condition=(Scenario.entered < cap) if cap else None,
                 versioned=False)
    failed = write.commit()
    if failed == [CONFLICT]:
        raise Throttled("a concurrent entry touched the same items; retry")
    return None if failed else enrollment


def started(enrollment: Enrollment, execution_arn: str) -> None:
    """Note the execution, and count the entry in the same write when it can."""
    if counters.journey_and_set(enrollment, {"execution_arn": execution_arn}):
        enrollment.execution_arn = execution_arn
        return
    enrollment.update(actions=[Enrollment.execution_arn.set(execution_arn)])
    counters.journey(enrollment)


def record(enrollment: Enrollment, step: str, result: str, *, current: str | None,
           at: datetime | None = None, with_count: bool = False) -> None:
    """Add a step's outcome to the journey's path; `at` is when the step began (now by default).

    `with_count`, inside counted_once: written when the block ends, by the count's transaction
    (or by the journey's ending, if it comes first), one write instead of two. For an outcome
    that nothing reads before the Task ends: not a branch taken before acting on it, not a wait
    that another thread may resume."""
    entry = {"step": step, "at": clock.iso(at or clock.now()), "result": result}
    unwritten = _deferred.get().get(id(enrollment)) if with_count else None
    if unwritten is not None:
        unwritten.append(entry)
        enrollment.path = [*(enrollment.path or []), entry]
        enrollment.current_step = current
        return
    enrollment.update(actions=[Enrollment.path.set(Enrollment.path.append([entry])), _current(current)])
    _count(enrollment)


def _current(step: str | None) -> Action:
    return Enrollment.current_step.set(step) if step else Enrollment.current_step.remove()


def _write_with_count(enrollment: Enrollment, entries: list[dict[str, Any]]) -> None:
    """The outcomes recorded with_count and the journey's count, in one transaction; when that
    cannot be (nothing new to count, a race lost), the outcomes first, then the count, as record does."""
    current, journey = enrollment.current_step, enrollment
    for _ in range(2):
        try:
            if counters.journey_and_set(journey, {"current_step": current}, path=entries):
                return
        except Exception:  # a report never stops a journey: the outcomes are written below all the same
            logger.exception("journey not counted with its outcomes", extra={"enrollment": enrollment.id})
            break
        # Another copy of the journey counted some of these facts since the Task read it (a retried
        # Task, a resumed wait), or a concurrent transaction met this one: read it again. (No
        # longer the consumer counting the entry: counters._new_facts leaves it to the consumer.)
        fresh = get(enrollment.contact_id, enrollment.key)
        if fresh is None:
            return  # erased meanwhile
        fresh.path = [*(fresh.path or []), *entries]
        journey = fresh
    if _add_to_path(enrollment, entries, _current(current)):
        counters.journey(enrollment)


def _add_to_path(enrollment: Enrollment, entries: list[dict[str, Any]], *more: Action) -> bool:
    """False when the enrollment was erased meanwhile (an update would create it again)."""
    try:
        enrollment.update(actions=[Enrollment.path.set(Enrollment.path.append(entries)), *more],
                          condition=Enrollment.key.exists())
    except UpdateError as error:
        if not faults.lost_to_condition(error):
            raise
        return False
    return True


def finish(enrollment: Enrollment, status: str) -> bool:
    """End a running journey; False if it had ended already (the first ending wins). The outcomes
    recorded with_count before it are written with it."""
    unwritten = _deferred.get().get(id(enrollment), [])
    entries, unwritten[:] = list(unwritten), []
    actions: list[Action] = [Enrollment.status.set(status), Enrollment.ended_at.set(clock.iso(clock.now())),
                             Enrollment.current_step.remove()]
    if entries:
        actions.append(Enrollment.path.set(Enrollment.path.append(entries)))
    try:
        enrollment.update(actions=actions, condition=Enrollment.status == RUNNING)
    except UpdateError as error:
        if not faults.lost_to_condition(error):
            unwritten[:0] = entries  # written with the count, if that can be
            raise
        if entries:  # the journey ended elsewhere; its path still gets what this Task did
            _add_to_path(enrollment, entries)
        return False
    logs.journey(status, contact_id=enrollment.contact_id, scenario=enrollment.scenario_id,
                 version=int(enrollment.version), execution=enrollment.id)
    _count(enrollment)
    return True


def of_contact(contact_id: str) -> list[Enrollment]:
    return [item for item in Enrollment.query(contact_id) if item.id is not None]


def running_of_scenario(scenario_id: str) -> list[Enrollment]:
    found = []
    for hit in Enrollment.by_scenario.query(scenario_id):
        enrollment = get(hit.contact_id, hit.key)
        if enrollment and enrollment.status == RUNNING:
            found.append(enrollment)
    return found


def payload(enrollment: Enrollment, timeouts: dict[str, int] | None, extra: dict[str, Any] | None = None) -> dict:
    """The execution input: who, which scenario version, the A/B bucket, the wait_for timeouts."""
    return {"enrollment": {"id": enrollment.id, "key": enrollment.key, "contact_id": enrollment.contact_id,
                           "scenario": enrollment.scenario_id, "version": int(enrollment.version),
                           "bucket": int(enrollment.bucket), **(extra or {})},
            "timeouts": timeouts or {}}


def _visited(entries: list) -> list[str]:
    """Step ids in order; a wait is recorded when it begins and when it is resumed, shown once."""
    steps: list[str] = []
    for entry in entries:
        if not steps or steps[-1] != entry["step"]:
            steps.append(entry["step"])
    return steps


def to_api(enrollment: Enrollment) -> dict:
    # In the order the steps happened: a wait_for's resume is recorded by the thread that resumed
    # it, which can write after the execution's next step has written its own.
    entries = sorted((dict(entry) for entry in enrollment.path or []), key=lambda entry: entry["at"])
    return {"id": enrollment.id, "scenario": enrollment.scenario_id, "version": int(enrollment.version or 0),
            "status": enrollment.status,
            "path": _visited(entries),
            "steps": entries,
            "current_step": enrollment.current_step, "entered_at": enrollment.entered_at,
            "ended_at": enrollment.ended_at}
