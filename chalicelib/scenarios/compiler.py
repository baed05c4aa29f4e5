"""Scenario JSON -> Amazon States Language (DESIGN.md section 3, "Compiling").

Each action step is one Task calling the step runner Lambda; an `if` is an evaluate Task and
a Choice (the evaluate Task also does the first action of the branch it takes when that branch
starts with one, and there is no Choice when both branches go on at the same state); a split
is a Choice on the bucket fixed at entry; a duration wait is a Wait; a wait until a time or
date is a Task computing the timestamp and a Wait on it; a `wait_for` is a `waitForTaskToken`
Task whose `States.Timeout` leads to the else branch. Branches rejoin the step after the
branching step; a path that does not end on an action runs `_complete`.

The execution input is `{"enrollment": {...}, "timeouts": Compiled.timeouts}`: the code that
starts executions merges `timeouts` in (wait_for Tasks read `$.timeouts.tN`).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from chalicelib.scenarios import semantics
from chalicelib.vocabulary import ACTION_TYPES, TERMINAL_TYPES

INVOKE = "arn:aws:states:::lambda:invoke"
INVOKE_WAIT_TOKEN = "arn:aws:states:::lambda:invoke.waitForTaskToken"
# Used to measure a scenario (state count, history) before any Lambda exists.
PLACEHOLDER_ARN = "arn:aws:lambda:us-east-1:000000000000:function:parcours-step-runner"

EXITED = "_exited"
RECORD_FAILURE = "_record-failure"
FAILED = "_failed"
COMPLETE = "_complete"
ENDED = "_ended"  # a Choice's way to end the journey (a Choice cannot End)
START = "_start"

# A throttled or briefly unavailable service (SES past the account's send rate, Step Functions,
# DynamoDB) makes the journey wait, for hours if need be, never fail: up to 20 attempts, the
# delay doubling from 5 s to 15 min with full jitter (about three hours in the worst case).
# Lambda's own hiccups get the short schedule.
RETRY: list[dict[str, Any]] = [
    {"ErrorEquals": ["Parcours.Throttled", "Lambda.TooManyRequestsException"],
     "IntervalSeconds": 5, "MaxAttempts": 20, "BackoffRate": 2.0, "MaxDelaySeconds": 900, "JitterStrategy": "FULL"},
    {"ErrorEquals": ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException"],
     "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2.0},
]
CATCH: list[dict[str, Any]] = [
    {"ErrorEquals": ["Parcours.JourneyExited"], "ResultPath": None, "Next": EXITED},
    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": RECORD_FAILURE},
]
ENROLLMENT = {"enrollment.$": "$.enrollment"}

# Worst-case history events (see history_events).
_TASK_EVENTS = 5
_RETRY_EVENTS = 3
_OTHER_EVENTS = 2
_EXECUTION_EVENTS = 2


@dataclass(frozen=True)
class Compiled:
    asl: dict[str, Any]
    timeouts: dict[str, int]  # merged into the execution input as "timeouts"


def compile_scenario(definition: dict[str, Any], *, step_runner_arn: str) -> Compiled:
    """The state machine of a valid scenario (scenarios.schema.validate is the judge; it measures
    the cleaned step tree with this too), the same on AWS and on the local stack (whose Step
    Functions keeps the scaled domain clock: chalicelib/local/steptime.py)."""
    return _Builder(step_runner_arn).build(definition)


class _Builder:
    def __init__(self, arn: str) -> None:
        self.arn = arn
        self.states: dict[str, dict[str, Any]] = {}
        self.timeout_keys: dict[str, str] = {}  # wait_for step id -> "tN"
        self.timeouts: dict[str, int] = {}
        self.quiet_hours = False

    def build(self, definition: dict[str, Any]) -> Compiled:
        steps = definition.get("steps") or []
        self.quiet_hours = bool((definition.get("settings") or {}).get("quiet_hours"))
        self._number_timeouts(steps)
        start = self._target(self._steps(steps, None))
        if "date" in (definition.get("trigger") or {}):
            # A date trigger enrolls ahead of time; the journey starts at the contact's local moment.
            self.states[START] = {"Type": "Wait", "TimestampPath": "$.enrollment.start_at", "Next": start}
            start = START
        if self._refers_to(COMPLETE):
            self.states[COMPLETE] = self._task({"action": "complete", **ENROLLMENT}, End=True)
        if self._refers_to(EXITED):
            self.states[EXITED] = {"Type": "Succeed"}
        if self._refers_to(ENDED):
            self.states[ENDED] = {"Type": "Succeed"}
        if self._refers_to(RECORD_FAILURE):
            self.states[RECORD_FAILURE] = self._task(
                {"action": "fail", **ENROLLMENT, "error.$": "$.error"}, catch=False, Next=FAILED)
            self.states[FAILED] = {"Type": "Fail", "Error": "Parcours.JourneyFailed"}
        asl = {"Comment": str(definition.get("name") or definition.get("id") or "scenario"),
               "StartAt": start, "States": self._ordered(start)}
        return Compiled(asl=asl, timeouts=dict(self.timeouts))

    # -- flow ------------------------------------------------------------------------------

    def _number_timeouts(self, steps: list[dict[str, Any]]) -> None:
        """tN in order of appearance in the document (depth first)."""
        for step in steps:
            if step["type"] == "wait_for":
                key = f"t{len(self.timeout_keys)}"
                self.timeout_keys[step["id"]] = key
                self.timeouts[key] = semantics.wait_seconds(step["timeout"])
            for child in semantics.children(step):
                self._number_timeouts(child)

    def _steps(self, steps: list[dict[str, Any]], follow: str | None) -> str | None:
        """Compile a list of steps that continues at state `follow` (None: the journey ends);
        answer the list's first state (`follow` itself when the list is empty)."""
        for step in reversed(steps):
            follow = self._step(step, follow)
        return follow

    def _target(self, follow: str | None) -> str:
        """Where a state that is not an ending action goes: `_complete` at the end."""
        return COMPLETE if follow is None else follow

    def _step(self, step: dict[str, Any], follow: str | None) -> str:
        kind, sid = step["type"], str(step["id"])
        if kind in ACTION_TYPES:
            if kind in TERMINAL_TYPES:
                follow = None
            payload = {"action": "step", "step": sid, "next": follow, "last": follow is None, **ENROLLMENT}
            ending = {"End": True} if follow is None else {"Next": follow}
            self.states[sid] = self._task(payload, ResultPath=None, **ending)
            if kind in ("email", "sms") and self.quiet_hours:
                # Quiet hours delay a send to the end of the window, in the contact's time zone.
                hold = f"{sid}:hold"
                self.states[f"{sid}:quiet"] = self._task({"action": "quiet_hours", "step": sid, **ENROLLMENT},
                                                         ResultSelector={"at.$": "$.Payload.at"},
                                                         ResultPath="$.until", Next=hold)
                self.states[hold] = {"Type": "Wait", "TimestampPath": "$.until.at", "Next": sid}
                return f"{sid}:quiet"
        elif kind == "wait":
            if "duration" in step:
                self.states[sid] = {"Type": "Wait", "Seconds": semantics.wait_seconds(step["duration"]),
                                    "Next": self._target(follow)}
            else:
                wait = f"{sid}:wait"
                self.states[sid] = self._task({"action": "wait_until", "step": sid, **ENROLLMENT},
                                              ResultSelector={"at.$": "$.Payload.at"}, ResultPath="$.until",
                                              Next=wait)
                self.states[wait] = {"Type": "Wait", "TimestampPath": "$.until.at", "Next": self._target(follow)}
        elif kind == "wait_for":
            then = self._target(self._steps(step.get("then", []), follow))
            otherwise = self._target(self._steps(step.get("else", []), follow))
            state = self._task({"action": "wait_for", "step": sid, "token.$": "$$.Task.Token", **ENROLLMENT},
                               catch=False, TimeoutSecondsPath=f"$.timeouts.{self.timeout_keys[sid]}",
                               ResultPath=None, Next=then)
            state["Resource"] = INVOKE_WAIT_TOKEN
            state["Catch"] = [{"ErrorEquals": ["States.Timeout"], "ResultPath": None, "Next": otherwise},
                              *copy.deepcopy(CATCH)]
            state["Next"] = state.pop("Next")  # keep Next last, as everywhere
            self.states[sid] = state
        elif kind == "if":
            self._condition(step, sid, follow)
        elif kind == "split":
            targets = [self._target(self._steps(branch["steps"], follow)) for branch in step["branches"]]
            choices = [{"Variable": "$.enrollment.bucket", "NumericLessThan": bound, "Next": target}
                       for bound, target in zip(semantics.split_bounds(step), targets[:-1], strict=True)]
            self.states[sid] = {"Type": "Choice", "Choices": choices,
                                "Default": targets[-1] if targets else self._target(follow)}
        else:  # pragma: no cover - the validator refuses unknown types
            raise ValueError(f"unknown step type {kind!r}")
        return sid

    def _condition(self, step: dict[str, Any], sid: str, follow: str | None) -> None:
        branch_then, then_first = self._branch(step["then"], follow)
        branch_else, else_first = self._branch(step.get("else", []), follow)
        payload: dict[str, Any] = {"action": "evaluate", "step": sid, **ENROLLMENT}
        if then_first is not None or else_first is not None:
            # The evaluate Task also does the first action of the branch it takes: one state
            # (and one transition, one Lambda call) less on every path through the condition.
            payload.update({"then": then_first, "else": else_first})
        if branch_then == branch_else:  # both branches go on at the same state: no Choice to make
            ending: dict[str, Any] = {"End": True} if branch_then is None else {"Next": branch_then}
            self.states[sid] = self._task(payload, ResultPath=None, **ending)
            return
        choice = f"{sid}?"
        self.states[sid] = self._task(payload, ResultSelector={"matched.$": "$.Payload.matched"},
                                      ResultPath="$.check", Next=choice)
        self.states[choice] = {
            "Type": "Choice",
            "Choices": [{"Variable": "$.check.matched", "BooleanEquals": True, "Next": branch_then or ENDED}],
            "Default": branch_else or ENDED,
        }

    def _branch(self, steps: list[dict[str, Any]], follow: str | None) -> tuple[str | None, dict[str, Any] | None]:
        """Where a branch of an `if` goes on after its evaluate Task, and the first action of the
        branch when that Task does it too (None: the branch starts at its own first state).

        An action is folded into the evaluate Task unless it must wait for quiet hours first."""
        first = steps[0] if steps else None
        if first is None or first["type"] not in ACTION_TYPES or (
                first["type"] in ("email", "sms") and self.quiet_hours):
            return self._target(self._steps(steps, follow)), None
        rest = None if first["type"] in TERMINAL_TYPES else self._steps(steps[1:], follow)
        return rest, {"step": str(first["id"]), "next": rest, "last": rest is None}

    def _task(self, payload: dict[str, Any], *, catch: bool = True, **fields: Any) -> dict[str, Any]:
        state: dict[str, Any] = {
            "Type": "Task", "Resource": INVOKE,
            "Parameters": {"FunctionName": self.arn, "Payload": payload},
        }
        ending: dict[str, Any] = {key: fields.pop(key) for key in ("Next", "End") if key in fields}
        state.update(fields)
        state.setdefault("ResultPath", None)
        state["Retry"] = copy.deepcopy(RETRY)
        if catch:
            state["Catch"] = copy.deepcopy(CATCH)
        state.update(ending)
        return state

    def _refers_to(self, name: str) -> bool:
        return any(name in _successors(state) for state in self.states.values())

    def _ordered(self, start: str) -> dict[str, dict[str, Any]]:
        """States in flow order (depth first from StartAt), the shared `_` states last."""
        order: list[str] = []
        seen: set[str] = set()
        pending = [start]
        while pending:
            name = pending.pop()
            if name in seen or name not in self.states:
                continue
            seen.add(name)
            order.append(name)
            pending.extend(reversed(_successors(self.states[name])))
        shared = [name for name in (COMPLETE, ENDED, EXITED, RECORD_FAILURE, FAILED) if name in self.states]
        body = [name for name in order if not name.startswith("_") or name == START]
        if start == COMPLETE:
            body = []
        return {name: self.states[name] for name in body + shared}


