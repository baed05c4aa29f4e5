"""Which report facts a journey has produced so far, from its recorded path: plain Python.

The step runner records the steps that run a Task (actions, conditions, `wait_for`, waits
until a moment); a duration wait and a split are Step Functions states of their own that call
nothing. So the steps a journey has reached are found by walking the scenario along the
decisions it took (the `if` results and `wait_for` outcomes recorded, the split branch its
bucket fixes through semantics.branch_of), up to the last step with a record, plus the
duration waits and splits that directly follow a finished step: a contact sitting in a
two-day wait is counted there from the moment the step before it finished.

Facts are strings, so a journey's counted facts are a set stored on its enrollment:
`entered`, `ended:STATUS`, `reached:STEP`, `completed:STEP`, `left:STATUS:STEP` (the journey
ended there, converted or exited..., without finishing the step), `branch:STEP:BRANCH` (`then`,
`else`, or a split's index), and for a finished email or SMS step its message's outcome,
`sent:STEP` or `skipped:STEP:REASON`: a send is counted with the step that made it, in the
same write (a step id has no colon).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.scenarios import semantics
from chalicelib.vocabulary import ACTION_TYPES, TERMINAL_TYPES


@dataclass(frozen=True)
class _Passage:
    step: Mapping[str, Any]
    branch: str | None  # the branch taken, for if / wait_for / split
    recorded: bool  # the step runner recorded it (evidence the journey got there)
    finished: bool  # its record says it is done (an action done, a condition evaluated, a wait_for resumed)
    result: str | None = None  # an action's recorded outcome


def facts(definition: Mapping[str, Any], path: Sequence[Mapping[str, Any]], bucket: int, status: str) -> set[str]:
    """Every fact the journey has produced: what a report counts once for it."""
    results: dict[str, list[str]] = {}
    for entry in path:
        results.setdefault(str(entry["step"]), []).append(str(entry["result"]))
    walked: list[_Passage] = []
    _walk(definition.get("steps") or [], results, bucket, walked)
    found = {"entered"}
    if status != "running":
        found.add(f"ended:{status}")
    evidence = max((index for index, passage in enumerate(walked) if passage.recorded), default=-1)
    reached: list[tuple[_Passage, bool]] = []  # (passage, completed)
    for index, passage in enumerate(walked):
        if status == "completed" or index < evidence:
            reached.append((passage, True))
        elif index == evidence:
            reached.append((passage, passage.finished))
        elif not reached or reached[-1][1]:  # a state that follows a finished step without a Task
            if passage.step["type"] == "split":
                reached.append((passage, True))
            else:  # a duration wait: the journey is in it (or left it for a step not recorded yet)
                reached.append((passage, False))
                break
        else:
            break
    for passage, completed in reached:
        step_id = passage.step["id"]
        found.add(f"reached:{step_id}")
        if completed:
            found.add(f"completed:{step_id}")
            if passage.branch is not None:
                found.add(f"branch:{step_id}:{passage.branch}")
            sent = _message_fact(passage)
            if sent:
                found.add(sent)
        elif status != "running":
            found.add(f"left:{status}:{step_id}")
    return found


def _walk(steps: Sequence[Mapping[str, Any]], results: Mapping[str, list[str]], bucket: int,
          walked: list[_Passage]) -> bool:
    """Follow the steps along the recorded decisions; False where the walk cannot go on (a Task
    step not recorded yet, an exit)."""
    for step in steps:
        kind, done = step["type"], results.get(str(step["id"]), [])
        if kind == "split":
            index = semantics.branch_of(step, bucket)
            walked.append(_Passage(step, str(index), False, True))
            if not _walk(step["branches"][index]["steps"], results, bucket, walked):
                return False
            continue
        if kind == "wait" and "until" not in step:
            walked.append(_Passage(step, None, False, True))
            continue
        if not done:
            return False
        if kind in ACTION_TYPES:
            walked.append(_Passage(step, None, True, done[-1] != "exit_when", done[-1]))
            if done[-1] == "exit_when" or kind in TERMINAL_TYPES:
                return False
        elif kind == "if":
            branch = done[-1]
            walked.append(_Passage(step, branch, True, True))
            if not _walk(step.get(branch) or [], results, bucket, walked):
                return False
        elif kind == "wait_for":
            resumed = "then" in done
            walked.append(_Passage(step, "then" if resumed else "else", True, resumed))
            if not _walk(step.get("then" if resumed else "else") or [], results, bucket, walked):
                return False
        else:  # a wait until a moment: recorded when it begins, done when a later step shows it
            walked.append(_Passage(step, None, True, False))
    return True


# What a send step records when no message went out, besides "skipped:REASON".
_NOT_SENT = frozenset({"failed", "exit_when"})


def _message_fact(passage: _Passage) -> str | None:
    """`sent:STEP` or `skipped:STEP:REASON` for a finished email or SMS step (its recorded result is
    the message's status when a retried Task found it sent already and moved on: delivered...)."""
    result, step_id = passage.result, passage.step["id"]
    if passage.step["type"] not in ("email", "sms") or result is None or result in _NOT_SENT:
        return None
    if result.startswith("skipped:"):
        return f"skipped:{step_id}:{result.split(':', 1)[1]}"
    return f"sent:{step_id}"


def step_ids(steps: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], int]]:
    """Every step of a scenario, nested ones included, in document order, with its depth."""
    found: list[tuple[Mapping[str, Any], int]] = []

    def visit(items: Sequence[Mapping[str, Any]], depth: int) -> None:
        for step in items:
            found.append((step, depth))
            for branch in semantics.children(step):
                visit(branch, depth + 1)

    visit(steps, 0)
    return found
