"""Scenario JSON -> ASL: the contract with the step runner, state by state."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from chalicelib.scenarios.compiler import (
    CATCH,
    RETRY,
    Compiled,
    compile_scenario,
    history_events,
    main_path,
)
from examples import scenario_paths

ARN = "arn:aws:lambda:eu-west-3:123456789012:function:parcours-step-runner"
SCENARIOS = {path.stem: path for path in scenario_paths()}
STATELINT = Path(sys.executable).parent / "statelint"
ENROLLMENT = {"enrollment.$": "$.enrollment"}

# Reference scenario -> (number of states, states entered along the longest successful path).
EXPECTED = {
    "abandoned-cart": (8, ["wait-purchase", "why", "wait-answer", "shipping-answer"]),
    "birthday": (5, ["_start", "birthday-mail"]),
    "lead-magnet": (8, ["template", "d3", "method", "d6", "secret"]),
    "loyal-customers": (7, ["first-purchase", "first-purchase?", "_ended"]),
    "welcome-series": (6, ["welcome", "wait-week", "profile-done"]),
    "zero-waste": (7, ["last-chance", "react", "kept"]),
}
SHARED = {"_exited", "_record-failure", "_failed"}


def scenario(*steps: dict) -> dict:
    return {"id": "test", "name": "Test scenario", "trigger": {"event": "signup"}, "steps": list(steps)}


def email(step_id: str) -> dict:
    return {"id": step_id, "type": "email", "template": "t"}


def cond(step_id: str, then: list, otherwise: list | None = None) -> dict:
    step = {"id": step_id, "type": "if", "condition": {"field": "score", "op": "gt", "value": 1}, "then": then}
    if otherwise is not None:
        step["else"] = otherwise
    return step


def compile_steps(*steps: dict) -> Compiled:
    return compile_scenario(scenario(*steps), step_runner_arn=ARN)


def action(step_id: str, follow: str | None) -> dict:
    """The exact Task of an action step."""
    state = {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": ARN, "Payload": {
            "action": "step", "step": step_id, "next": follow, "last": follow is None, **ENROLLMENT}},
        "ResultPath": None, "Retry": RETRY, "Catch": CATCH,
    }
    state.update({"End": True} if follow is None else {"Next": follow})
    return state


def statelint(asl: dict) -> subprocess.CompletedProcess:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(asl, handle)
    try:
        return subprocess.run([str(STATELINT), handle.name], capture_output=True, text=True, check=False)
    finally:
        Path(handle.name).unlink()


def assert_well_formed(asl: dict) -> None:
    """Every target exists, every state is reachable, nothing that does no work."""
    states = asl["States"]
    assert asl["StartAt"] in states
    targets = {asl["StartAt"]}
    for name, state in states.items():
        assert len(name) <= 80
        assert state["Type"] in ("Task", "Choice", "Wait", "Succeed", "Fail")
        following = [state.get("Next"), state.get("Default"), *[c["Next"] for c in state.get("Choices", [])],
                     *[c["Next"] for c in state.get("Catch", [])]]
        for target in filter(None, following):
            assert target in states, (name, target)
            targets.add(target)
    assert targets == set(states)


# -- the reference scenarios ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reference_scenarios_compile_and_pass_statelint(name):
    definition = json.loads(SCENARIOS[name].read_text())
    compiled = compile_scenario(definition, step_runner_arn=ARN)
    result = statelint(compiled.asl)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert_well_formed(compiled.asl)
    count, path = EXPECTED[name]
    assert len(compiled.asl["States"]) == count
    assert main_path(compiled.asl) == path
    assert compiled.asl["Comment"] == definition["name"]
    assert history_events(compiled.asl) < 25_000
    json.dumps(compiled.asl)  # plain JSON


def test_reference_scenarios_are_all_covered():
    assert set(SCENARIOS) >= set(EXPECTED)


def test_every_step_kind_passes_statelint():
    definition = scenario(
        email("e1"),
        {"id": "s1", "type": "sms", "text": "Hi"},
        {"id": "w1", "type": "wait", "duration": "P1D"},
        {"id": "w2", "type": "wait", "until": {"time": "09:00"}},
        {"id": "wf", "type": "wait_for", "event": "purchase", "timeout": "PT1H",
         "then": [{"id": "l1", "type": "add_to_list", "list": "buyers"}]},
        cond("c", [{"id": "sc", "type": "score", "points": 5}]),
        {"id": "ab", "type": "split", "branches": [
            {"weight": 20, "steps": [{"id": "u", "type": "update_contact", "set": {"language": "fr"}}]},
            {"weight": 30, "steps": [{"id": "h", "type": "webhook", "url": "https://crm.example.com/x"}]},
            {"weight": 50, "steps": [{"id": "l2", "type": "remove_from_list", "list": "buyers"}]}]},
        {"id": "w3", "type": "wait", "duration": "PT5M"},
    )
    compiled = compile_scenario(definition, step_runner_arn=ARN)
    result = statelint(compiled.asl)
    assert (result.returncode, result.stdout) == (0, "")
    assert_well_formed(compiled.asl)
    assert "_complete" in compiled.asl["States"]


# -- one state per step kind ------------------------------------------------------------------


def test_action_steps_are_one_task_named_after_the_step():
    asl = compile_steps(email("a"), {"id": "b", "type": "score", "points": 3}).asl
    assert asl["StartAt"] == "a"
    assert asl["Comment"] == "Test scenario"
    assert list(asl["States"]) == ["a", "b", "_exited", "_record-failure", "_failed"]
    assert asl["States"]["a"] == action("a", "b")
    assert asl["States"]["b"] == action("b", None)


def test_a_throttled_task_waits_for_hours_before_the_journey_can_fail():
    throttled = next(retrier for retrier in RETRY if "Parcours.Throttled" in retrier["ErrorEquals"])
    delays = [min(throttled["IntervalSeconds"] * throttled["BackoffRate"] ** n, throttled["MaxDelaySeconds"])
              for n in range(throttled["MaxAttempts"])]
    assert sum(delays) > 2 * 3600
    assert throttled["JitterStrategy"] == "FULL"  # many journeys throttled at once do not retry in step
    assert CATCH == [{"ErrorEquals": ["Parcours.JourneyExited"], "ResultPath": None, "Next": "_exited"},
                     {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "_record-failure"}]


def test_shared_states():
    states = compile_steps(email("a")).asl["States"]
    assert states["_exited"] == {"Type": "Succeed"}
    assert states["_record-failure"] == {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": ARN, "Payload": {"action": "fail", **ENROLLMENT, "error.$": "$.error"}},
        "ResultPath": None, "Retry": RETRY, "Next": "_failed"}
    assert states["_failed"] == {"Type": "Fail", "Error": "Parcours.JourneyFailed"}
    assert "_complete" not in states


def folded(step_id: str, follow: str | None) -> dict:
    """The first action of a branch, done by the evaluate Task of its `if`."""
    return {"step": step_id, "next": follow, "last": follow is None}


def evaluate(step_id: str, then: dict | None = None, otherwise: dict | None = None, **ending: object) -> dict:
    """The exact evaluate Task of an `if`; `ending`: Next, End, or ResultSelector/ResultPath for a Choice."""
    payload: dict = {"action": "evaluate", "step": step_id, **ENROLLMENT}
    if then is not None or otherwise is not None:
        payload.update({"then": then, "else": otherwise})
    state = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
             "Parameters": {"FunctionName": ARN, "Payload": payload}}
    state.update({key: value for key, value in ending.items() if key in ("ResultSelector", "ResultPath")})
    state.setdefault("ResultPath", None)
    state.update({"Retry": RETRY, "Catch": CATCH})
    state.update({key: value for key, value in ending.items() if key in ("Next", "End")})
    return state


def test_exit_and_delete_contact_always_end_the_journey():
    states = compile_steps(
        cond("c", [{"id": "x", "type": "exit"}], [{"id": "d", "type": "delete_contact"}]), email("after"),
    ).asl["States"]
    assert states["c"] == evaluate("c", folded("x", None), folded("d", None), End=True)
    assert "after" not in states  # nothing reaches it: both branches leave
    assert "c?" not in states


def test_if_does_the_first_action_of_the_branch_it_takes():
    states = compile_steps(cond("c", [email("yes")], [email("no")])).asl["States"]
    # both branches end the journey after their one action: no Choice, no state of their own
    assert states["c"] == evaluate("c", folded("yes", None), folded("no", None), End=True)
    assert set(states) == {"c"} | SHARED


def test_if_is_an_evaluate_task_and_a_choice_when_the_branches_go_on_apart():
    states = compile_steps(cond("c", [email("yes"), email("more")], [email("no")]), email("z")).asl["States"]
    assert states["c"] == evaluate("c", folded("yes", "more"), folded("no", "z"),
                                   ResultSelector={"matched.$": "$.Payload.matched"}, ResultPath="$.check",
                                   Next="c?")
    assert states["c?"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.check.matched", "BooleanEquals": True, "Next": "more"}],
        "Default": "z"}
    assert states["more"] == action("more", "z")
    assert "yes" not in states and "no" not in states


def test_if_whose_branches_start_with_a_wait_only_evaluates():
    states = compile_steps(cond("c", [{"id": "w1", "type": "wait", "duration": "PT1H"}, email("yes")],
                                [email("no")]), email("z")).asl["States"]
    assert states["c"] == evaluate("c", None, folded("no", "z"), ResultSelector={"matched.$": "$.Payload.matched"},
                                   ResultPath="$.check", Next="c?")
    assert states["c?"]["Choices"][0]["Next"] == "w1"
    assert states["c?"]["Default"] == "z"


def test_if_without_else_defaults_to_what_follows():
    states = compile_steps(email("a"), cond("c", [email("yes")]), email("z")).asl["States"]
    assert states["a"] == action("a", "c")
    assert states["c"] == evaluate("c", folded("yes", "z"), None, Next="z")  # either way on to z
    assert states["z"] == action("z", None)
    assert "_complete" not in states and "c?" not in states


def test_split_is_one_choice_on_the_bucket_with_cumulative_weights():
    states = compile_steps(
        {"id": "ab", "type": "split", "branches": [
            {"weight": 20, "steps": [email("a")]},
            {"weight": 30, "steps": [email("b")]},
            {"weight": 50, "steps": [email("c")]}]},
        email("z"),
    ).asl["States"]
    assert states["ab"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.enrollment.bucket", "NumericLessThan": 20, "Next": "a"},
                    {"Variable": "$.enrollment.bucket", "NumericLessThan": 50, "Next": "b"}],
        "Default": "c"}
    for name in "abc":
        assert states[name] == action(name, "z")


def test_fifty_fifty_split():
    states = compile_steps({"id": "ab", "type": "split", "branches": [
        {"weight": 50, "steps": [email("a")]}, {"weight": 50, "steps": [email("b")]}]}).asl["States"]
    assert states["ab"]["Choices"] == [{"Variable": "$.enrollment.bucket", "NumericLessThan": 50, "Next": "a"}]
    assert states["ab"]["Default"] == "b"


def test_wait_duration_is_one_wait_state():
    states = compile_steps({"id": "w", "type": "wait", "duration": "P3D"}, email("z")).asl["States"]
    assert states["w"] == {"Type": "Wait", "Seconds": 3 * 86400, "Next": "z"}


@pytest.mark.parametrize("duration, seconds", [
    ("PT1S", 1), ("PT1.5S", 2), ("PT1H", 3600), ("P1W", 604800), ("P1M", 31 * 86400), ("P1Y", 365 * 86400),
])
def test_wait_seconds(duration, seconds):
    states = compile_steps({"id": "w", "type": "wait", "duration": duration}, email("z")).asl["States"]
    assert states["w"]["Seconds"] == seconds


def test_wait_until_is_a_task_and_a_wait_on_the_timestamp():
    states = compile_steps({"id": "w", "type": "wait", "until": {"time": "09:00"}}, email("z")).asl["States"]
    assert states["w"] == {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": ARN, "Payload": {"action": "wait_until", "step": "w", **ENROLLMENT}},
        "ResultSelector": {"at.$": "$.Payload.at"}, "ResultPath": "$.until",
        "Retry": RETRY, "Catch": CATCH, "Next": "w:wait"}
    assert states["w:wait"] == {"Type": "Wait", "TimestampPath": "$.until.at", "Next": "z"}


def test_wait_for_is_a_task_token_with_a_timeout_to_else():
    compiled = compile_steps(
        {"id": "wf", "type": "wait_for", "event": "purchase", "timeout": "PT1H",
         "then": [email("yes")], "else": [email("no")]},
        email("z"),
    )
    states = compiled.asl["States"]
    assert states["wf"] == {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": ARN, "Payload": {
            "action": "wait_for", "step": "wf", "token.$": "$$.Task.Token", **ENROLLMENT}},
        "TimeoutSecondsPath": "$.timeouts.t0", "ResultPath": None, "Retry": RETRY,
        "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": None, "Next": "no"}, *CATCH],
        "Next": "yes"}
    assert states["yes"] == action("yes", "z")
    assert states["no"] == action("no", "z")
    assert compiled.timeouts == {"t0": 3600}


def test_wait_for_without_branches_goes_on_either_way():
    states = compile_steps({"id": "wf", "type": "wait_for", "event": "x", "timeout": "P1D"},
                           email("z")).asl["States"]
    assert states["wf"]["Next"] == "z"
    assert states["wf"]["Catch"][0] == {"ErrorEquals": ["States.Timeout"], "ResultPath": None, "Next": "z"}


def test_timeouts_are_numbered_in_order_of_appearance():
    compiled = compile_steps(
        {"id": "a", "type": "wait_for", "event": "x", "timeout": "PT1M",
         "then": [{"id": "b", "type": "wait_for", "event": "y", "timeout": "PT2M"}],
         "else": [cond("c", [{"id": "d", "type": "wait_for", "event": "z", "timeout": "PT3M"}])]},
        {"id": "e", "type": "wait_for", "event": "w", "timeout": "PT4M"},
    )
    states = compiled.asl["States"]
    assert [states[name]["TimeoutSecondsPath"] for name in "abde"] == [
        "$.timeouts.t0", "$.timeouts.t1", "$.timeouts.t2", "$.timeouts.t3"]
    assert compiled.timeouts == {"t0": 60, "t1": 120, "t2": 180, "t3": 240}


# -- rejoining and _complete ------------------------------------------------------------------


COMPLETE = {
    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": ARN, "Payload": {"action": "complete", **ENROLLMENT}},
    "ResultPath": None, "Retry": RETRY, "Catch": CATCH, "End": True}


def test_journey_ending_on_a_wait_runs_complete():
    states = compile_steps(email("a"), {"id": "w", "type": "wait", "duration": "P1D"}).asl["States"]
    assert states["a"] == action("a", "w")
    assert states["w"]["Next"] == "_complete"
    assert states["_complete"] == COMPLETE
    assert list(states)[-4:] == ["_complete", "_exited", "_record-failure", "_failed"]


def test_if_at_the_end_without_else_defaults_to_complete():
    states = compile_steps(email("a"), cond("c", [email("yes")])).asl["States"]
    assert states["a"] == action("a", "c")
    assert states["c"]["Parameters"]["Payload"]["then"] == folded("yes", None)
    assert states["c?"]["Choices"][0]["Next"] == "_ended"  # "yes" ended the journey
    assert states["c?"]["Default"] == "_complete"
    assert states["_ended"] == {"Type": "Succeed"}


def test_wait_for_timeout_without_else_at_the_end_runs_complete():
    states = compile_steps({"id": "wf", "type": "wait_for", "event": "x", "timeout": "P1D",
                            "then": [email("yes")]}).asl["States"]
    assert states["wf"]["Next"] == "yes"
    assert states["wf"]["Catch"][0]["Next"] == "_complete"
    assert states["yes"] == action("yes", None)
    assert "_complete" in states


def test_if_whose_branches_end_on_non_actions():
    states = compile_steps(
        email("a"),
        cond("c", [{"id": "w1", "type": "wait", "duration": "PT1H"}],
             [{"id": "w2", "type": "wait", "until": {"time": "08:00"}}]),
    ).asl["States"]
    assert states["a"] == action("a", "c")
    assert states["w1"]["Next"] == "_complete"
    assert states["w2:wait"]["Next"] == "_complete"
    assert "_complete" in states


def test_branches_rejoin_and_last_is_computed_per_path():
    states = compile_steps(
        cond("c", [email("t1"), cond("inner", [email("t2")])], [email("e1")]),
        {"id": "w", "type": "wait", "duration": "P1D"},
        email("z"),
    ).asl["States"]
    assert states["c"]["Parameters"]["Payload"]["then"] == folded("t1", "inner")
    assert states["c"]["Parameters"]["Payload"]["else"] == folded("e1", "w")
    assert states["c?"]["Choices"][0]["Next"] == "inner"
    assert states["c?"]["Default"] == "w"
    assert states["inner"] == evaluate("inner", folded("t2", "w"), None, Next="w")  # empty else rejoins too
    assert states["w"]["Next"] == "z"
    assert states["z"] == action("z", None)
    assert "_complete" not in states


def test_nested_branches_ending_the_journey_each_end():
    states = compile_steps(
        {"id": "ab", "type": "split", "branches": [
            {"weight": 50, "steps": [email("a"), {"id": "wf", "type": "wait_for", "event": "x", "timeout": "P1D",
                                                   "then": [email("got")]}]},
            {"weight": 50, "steps": [email("b")]}]},
    ).asl["States"]
    assert states["a"] == action("a", "wf")
    assert states["got"] == action("got", None)
    assert states["b"] == action("b", None)
    assert states["wf"]["Catch"][0]["Next"] == "_complete"


def test_no_pass_states_and_flow_order():
    asl = compile_scenario(json.loads(SCENARIOS["abandoned-cart"].read_text()), step_runner_arn=ARN).asl
    assert list(asl["States"]) == [
        "wait-purchase", "bought", "why", "wait-answer", "shipping-answer", "_exited", "_record-failure", "_failed"]
    assert asl["States"]["why"] == action("why", "wait-answer")
    assert asl["States"]["bought"] == action("bought", None)


# -- durations ---------------------------------------------------------------------------------
# One ASL for AWS and the local stack: the local Step Functions keeps the scaled domain clock.


@pytest.mark.parametrize("duration, seconds", [
    ("P3D", 3 * 86400), ("PT1H", 3600), ("PT0.5S", 1), ("PT1M30S", 90), ("P1M", 31 * 86400),
])
def test_waits_and_timeouts_are_whole_seconds_of_at_least_one(duration, seconds):
    compiled = compile_steps({"id": "w", "type": "wait", "duration": duration},
                             {"id": "wf", "type": "wait_for", "event": "x", "timeout": duration})
    assert compiled.asl["States"]["w"]["Seconds"] == seconds
    assert compiled.timeouts == {"t0": seconds}


# -- misuse -----------------------------------------------------------------------------------


def test_compiled_is_frozen():
    compiled = compile_steps(email("a"))
    with pytest.raises(AttributeError):
        compiled.asl = {}  # type: ignore[misc]


def test_history_events_count_retries():
    asl = compile_steps(email("a")).asl
    # start/end 2 + a (5 + 3 x (20 + 6)) + _record-failure (83) + _failed 2
    assert history_events(asl) == 2 + 83 + 83 + 2


def test_quiet_hours_hold_each_send_until_the_window_ends():
    definition = json.loads(SCENARIOS["welcome-series"].read_text())
    definition["settings"] = {"quiet_hours": {"from": "21:00", "to": "08:00"}, "timezone": "Europe/Paris"}
    asl = compile_scenario(definition, step_runner_arn=ARN).asl
    assert asl["StartAt"] == "welcome:quiet"
    quiet = asl["States"]["welcome:quiet"]
    assert quiet["Parameters"]["Payload"] == {"action": "quiet_hours", "step": "welcome",
                                              "enrollment.$": "$.enrollment"}
    assert quiet["Next"] == "welcome:hold"
    assert asl["States"]["welcome:hold"] == {"Type": "Wait", "TimestampPath": "$.until.at", "Next": "welcome"}
    # a send held for quiet hours is not folded into the condition: the hold comes first
    assert asl["States"]["profile-done"]["Parameters"]["Payload"] == {"action": "evaluate", "step": "profile-done",
                                                                      "enrollment.$": "$.enrollment"}
    assert asl["States"]["profile-done?"]["Choices"][0]["Next"] == "discover:quiet"
    assert_well_formed(asl)
    assert statelint(asl).returncode == 0


def test_a_date_trigger_starts_with_a_wait_until_the_local_moment():
    asl = compile_scenario(json.loads(SCENARIOS["birthday"].read_text()), step_runner_arn=ARN).asl
    assert asl["StartAt"] == "_start"
    assert asl["States"]["_start"] == {"Type": "Wait", "TimestampPath": "$.enrollment.start_at",
                                       "Next": "birthday-mail"}