def _successors(state: dict[str, Any]) -> list[str]:
    """Names a state can go to: Next, Choices, Default, then Catch targets."""
    names = [state["Next"]] if "Next" in state else []
    names += [choice["Next"] for choice in state.get("Choices", [])]
    if "Default" in state:
        names.append(state["Default"])
    names += [catcher["Next"] for catcher in state.get("Catch", [])]
    return list(dict.fromkeys(names))


# -- measuring -----------------------------------------------------------------------------


def _state_events(state: dict[str, Any]) -> int:
    if state["Type"] == "Task":
        attempts: int = sum(retrier.get("MaxAttempts", 3) for retrier in state.get("Retry", []))
        return _TASK_EVENTS + _RETRY_EVENTS * attempts
    return _OTHER_EVENTS


def history_events(asl: dict[str, Any]) -> int:
    """Worst-case execution history along the longest path: a Task 5 events plus 3 per retry
    attempt allowed, any other state 2, the execution's start and end 2."""
    return _EXECUTION_EVENTS + _longest(asl, _state_events, failures=True)[0]


def main_path(asl: dict[str, Any]) -> list[str]:
    """The longest path from StartAt to a successful end, leaving out failures and exits
    (wait_for timeouts are kept): the states a contact enters at most, one transition each."""
    return _longest(asl, lambda state: 1, failures=False)[1]


