"""Background jobs: full segment builds, activity ranks, rescoring, large imports, group removal.

Never inside an API request. A job is a head item and, per phase, N parts; a part is one
segment of a DynamoDB parallel scan (or one uploaded file). A worker claims a part with a
lease, does one step at a time (one scan page, a few hundred rows) and checkpoints the cursor
and counters after each step, so a part whose worker crashed or timed out is taken over from
its last checkpoint by the next worker. Steps are idempotent: a page done twice changes
nothing twice.

Parts follow the work: a scan phase has one part per `job_part_items` items of the table
(`scan_parts`), so a part's length, not the base size, bounds how long a worker holds it.
On AWS the `audience_jobs` schedule runs `work()` every minute, `job_threads` parts at a time;
when more parts are waiting it fans out, asking `fan_out` for up to `job_max_workers - 1` more
workers (each claims its own parts by lease, so an extra worker that finds nothing just ends).
On the local stack `kick()` runs a worker thread as soon as a job starts; it goes on while any
started job is unfinished, `job_max_workers` parts at a time, and never waits for a schedule.

A kind is registered with `register(name, kind)` (every kind, by audience.kinds at start); it answers:
    parts(head, phase) -> int              parts of a phase (0: nothing to scan); a scan's step
                                           takes `head.parts` as its total segments
    step(head, part, index) -> Step        one unit of work of part `index`
    phase_done(head, phase, parts) -> (int, dict | None)
                                           parts of the next phase (0: the job is done) and
                                           data to keep on the head (pure, may run twice)
    finished(head) / failed(head, error)   once, by the worker that ends the job
    poll(head) -> bool                     (optional) an `awaiting_upload` job may start
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol, overload

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.logs import logger
from chalicelib.store.audience import Job, estimated_items

HEAD = "head"
MAX_PARTS = 1000  # each claim reads a phase's parts: beyond this, parts grow longer, not more
IDLE_SECONDS = 0.2  # the local worker's pause while the parts left are leased by another worker
MAX_ATTEMPTS = 8  # failed steps of a part in a row before the job fails: about a minute of backoff
KEEP_DAYS = 30
ACTIVE = ("awaiting_upload", "pending", "running")


@dataclass
class Step:
    cursor: Any  # where the part goes on from; None when the part is done
    counters: dict[str, int] = field(default_factory=dict)
    data: dict | None = None  # replaces the part's data (a part's partial result)


class Kind(Protocol):
    def parts(self, head: Job, phase: int) -> int: ...

    def step(self, head: Job, part: Job, index: int) -> Step: ...

    def phase_done(self, head: Job, phase: int, parts: list[Job]) -> tuple[int, dict | None]: ...

    def finished(self, head: Job) -> None: ...

    def failed(self, head: Job, error: str) -> None: ...


_KINDS: dict[str, Kind] = {}


def register(name: str, kind: Kind) -> None:
    _KINDS[name] = kind


def _kind(name: str) -> Kind:
    if name not in _KINDS:
        raise LookupError(f"no job kind {name!r} is registered (audience.kinds.register_all runs at start)")
    return _KINDS[name]


def scan_parts(model: type[Model]) -> int:
    """Parts of a parallel scan of `model`'s table: one per `job_part_items` items.

    The size is DescribeTable's ItemCount: free to read, and only minutes-to-hours stale
    (DynamoDB refreshes it about every six hours). A counter of our own would be exact but
    would cost a write on one hot item for every contact created. Stale sizing costs only
    speed: a parallel scan covers every item whatever its number of segments."""
    return parts_for(estimated_items(model))


def parts_for(items: int) -> int:
    """Parts for `items` items of work: one per `job_part_items`, at least one, at most MAX_PARTS."""
    return max(1, min(MAX_PARTS, -(-items // settings().job_part_items)))


def _part_key(phase: int, index: int) -> str:
    return f"p:{phase}:{index:04d}"


def _expiry() -> Any:
    return clock.now() + timedelta(days=KEEP_DAYS)


# -- starting and reading jobs --------------------------------------------------------------


def new_id(kind: str) -> str:
    """A job id, for owners that record it before the job starts (so its end finds it there)."""
    return f"{kind.replace('_', '-')}-{uuid.uuid4().hex[:12]}"


def start(kind: str, params: dict, *, status: str = "pending", job_id: str | None = None) -> Job:
    """Create a job (its first phase's parts included) and wake a worker."""
    now = clock.iso(clock.now())
    head = Job(job_id or new_id(kind), HEAD, kind=kind, params=params,
               status=status, active="1", phase=0, parts=0, parts_done=0, counters={}, created_at=now,
               updated_at=now, expires_at=_expiry())
    count = _kind(kind).parts(head, 0) if status != "awaiting_upload" else 0
    head.parts = count
    head.save(condition=Job.id.does_not_exist())
    _create_parts(head.id, 0, count)
    if status != "awaiting_upload":
        kick()
    return head


def _create_parts(job_id: str, phase: int, count: int) -> None:
    now = clock.iso(clock.now())
    with Job.batch_write() as batch:
        for index in range(count):
            batch.save(Job(job_id, _part_key(phase, index), status="pending", phase=phase, counters={},
                           attempts=0, created_at=now, updated_at=now, expires_at=_expiry()))


def get(job_id: str) -> Job | None:
    try:
        return Job.get(job_id, HEAD, consistent_read=True)
    except DoesNotExist:
        return None


def parts_of(job_id: str, phase: int | None = None) -> list[Job]:
    prefix = "p:" if phase is None else f"p:{phase}:"
    return list(Job.query(job_id, Job.part.startswith(prefix), consistent_read=True))


@overload
def summary(head: Job) -> dict: ...
@overload
def summary(head: None) -> None: ...
def summary(head: Job | None) -> dict | None:
    """What the API shows of a job: status, progress counters (summed over parts), timing."""
    if head is None:
        return None
    totals: dict[str, int] = dict(head.counters or {})
    parts = parts_of(head.id)
    for part in parts:
        for name, value in (part.counters or {}).items():
            totals[name] = totals.get(name, 0) + int(value)
    current = [part for part in parts if int(part.phase or 0) == int(head.phase or 0)]
    return {"id": head.id, "kind": head.kind, "status": head.status, "phase": int(head.phase or 0),
            "parts": int(head.parts or 0), "parts_done": sum(1 for part in current if part.status == "done"),
            "progress": totals, "error": head.error, "created_at": head.created_at,
            "updated_at": head.updated_at, "finished_at": head.finished_at}


def cancel(job_id: str, reason: str = "cancelled") -> bool:
    head = get(job_id)
    if head is None or head.status not in ACTIVE:
        return False
    try:
        head.update(actions=[Job.status.set("cancelled"), Job.active.remove(), Job.error.set(reason),
                             Job.finished_at.set(clock.iso(clock.now()))],
                    condition=Job.status.is_in(*ACTIVE))
        return True
    except UpdateError:
        return False


def set_status(head: Job, status: str, **fields: Any) -> bool:
    """Move a head from `awaiting_upload` on (used by kinds' poll)."""
    actions: list[Action] = [Job.status.set(status), Job.updated_at.set(clock.iso(clock.now()))]
    for name, value in fields.items():
        actions.append(getattr(Job, name).set(value))
    try:
        head.update(actions=actions, condition=Job.status == head.status)
        return True
    except UpdateError:
        return False


def begin(head: Job) -> None:
    """An `awaiting_upload` job whose file arrived: create its parts and wake a worker."""
    count = _kind(head.kind).parts(head, 0)
    if set_status(head, "pending", parts=count, parts_done=0):
        _create_parts(head.id, 0, count)
        kick()


def fail(head: Job, error: str) -> None:
    """End a job as failed (once), telling its kind."""
    try:
        head.update(actions=[Job.status.set("failed"), Job.active.remove(), Job.error.set(error[:1000]),
                             Job.finished_at.set(clock.iso(clock.now()))],
                    condition=Job.status.is_in(*ACTIVE))
    except UpdateError:
        return
    try:
        _kind(head.kind).failed(head, error)
    except Exception:  # the job is failed already; the hook is best effort
        logger.exception("job failure hook failed", extra={"job": head.id})


# -- the worker -----------------------------------------------------------------------------


@dataclass
class Worked:
    parts: int = 0  # parts run, to their end or to the deadline
    workers: int = 0  # more workers started because parts were waiting


def work(budget_seconds: float | None = None, parallel: int | None = None,
         alive: Callable[[], bool] = lambda: True, fan_out: Callable[[int], int] | None = None) -> Worked:
    """Claim and run parts of unfinished jobs, `parallel` at a time (`job_threads`), until the
    budget (`job_budget_seconds`) is spent or nothing is left to do. With `fan_out`, when more
    parts wait than this run can take, ask it to start that many more workers (at most
    `job_max_workers - 1`; it answers how many it started)."""
    config = settings()
    parallel = parallel or config.job_threads
    deadline = time.monotonic() + (config.job_budget_seconds if budget_seconds is None else budget_seconds)
    worked = Worked()
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="audience-job") as pool:
        running: dict[Any, tuple[str, str]] = {}
        first = True
        while time.monotonic() < deadline and alive():
            if len(running) < parallel:
                claimed, waiting = _claim(parallel - len(running), set(running.values()),
                                          count_waiting=first and fan_out is not None)
                for part in claimed:
                    running[pool.submit(_run_part, part, deadline, alive)] = (part.id, part.part)
                if first and fan_out is not None:  # once a run: the next tick sees what is left then
                    wanted = min(-(-waiting // parallel), config.job_max_workers - 1)
                    worked.workers = fan_out(wanted) if wanted > 0 else 0
                first = False
            if not running:
                break
            done, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                running.pop(future)
                worked.parts += 1
                _log_crash(future)
        # parts still running hand themselves back at the deadline: they ran, and count
        for future in running:
            _log_crash(future)  # waits for it
            worked.parts += 1
    return worked


def _log_crash(future: Any) -> None:
    if future.exception() is not None:
        logger.error("job part crashed", exc_info=future.exception())


def has_work() -> bool:
    """Whether a started job is unfinished (a job awaiting its upload is not started yet)."""
    return any(head.status != "awaiting_upload" for head in _active_heads())


def _active_heads() -> list[Job]:
    heads = []
    for hit in Job.by_active.query("1"):
        head = get(hit.id)
        if head is not None and head.status in ACTIVE:
            heads.append(head)
    return heads


def _claim(room: int, busy: set[tuple[str, str]], *, count_waiting: bool = False) -> tuple[list[Job], int]:
    """Up to `room` parts claimed by lease, and (with `count_waiting`) how many more were free."""
    claimed: list[Job] = []
    waiting = 0
    for head in _active_heads():
        if len(claimed) >= room and not count_waiting:
            break
        kind = _kind(head.kind)
        if head.status == "awaiting_upload":
            poll: Callable[[Job], bool] | None = getattr(kind, "poll", None)
            if poll is not None:
                try:
                    poll(head)
                except Exception as error:
                    fail(head, f"could not start: {error}")
            continue
        if int(head.parts_done or 0) >= int(head.parts or 0):
            _advance(head)
            advanced = get(head.id)
            if advanced is None or advanced.status not in ACTIVE:
                continue
            head = advanced
        now = time.time()
        for part in parts_of(head.id, int(head.phase or 0)):
            if (part.id, part.part) in busy or part.status == "done":
                continue
            if float(part.lease_until or 0) > now:  # leased, or backing off after a failed step
                continue
            if len(claimed) >= room:
                waiting += 1
                if not count_waiting:
                    break
                continue
            owner = uuid.uuid4().hex
            claim: list[Action] = [Job.status.set("running"), Job.owner.set(owner),
                                   Job.lease_until.set(now + settings().job_lease_seconds)]
            if part.status == "running":  # its worker stopped mid-step: this step is tried again
                claim.append(Job.attempts.add(1))
            try:
                part.update(actions=claim,
                            condition=Job.status.is_in("pending", "running")
                            & (Job.lease_until.does_not_exist() | (Job.lease_until < now)))
            except UpdateError:
                continue  # another worker took it
            if head.status == "pending":
                try:
                    head.update(actions=[Job.status.set("running")], condition=Job.status == "pending")
                except UpdateError:
                    pass
            claimed.append(part)
    return claimed, waiting


def _run_part(part: Job, deadline: float, alive: Callable[[], bool] = lambda: True) -> None:
    index = int(part.part.rsplit(":", 1)[1])
    while time.monotonic() < deadline:
        if not alive():
            return
        head = get(part.id)
        if head is None or head.status not in ACTIVE:
            return
        try:
            step = _kind(head.kind).step(head, part, index)
        except Exception as error:  # recorded on the part, retried, then the job fails
            logger.exception("job step failed", extra={"job": part.id, "part": part.part})
            _release_after_error(head, part, f"{type(error).__name__}: {error}")
            return
        counters = dict(part.counters or {})
        for name, value in step.counters.items():
            counters[name] = int(counters.get(name, 0)) + int(value)
        actions: list[Action] = [Job.counters.set(counters), Job.updated_at.set(clock.iso(clock.now())),
                   Job.lease_until.set(time.time() + settings().job_lease_seconds)]
        actions.append(Job.cursor.set(step.cursor) if step.cursor is not None else Job.cursor.remove())
        if step.data is not None:
            actions.append(Job.data.set(step.data))
        if part.attempts:
            actions.append(Job.attempts.set(0))  # failures count in a row: throttles spread over a job fail nothing
        if step.cursor is None:
            actions.append(Job.status.set("done"))
        try:
            part.update(actions=actions, condition=Job.owner == part.owner)
        except UpdateError:
            return  # the lease was lost to another worker: it goes on from our last checkpoint
        if step.cursor is None:
            _part_done(head, part)
            return
    try:  # out of time: hand the part back at once rather than after the lease
        part.update(actions=[Job.status.set("pending"), Job.lease_until.set(0)], condition=Job.owner == part.owner)
    except UpdateError:
        pass


def _release_after_error(head: Job, part: Job, error: str) -> None:
    """Hand the part back to be retried from its checkpoint after a backoff (a throttled table
    gets time to refill); the job fails after MAX_ATTEMPTS failures in a row."""
    attempts = int(part.attempts or 0) + 1
    backoff = min(0.5 * 2 ** (attempts - 1), 60.0)
    try:
        part.update(actions=[Job.status.set("pending"), Job.lease_until.set(time.time() + backoff),
                             Job.attempts.set(attempts), Job.error.set(error[:1000])],
                    condition=Job.owner == part.owner)
    except UpdateError:
        return
    if attempts >= MAX_ATTEMPTS:
        fail(head, error)


def _part_done(head: Job, part: Job) -> None:
    try:
        head.update(actions=[Job.parts_done.add(1), Job.updated_at.set(clock.iso(clock.now()))],
                    condition=Job.phase == part.phase)
    except UpdateError:
        return
    if int(head.parts_done or 0) >= int(head.parts or 0):
        _advance(head)


def _advance(head: Job) -> None:
    """All parts of the head's phase are done: start the next phase, or finish the job.
    Several workers may get here; the conditional update lets one of them through."""
    phase = int(head.phase or 0)
    kind = _kind(head.kind)
    try:
        following, data = kind.phase_done(head, phase, parts_of(head.id, phase))
    except Exception as error:
        logger.exception("job phase end failed", extra={"job": head.id})
        fail(head, f"{type(error).__name__}: {error}")
        return
    now = clock.iso(clock.now())
    actions: list[Action] = [Job.updated_at.set(now)]
    if data is not None:
        actions.append(Job.data.set(data))
    if following:
        actions += [Job.phase.set(phase + 1), Job.parts.set(following), Job.parts_done.set(0)]
    else:
        actions += [Job.status.set("done"), Job.active.remove(), Job.finished_at.set(now)]
    try:
        head.update(actions=actions, condition=(Job.phase == phase) & Job.status.is_in(*ACTIVE))
    except UpdateError:
        return
    if following:
        _create_parts(head.id, phase + 1, following)
        return
    try:
        kind.finished(head)
    except Exception:
        logger.exception("job completion hook failed", extra={"job": head.id})


# -- waking a worker --------------------------------------------------------------------------

_lock = threading.Lock()
_wanted = threading.Event()
_thread: threading.Thread | None = None
_alive: Callable[[], bool] | None = None  # set by the local stack, which runs jobs as they start
_foreground: Callable[[], AbstractContextManager] = nullcontext


def run_as_started(alive: Callable[[], bool], foreground: Callable[[], AbstractContextManager] = nullcontext) -> None:
    """Local stack: run each job at once in a background thread, while `alive()` (a stopped
    stack's jobs are abandoned with it); each turn of work inside `foreground()`, which lets the
    stack's other threads know a marketer is waiting on it."""
    global _alive, _foreground
    _alive, _foreground = alive, foreground


def kick() -> None:
    """Run the worker now in a background thread (local stack); on AWS the schedule runs it."""
    global _thread
    if _alive is None:
        return
    with _lock:
        _wanted.set()
        if _thread is not None and _thread.is_alive():
            return
        _thread = threading.Thread(target=_local_worker, name="audience-jobs", daemon=True)
        _thread.start()


def _stack_running() -> bool:
    """Whether the local stack that runs jobs as they start (the latest one) is still up."""
    return _alive is not None and _alive()


def _local_worker() -> None:
    while True:
        with _lock:
            if not _wanted.is_set():
                return
            _wanted.clear()
        try:
            # a part that ran to the deadline is handed back, not finished: go on while any
            # started job is unfinished (leases of a stopped worker run out meanwhile)
            while _stack_running():
                with _foreground():
                    worked = work(parallel=settings().job_max_workers, alive=_stack_running)
                if not _stack_running() or not has_work():
                    break
                if not worked.parts:
                    time.sleep(IDLE_SECONDS)
        except Exception as error:  # logged, not fatal: the schedule or the next kick goes on
            if _stack_running():
                logger.warning("local job worker stopped", extra={"error": f"{type(error).__name__}: {error}"})
