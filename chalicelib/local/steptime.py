"""Step Functions on the local stack waits on the domain clock, as AWS waits on the real one.

The state machines deployed locally are the ones deployed to AWS (integer Wait seconds, ISO
timestamps, TimeoutSecondsPath in seconds). moto's interpreter sleeps those seconds on the
wall clock, to the whole second; here a Wait ends when the domain clock (chalicelib.clock,
`scale` times faster) reaches its end, to the microsecond, and a Task timeout lasts its
domain length. So at 86400 a one-hour wait lasts 42 ms and still comes before a two-hour one,
and a test that moves the domain clock forward also moves the waits in progress.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from chalicelib import clock

# A wait re-reads the domain clock at least this often (wall seconds), so a jump of the clock
# (clock.advance) ends the waits it passes; cheap enough for thousands of waiting executions.
RECHECK_SECONDS = 0.5

_ORIGINALS: dict[str, Any] = {}


def install() -> None:
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import (
        TimeoutSeconds,
        TimeoutSecondsPath,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    if _ORIGINALS:
        return
    _ORIGINALS.update(wait=WaitFunction._eval_body, timeout=TimeoutSeconds._eval_seconds,
                      timeout_path=TimeoutSecondsPath._eval_seconds)
    WaitFunction._eval_body = _wait
    TimeoutSeconds._eval_seconds = _scaled_timeout(_ORIGINALS["timeout"])
    TimeoutSecondsPath._eval_seconds = _scaled_timeout(_ORIGINALS["timeout_path"])


def uninstall() -> None:
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import (
        TimeoutSeconds,
        TimeoutSecondsPath,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    if _ORIGINALS:
        WaitFunction._eval_body = _ORIGINALS["wait"]
        TimeoutSeconds._eval_seconds = _ORIGINALS["timeout"]
        TimeoutSecondsPath._eval_seconds = _ORIGINALS["timeout_path"]
        _ORIGINALS.clear()


def _wait(self: Any, env: Any) -> None:
    """A Wait state: until the domain clock reaches the end, or the execution stops."""
    end = _end_of_wait(self, env)
    while env.is_running():
        remaining = (end - clock.now()).total_seconds()
        if remaining <= 0:
            return
        pause = min(clock.wall_seconds(remaining), RECHECK_SECONDS)
        if env.program_state_event.wait(pause) and env.is_running():
            time.sleep(pause)  # woken for another reason than a stop: the event stays set


def _end_of_wait(wait: Any, env: Any) -> datetime:
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp

    if not isinstance(wait, Timestamp):
        return clock.now() + timedelta(seconds=wait._get_wait_seconds(env=env))
    wait.string.eval(env=env)
    text = env.stack.pop()
    if wait._from_timestamp_string(timestamp=text) is None:
        raise FailureEventException(wait._create_failure_event(env, text))
    return clock.parse_iso(text)  # moto drops the fraction of a second; at 86400 it is most of a day


def _scaled_timeout(original: Any) -> Any:
    def eval_seconds(self: Any, env: Any) -> float:
        seconds = original(self, env)
        return seconds if self.is_default_value() else clock.wall_seconds(seconds)

    return eval_seconds
