"""What a journey's recorded path counts in the reports (reports.flow): plain Python."""
from __future__ import annotations

from chalicelib.reports.flow import facts, step_ids
from chalicelib.scenarios import semantics

MAIL = {"type": "email", "subject": "s", "html": "h"}
DEFINITION = {"steps": [
    {"id": "welcome", **MAIL},
    {"id": "pause", "type": "wait", "duration": "P2D"},
    {"id": "check", "type": "if", "condition": {"field": "email", "op": "exists"},
     "then": [{"id": "yes", **MAIL}], "else": [{"id": "no", **MAIL}]},
    {"id": "ab", "type": "split", "branches": [
        {"weight": 50, "steps": [{"id": "a-wait", "type": "wait", "duration": "P1D"}]},
        {"weight": 50, "steps": []}]},
    {"id": "buy", "type": "wait_for", "event": "purchase", "timeout": "P3D",
     "then": [], "else": [{"id": "reminder", **MAIL}]},
    {"id": "nine", "type": "wait", "until": {"time": "09:00"}},
    {"id": "bye", **MAIL},
]}


def _path(*entries: tuple[str, str]) -> list[dict]:
    return [{"step": step, "at": "2026-11-30T10:00:00.000Z", "result": result} for step, result in entries]


def _bucket(branch: int) -> int:
    return next(bucket for bucket in range(100) if semantics.branch_of(DEFINITION["steps"][3], bucket) == branch)


def test_an_entered_journey_counts_its_entry_only():
    assert facts(DEFINITION, [], 0, "running") == {"entered"}


def test_a_finished_step_puts_the_journey_in_the_wait_that_follows():
    assert facts(DEFINITION, _path(("welcome", "sent")), 0, "running") == {
        "entered", "reached:welcome", "completed:welcome", "sent:welcome", "reached:pause"}


def test_a_send_step_counts_its_message_outcome_with_the_step():
    skipped = facts(DEFINITION, _path(("welcome", "skipped:no_consent")), 0, "running")
    assert "skipped:welcome:no_consent" in skipped and "sent:welcome" not in skipped
    # a retried step finds its message sent already and records how far it got: still one send
    assert "sent:welcome" in facts(DEFINITION, _path(("welcome", "delivered")), 0, "running")
    assert not any(fact.startswith(("sent:", "skipped:"))
                   for fact in facts(DEFINITION, _path(("welcome", "failed")), 0, "failed"))
    exited = facts(DEFINITION, _path(("welcome", "exit_when")), 0, "exited")
    assert "sent:welcome" not in exited and "left:exited:welcome" in exited


def test_a_condition_counts_its_branch_and_a_split_its_bucket_s_branch():
    found = facts(DEFINITION, _path(("welcome", "sent"), ("check", "else"), ("no", "skipped:no_consent")),
                  _bucket(0), "running")
    assert {"completed:pause", "branch:check:else", "reached:no", "completed:no", "branch:ab:0",
            "reached:a-wait"} <= found
    assert "completed:a-wait" not in found and "reached:yes" not in found
    other = facts(DEFINITION, _path(("welcome", "sent"), ("check", "then"), ("yes", "sent")), _bucket(1), "running")
    assert "branch:ab:1" in other and "reached:a-wait" not in other
    assert "reached:buy" not in other  # a wait_for counts once its Task records it


def test_a_wait_for_counts_then_when_resumed_and_else_once_a_later_step_shows_the_timeout():
    start = (("welcome", "sent"), ("check", "then"), ("yes", "sent"))
    waiting = facts(DEFINITION, _path(*start, ("buy", "waiting")), _bucket(1), "running")
    assert "reached:buy" in waiting and "completed:buy" not in waiting
    resumed = facts(DEFINITION, _path(*start, ("buy", "waiting"), ("buy", "then")), _bucket(1), "running")
    assert {"completed:buy", "branch:buy:then"} <= resumed and "reached:reminder" not in resumed
    timed_out = facts(DEFINITION, _path(*start, ("buy", "waiting"), ("reminder", "sent")), _bucket(1), "running")
    assert {"completed:buy", "branch:buy:else", "completed:reminder"} <= timed_out


def test_an_ending_counts_the_step_left_unfinished():
    start = (("welcome", "sent"), ("check", "then"), ("yes", "sent"), ("buy", "waiting"), ("buy", "then"))
    converted = facts(DEFINITION, _path(*start, ("nine", "waiting")), _bucket(1), "converted")
    assert {"ended:converted", "reached:nine", "left:converted:nine"} <= converted and "completed:nine" not in converted
    exited = facts(DEFINITION, _path(*start, ("nine", "waiting"), ("bye", "exit_when")), _bucket(1), "exited")
    assert {"completed:nine", "reached:bye", "left:exited:bye"} <= exited and "completed:bye" not in exited
    completed = facts(DEFINITION, _path(*start, ("nine", "waiting"), ("bye", "sent")), _bucket(1), "completed")
    assert {"completed:nine", "completed:bye", "ended:completed"} <= completed
    assert not any(fact.startswith("left:") for fact in completed)


def test_facts_only_grow_along_a_journey():
    steps = [("welcome", "sent"), ("check", "else"), ("no", "sent"), ("buy", "waiting"), ("reminder", "sent"),
             ("nine", "waiting"), ("bye", "sent")]
    seen: set[str] = set()
    for length in range(len(steps) + 1):
        now = facts(DEFINITION, _path(*steps[:length]), _bucket(0), "running")
        assert seen <= now
        seen = now


def test_every_step_in_document_order_with_its_depth():
    assert [(step["id"], depth) for step, depth in step_ids(DEFINITION["steps"])] == [
        ("welcome", 0), ("pause", 0), ("check", 0), ("yes", 1), ("no", 1), ("ab", 0), ("a-wait", 1), ("buy", 0),
        ("reminder", 1), ("nine", 0), ("bye", 0)]
