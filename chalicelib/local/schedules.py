"""EventBridge for the local stack: each `@app.schedule` handler fires at its times on the domain clock.

A `Rate` fires every period from the stack's start, a `Cron` at its times (UTC), both read on
the scaled domain clock, so at 86400 the daily date triggers run every second and the hourly
segment refresh as often as it can. A rate fires at most once a wall second and, when it falls
behind, once rather than once per missed period (its handlers are pumps that take everything
due; at 86400 a one-minute rate would otherwise run without pause); a cron fires once per
occurrence, late if need be, because a daily job such as the date triggers looks a bounded
time ahead.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from cronsim import CronSim

from chalicelib import clock
from chalicelib.logs import logger

# A sleeping schedule re-reads the domain clock at least this often (wall seconds), so a jump
# of the clock (clock.advance) is seen.
RECHECK_SECONDS = 0.5
RATE_FLOOR_SECONDS = 1.0
_RATE_UNITS = {"MINUTES": "minutes", "HOURS": "hours", "DAYS": "days"}
_AWS_WEEKDAYS = {str(number): str(number - 1) for number in range(1, 8)}  # AWS: 1 is Sunday; cron: 0


def occurrences(expression: Any, start: datetime) -> Iterator[datetime]:
    """The moments after `start` at which a Chalice `Rate` or `Cron` fires."""
    if hasattr(expression, "unit"):
        period = timedelta(**{_RATE_UNITS[expression.unit]: expression.value})
        moment = start
        while True:
            moment += period
            yield moment
    else:
        yield from CronSim(_cron_line(expression), start)


def _cron_line(cron: Any) -> str:
    """A Chalice (AWS) Cron as the five fields of a classic cron line; AWS's `?` is `*`, its
    weekdays count from 1 (Sunday), and the year field has no classic form."""
    if str(cron.year) not in ("*", "?"):
        raise ValueError(f"the local stack cannot run a cron restricted to years ({cron.year})")
    weekday = str(cron.day_of_week).replace("?", "*")
    weekday = ",".join(_AWS_WEEKDAYS.get(part, part) for part in weekday.split(","))
    return " ".join(str(field).replace("?", "*")
                    for field in (cron.minutes, cron.hours, cron.day_of_month, cron.month)) + f" {weekday}"


class Schedules:
    """One thread per scheduled handler of a Chalice app, stopped with the stack."""

    def __init__(self, app: Any) -> None:
        from chalice.app import ScheduledEventConfig

        self.jobs = [(source.name, source.schedule_expression, app.handler_map[source.name])
                     for source in app.event_sources if isinstance(source, ScheduledEventConfig)]
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Schedules:
        for name, expression, handler in self.jobs:
            thread = threading.Thread(target=self._run, args=(name, expression, handler),
                                      name=f"schedule-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()

    def _run(self, name: str, expression: Any, handler: Callable[[dict, Any], Any]) -> None:
        is_rate = hasattr(expression, "unit")
        times = occurrences(expression, clock.now())
        due = next(times)
        while not self._stopping.is_set():
            remaining = (due - clock.now()).total_seconds()
            if remaining > 0:
                self._stopping.wait(min(clock.wall_seconds(remaining), RECHECK_SECONDS))
                continue
            self._fire(name, handler, due)
            if is_rate:
                self._stopping.wait(RATE_FLOOR_SECONDS)
                times = occurrences(expression, max(due, clock.now()))
            due = next(times)

    def _fire(self, name: str, handler: Callable[[dict, Any], Any], due: datetime) -> None:
        try:
            handler(scheduled_event(name, due), None)
        except Exception as error:  # like EventBridge: the next occurrence comes all the same
            if not self._stopping.is_set():
                logger.warning("local schedule failed", extra={"schedule": name, "error": repr(error)[:300]})


def scheduled_event(name: str, at: datetime) -> dict:
    """The event EventBridge sends a scheduled Lambda function."""
    from chalicelib.config import settings
    from chalicelib.local.stack import ACCOUNT

    region = settings().region
    return {"version": "0", "id": f"local-{name}-{clock.iso(at)}", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": ACCOUNT, "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region, "resources": [f"arn:aws:events:{region}:{ACCOUNT}:rule/parcours-local-{name}"],
            "detail": {}}