def _longest(asl: dict[str, Any], weight: Any, *, failures: bool) -> tuple[int, list[str]]:
    """Heaviest path from StartAt (the graph has no cycles); iterative, for long machines."""
    states = asl["States"]

    def successors(name: str) -> list[str]:
        state = states[name]
        if failures:
            names = _successors(state)
        else:
            names = [state["Next"]] if "Next" in state else []
            names += [choice["Next"] for choice in state.get("Choices", [])]
            names += [state["Default"]] if "Default" in state else []
            names += [c["Next"] for c in state.get("Catch", []) if c["ErrorEquals"] == ["States.Timeout"]]
        return [name for name in names if name in states]

    best: dict[str, tuple[int, str | None]] = {}  # state -> (weight from it to the end, next)
    stack: list[tuple[str, bool]] = [(asl["StartAt"], False)]
    while stack:
        name, expanded = stack.pop()
        if name in best:
            continue
        if not expanded:
            stack.append((name, True))
            stack.extend((successor, False) for successor in successors(name) if successor not in best)
            continue
        heaviest: tuple[int, str | None] = (0, None)
        for successor in successors(name):
            if best[successor][0] > heaviest[0]:
                heaviest = (best[successor][0], successor)
        best[name] = (weight(states[name]) + heaviest[0], heaviest[1])
    path: list[str] = []
    cursor: str | None = asl["StartAt"]
    while cursor is not None:
        path.append(cursor)
        cursor = best[cursor][1]
    return best[asl["StartAt"]][0], path
