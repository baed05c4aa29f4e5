"""Scenario validation: every problem at once, each with its JSON path."""
from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from chalicelib.events.validate import validate_event
from chalicelib.scenarios import compiler
from chalicelib.scenarios.schema import MAX_STATES, validate
from examples import scenario_paths
from tests.helpers import DESIGN_EXAMPLE

SCENARIOS = scenario_paths()



def scenario(*steps: dict, **extra) -> dict:
    definition = {"id": "test", "name": "Test", "trigger": {"event": "signup"}, "steps": list(steps)}
    definition.update(extra)
    return definition


def email(step_id: str, **extra) -> dict:
    return {"id": step_id, "type": "email", "template": "t", **extra}


def paths(problems) -> dict[str, str]:
    """path -> messages joined (several problems may share a path)."""
    found: dict[str, str] = {}
    for problem in problems:
        found[problem.path] = (found.get(problem.path, "") + " | " + problem.message).strip(" |")
    return found


def only(problems) -> tuple[str, str]:
    assert len(problems) == 1, problems
    return problems[0].path, problems[0].message


def test_reference_scenarios_are_there():
    assert len(SCENARIOS) >= 6


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_reference_scenarios_are_valid(path):
    assert validate(json.loads(path.read_text())) == []


def test_design_example_is_valid():
    assert validate(DESIGN_EXAMPLE) == []


def test_every_step_type_in_one_valid_scenario():
    definition = scenario(
        {"id": "e1", "type": "email", "template": "welcome", "transactional": True},
        {"id": "e2", "type": "email", "subject": "Hi", "text": "Hello"},
        {"id": "s1", "type": "sms", "text": "Hi", "transactional": False},
        {"id": "s2", "type": "sms", "template": "sms-hi"},
        {"id": "w1", "type": "wait", "until": {"time": "09:00"}},
        {"id": "w2", "type": "wait", "until": {"date_field": "attributes.trial_ends_at", "offset": "-P2D"}},
        {"id": "w4", "type": "wait", "until": {"date_field": "birthday", "offset": "P1D"}},
        {"id": "wf", "type": "wait_for", "event": "purchase", "timeout": "P30D",
         "where": {"field": "properties.amount", "op": "gte", "value": 10}},
        {"id": "ab", "type": "split", "branches": [
            {"weight": 1, "steps": [{"id": "l1", "type": "add_to_list", "list": "vip"}]},
            {"weight": 99, "steps": [{"id": "l2", "type": "remove_from_list", "list": "vip"}]}]},
        {"id": "sc", "type": "score", "points": -5},
        {"id": "up", "type": "update_contact", "set": {
            "attributes.plan": "pro", "attributes.tags": ["a", 1], "language": "fr",
            "timezone": "Europe/Paris", "birthday": "1990-02-28", "first_name": None}},
        {"id": "hook", "type": "webhook", "url": "https://crm.example.com/hooks/parcours?x=1",
         "body": {"contact": "{{ contact.email }}"}},
        {"id": "bye", "type": "delete_contact"},
        entry={"reentry": "always", "max_contacts": 1},
        goals=[{"event": "purchase", "where": {"field": "properties.amount", "op": "gt", "value": 0}}],
        description="everything",
        settings={"timezone": "UTC"},
    )
    assert validate(definition) == []


def test_date_trigger_is_valid():
    definition = scenario(email("a"), trigger={"date": {"field": "birthday", "annual": True, "at": "23:59"}})
    assert validate(definition) == []


@pytest.mark.parametrize("field", ["attributes.contract_start", "contract_start", "created_at", "last_activity_at"])
def test_a_date_trigger_runs_on_birthday_only_and_says_what_to_do_instead(field):
    definition = scenario(email("a"), trigger={"date": {"field": field, "annual": True}})
    [problem] = validate(definition)
    assert problem.path == "trigger.date.field"
    assert "cannot trigger a scenario: date triggers run on birthday" in problem.message
    assert f'{{"until": {{"date_field": "{field}"}}}}' in problem.message


def test_not_an_object():
    assert only(validate([])) == ("", "a scenario must be a JSON object with id, name, trigger and steps")


def test_missing_required_keys():
    found = paths(validate({}))
    assert set(found) == {"id", "name", "trigger", "steps"}
    assert "required" in found["steps"]


def test_many_problems_at_once_with_paths():
    definition = scenario(
        {"id": "w", "type": "wait", "duration": "3 days"},
        {"id": "nested", "type": "if", "condition": {"field": "attributes.vip", "op": "eq", "value": True},
         "then": [{"id": "long", "type": "wait", "duration": "P2Y"},
                  {"id": "w", "type": "email", "template": "x"}],
         "else": []},
        {"id": "odd", "type": "teleport"},
        {"id": "mail", "type": "email", "template": "x", "colour": "red"},
        {"id": "ab", "type": "split", "branches": [
            {"weight": 50, "steps": [{"id": "a", "type": "score", "points": 1}]},
            {"weight": 40, "steps": [{"id": "b", "type": "score", "points": 2}]}]},
        {"id": "hook", "type": "webhook", "url": "http://169.254.169.254/latest/meta-data/"},
        {"id": "stop", "type": "exit"},
        {"id": "after", "type": "email", "template": "x"},
        id="Bad Id", trigger={"event": "signup", "date": {"field": "birthday"}}, colour="blue",
    )
    found = paths(validate(definition))
    assert set(found) == {
        "id", "colour", "trigger", "steps[0].duration", "steps[1].then[0].duration",
        "steps[1].then[1].id", "steps[2].type", "steps[3].colour", "steps[4].branches",
        "steps[5].url", "steps[6]",
    }
    assert "ISO 8601" in found["steps[0].duration"]
    assert "longer than one year" in found["steps[1].then[0].duration"]
    assert "duplicate step id 'w': already used at steps[0]" in found["steps[1].then[1].id"]
    assert "unknown step type \"teleport\"" in found["steps[2].type"]
    assert "unknown field 'colour' in an email step" in found["steps[3].colour"]
    assert "unknown field 'colour' in a scenario" in found["colour"]
    assert "add up to 100, they add up to 90" in found["steps[4].branches"]
    assert "https" in found["steps[5].url"]
    assert "steps after an exit" in found["steps[6]"]
    assert "either an event or a date" in found["trigger"]


@pytest.mark.parametrize("value, message", [
    ("3 days", "is not an ISO 8601 duration"),
    ("P", "is not an ISO 8601 duration"),
    (3600, "must be an ISO 8601 duration"),
    ("PT0S", "must be positive"),
    ("-PT1H", "must be positive"),
    ("P366D", "longer than one year"),
    ("P13M", "longer than one year"),
    ("P1Y1D", "longer than one year"),
])
def test_bad_durations(value, message):
    path, text = only(validate(scenario({"id": "w", "type": "wait", "duration": value})))
    assert path == "steps[0].duration"
    assert message in text


@pytest.mark.parametrize("value", ["P1Y", "P365D", "P12M", "PT1S", "P1W", "PT1.5H"])
def test_longest_accepted_durations(value):
    assert validate(scenario({"id": "w", "type": "wait", "duration": value}, email("e"))) == []


def test_wait_for_timeout_checked_and_required():
    definition = scenario(
        {"id": "a", "type": "wait_for", "event": "purchase", "timeout": "P400D"},
        {"id": "b", "type": "wait_for", "event": "purchase"},
        {"id": "c", "type": "wait_for", "timeout": "PT1H", "event": "no spaces allowed"},
    )
    found = paths(validate(definition))
    assert set(found) == {"steps[0].timeout", "steps[1].timeout", "steps[2].event"}
    assert "longer than one year" in found["steps[0].timeout"]
    assert "required" in found["steps[1].timeout"]


def test_total_wait_along_a_path_is_limited_to_a_year():
    definition = scenario(
        {"id": "w1", "type": "wait", "duration": "P200D"},
        {"id": "c", "type": "if", "condition": {"field": "score", "op": "gt", "value": 1},
         "then": [{"id": "w2", "type": "wait", "duration": "P100D"}],
         "else": [{"id": "wf", "type": "wait_for", "event": "x", "timeout": "P170D"}]},
        email("e"),
    )
    path, message = only(validate(definition))
    assert path == "steps"
    assert message == ("would exceed Step Functions limits: the longest path waits 370.0 days in all, "
                       "and an execution lives at most 365 days")
    definition["steps"][1]["else"][0]["timeout"] = "P165D"
    assert validate(definition) == []


def test_duplicate_ids_at_different_depths():
    definition = scenario(
        email("x"),
        {"id": "f", "type": "wait_for", "event": "e", "timeout": "P1D",
         "then": [{"id": "c", "type": "if", "condition": {"field": "score", "op": "gt", "value": 1},
                   "then": [email("x")], "else": [email("f")]}],
         "else": [{"id": "ab", "type": "split", "branches": [
             {"weight": 50, "steps": [email("c")]}, {"weight": 50, "steps": [email("ok")]}]}]},
    )
    found = paths(validate(definition))
    assert found == {
        "steps[1].then[0].then[0].id": "duplicate step id 'x': already used at steps[0]",
        "steps[1].then[0].else[0].id": "duplicate step id 'f': already used at steps[1]",
        "steps[1].else[0].branches[0].steps[0].id": "duplicate step id 'c': already used at steps[1].then[0]",
    }


@pytest.mark.parametrize("step_id", ["", "-a", "a b", "é", "a" * 65, 7, None])
def test_bad_step_ids(step_id):
    path, message = only(validate(scenario({"id": step_id, "type": "exit"})))
    assert path == "steps[0].id"
    assert "1 to 64 letters" in message


def test_missing_id_and_type():
    found = paths(validate(scenario({"type": "sms", "text": "x"}, {"id": "x"}, "nope")))
    assert set(found) == {"steps[0].id", "steps[1].type", "steps[2]"}


@pytest.mark.parametrize("branches, where, message", [
    ([{"weight": 50, "steps": [{"id": "a", "type": "exit"}]}], "steps[0].branches", "at least 2"),
    ([{"weight": 0, "steps": [{"id": "a", "type": "exit"}]},
      {"weight": 99, "steps": [{"id": "b", "type": "exit"}]}], "steps[0].branches[0].weight", "1 to 99"),
    ([{"weight": 50.0, "steps": [{"id": "a", "type": "exit"}]},
      {"weight": 50, "steps": [{"id": "b", "type": "exit"}]}], "steps[0].branches[0].weight", "1 to 99"),
    ([{"weight": 30, "steps": [{"id": "a", "type": "exit"}]},
      {"weight": 30, "steps": [{"id": "b", "type": "exit"}]},
      {"weight": 30, "steps": [{"id": "c", "type": "exit"}]}], "steps[0].branches", "they add up to 90"),
    ([{"weight": 50, "steps": []},
      {"weight": 50, "steps": [{"id": "b", "type": "exit"}]}], "steps[0].branches[0].steps", "at least one step"),
    ([{"weight": 50}, {"weight": 50, "steps": [{"id": "b", "type": "exit"}]}],
     "steps[0].branches[0].steps", "required"),
    ("half", "steps[0].branches", "at least 2"),
])
def test_split_problems(branches, where, message):
    path, text = only(validate(scenario({"id": "ab", "type": "split", "branches": branches})))
    assert path == where
    assert message in text


def test_steps_after_an_exit_at_any_depth():
    definition = scenario(
        {"id": "c", "type": "if", "condition": {"field": "score", "op": "gt", "value": 1},
         "then": [{"id": "gone", "type": "delete_contact"}, email("never")]},
        email("fine"),
        {"id": "stop", "type": "exit"},
        email("late"), email("later"),
    )
    found = paths(validate(definition))
    assert found == {
        "steps[0].then[0]": "steps after an exit: 1 step after this delete_contact step would never run; "
                            "it must be the last step of its list",
        "steps[2]": "steps after an exit: 2 steps after this exit step would never run; "
                    "it must be the last step of its list",
    }


def test_if_needs_condition_and_non_empty_then():
    definition = scenario(
        {"id": "c1", "type": "if", "condition": {"field": "score", "op": "gt", "value": 1}, "then": []},
        {"id": "c2", "type": "if", "then": [email("a")]},
        {"id": "c3", "type": "if", "condition": {"field": "nope", "op": "eq", "value": 1}},
    )
    found = paths(validate(definition))
    assert set(found) == {"steps[0].then", "steps[1].condition", "steps[2].condition.field", "steps[2].then"}
    assert found["steps[0].then"] == "then of an if needs at least one step"


def test_criteria_problems_carry_their_paths():
    definition = scenario(
        {"id": "wf", "type": "wait_for", "event": "x", "timeout": "P1D",
         "where": {"field": "attributes.plan", "op": "eq", "value": 1}},
        trigger={"event": "signup", "where": {"field": "email", "op": "eq", "value": "a"}},
        goals=[{"event": "purchase", "where": {"in_list": "x"}}],
        exit_when={"field": "properties.x", "op": "eq", "value": 1},
    )
    found = paths(validate(definition))
    assert set(found) == {"trigger.where.field", "goals[0].where.in_list", "exit_when.field", "steps[0].where.field"}


@pytest.mark.parametrize("trigger, where, message", [
    ({}, "trigger", "needs an event or a date"),
    ("signup", "trigger", "must be an object"),
    ({"event": "signup", "date": {"field": "birthday"}}, "trigger", "not both"),
    ({"event": ""}, "trigger.event", "event type"),
    ({"event": "signup", "filter": {}}, "trigger.filter", "unknown field"),
    ({"date": {"field": "first_name"}}, "trigger.date.field", "not a date field"),
    ({"date": {"field": "consent.email"}}, "trigger.date.field", "not a date field"),
    ({"date": {"annual": True}}, "trigger.date.field", "required"),
    ({"date": {"field": "birthday", "at": "9:00"}}, "trigger.date.at", "HH:MM"),
    ({"date": {"field": "birthday", "at": "24:00"}}, "trigger.date.at", "HH:MM"),
    ({"date": {"field": "birthday", "annual": "yes"}}, "trigger.date.annual", "true or false"),
    ({"date": {"field": "birthday"}, "where": {"field": "properties.x", "op": "exists"}}, "trigger.where",
     "unknown field"),
    ({"date": "birthday"}, "trigger.date", "must be an object"),
])
def test_bad_triggers(trigger, where, message):
    path, text = only(validate(scenario(email("a"), trigger=trigger)))
    assert path == where
    assert message in text


@pytest.mark.parametrize("event_type", [
    "purchase", "email.clicked", "form:submitted", "A" + "b" * 99,
    "1st_purchase", "_private", "-x", "A" + "b" * 100, "page view",
])
def test_a_trigger_validates_exactly_when_ingestion_accepts_its_event_type(event_type):
    ingested, _ = validate_event({"type": event_type, "contact": {"email": "ana@example.com"}},
                                 allow_system=True, future_tolerance=timedelta(minutes=5))
    problems = validate(scenario(email("a"), trigger={"event": event_type}))
    if ingested is not None:
        assert problems == []
    else:
        path, message = only(problems)
        assert path == "trigger.event" and "an event type must be a name" in message


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/",
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/hook",
    "https://2852039166/",
    "https://0xa9fea9fe/",
    "https://0251.0376.0251.0376/",
    "https://[::1]/hook",
    "https://[fd00:ec2::254]/",
    "https://localhost/hook",
    "https://LOCALHOST./hook",
    "https://api.localhost/hook",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://printer.local/",
    "https://intranet/hook",
    "ftp://example.com/x",
    "//example.com/x",
    "https:///path-only",
    "https://example.com:99999/",
    "https://crm.example.com:8443/hook",
    "https://crm.example.com:80/hook",
    "https://127.0.0.1.nip.io/hook",
    "https://hooks.10-0-0-1.sslip.io/",
    "https://app.localtest.me/hook",
    "https://169.254.169.254.example.com/",
    "https://exa mple.com/",
    "",
    42,
])
def test_webhook_urls_refused(url):
    path, message = only(validate(scenario({"id": "hook", "type": "webhook", "url": url})))
    assert path == "steps[0].url"
    assert message


@pytest.mark.parametrize("url", [
    "https://hooks.example.com/x", "https://user:secret@crm.example.com:443/a?b=c#d",
    "https://xn--caf-dma.example/hook", "HTTPS://Example.COM/", "https://127.example.com/",
])
def test_webhook_urls_accepted(url):
    assert validate(scenario({"id": "hook", "type": "webhook", "url": url, "body": {"a": [1]}})) == []


def test_webhook_body_must_be_an_object():
    path, _ = only(validate(scenario({"id": "h", "type": "webhook", "url": "https://a.example/", "body": "x"})))
    assert path == "steps[0].body"


def test_too_many_states_with_the_numbers():
    # 3 shared states (_exited, _record-failure, _failed) + one Task per email.
    limit = MAX_STATES - 3
    assert validate(scenario(*[email(f"e{i}") for i in range(limit)])) == []
    path, message = only(validate(scenario(*[email(f"e{i}") for i in range(limit + 1)])))
    assert path == "steps"
    assert message == ("would exceed Step Functions limits: the scenario compiles to 201 states, "
                       "at most 200 are allowed")


def test_states_are_counted_even_while_other_problems_exist():
    steps = [email(f"e{i}") for i in range(150)]
    steps += [{"id": f"c{i}", "type": "if", "condition": {"field": "score", "op": "gt", "value": i},
               "then": [{"id": f"w{i}", "type": "wait", "duration": "nonsense"}]} for i in range(20)]
    found = paths(validate(scenario(*steps)))
    assert "would exceed Step Functions limits: the scenario compiles to 214 states" in found["steps"]
    assert "steps[150].then[0].duration" in found


def test_history_limit_is_reported(monkeypatch):
    from chalicelib.scenarios import schema

    monkeypatch.setattr(schema, "MAX_HISTORY_EVENTS", 400)
    definition = scenario(*[email(f"e{i}") for i in range(4)])
    path, message = only(validate(definition))
    assert path == "steps"
    # 2 (execution) + 4 Tasks x 83 (5 + 3 x (20 + 6) retries) + _record-failure 83 + _failed 2
    assert message == ("would exceed Step Functions limits: the longest path may record 419 history events "
                       "(with retries), an execution must stay under 400")


def test_history_events_of_a_machine():
    asl = compiler.compile_scenario(scenario(email("a"), {"id": "w", "type": "wait", "duration": "P1D"}),
                                    step_runner_arn=compiler.PLACEHOLDER_ARN).asl
    # a (83) -> w (2) -> _complete (83) -> _record-failure (83) -> _failed (2), plus 2
    assert compiler.history_events(asl) == 2 + 83 + 2 + 83 + 83 + 2


def test_definition_size_limit():
    big = scenario(email("a"), description="x" * (1024 * 1024))
    path, message = only(validate(big))
    assert path == ""
    assert "at most 1,048,576 (1 MB)" in message


def test_deep_nesting_is_refused_without_recursing_forever():
    step: dict = email("leaf")
    for depth in range(40):
        step = {"id": f"c{depth}", "type": "if", "condition": {"field": "score", "op": "gt", "value": 1},
                "then": [step]}
    found = paths(validate(scenario(step)))
    assert any("nested more than" in message for message in found.values())


@pytest.mark.parametrize("step, where, message", [
    ({"id": "e", "type": "email"}, "steps[0]", "needs a template"),
    ({"id": "e", "type": "email", "template": "t", "subject": "s"}, "steps[0]", "not both"),
    ({"id": "e", "type": "email", "subject": "s"}, "steps[0]", "needs html or text"),
    ({"id": "e", "type": "email", "html": "<p>x</p>"}, "steps[0].subject", "required"),
    ({"id": "e", "type": "email", "subject": " ", "text": "x"}, "steps[0].subject", "non-empty"),
    ({"id": "e", "type": "email", "template": "a b"}, "steps[0].template", "must be an id"),
    ({"id": "e", "type": "email", "template": "t", "transactional": "yes"}, "steps[0].transactional", "true or"),
    ({"id": "s", "type": "sms"}, "steps[0]", "needs a template or a text"),
    ({"id": "s", "type": "sms", "text": "a", "template": "b"}, "steps[0]", "not both"),
    ({"id": "s", "type": "sms", "text": "a", "subject": "b"}, "steps[0].subject", "unknown field"),
    ({"id": "w", "type": "wait"}, "steps[0]", "needs a duration"),
    ({"id": "w", "type": "wait", "duration": "P1D", "until": {"time": "09:00"}}, "steps[0]", "not both"),
    ({"id": "w", "type": "wait", "until": {"time": "9h"}}, "steps[0].until.time", "HH:MM"),
    ({"id": "w", "type": "wait", "until": {}}, "steps[0].until", "needs a time or a date_field"),
    ({"id": "w", "type": "wait", "until": {"date_field": "email"}}, "steps[0].until.date_field", "not a date"),
    ({"id": "w", "type": "wait", "until": {"date_field": "email"}}, "steps[0].until.date_field",
     "not a date field"),
    ({"id": "w", "type": "wait", "until": {"date_field": "birthday", "offset": "P2Y"}}, "steps[0].until.offset",
     "longer than one year"),
    ({"id": "w", "type": "wait", "until": {"time": "09:00", "offset": "P1D"}}, "steps[0].until.offset",
     "goes with date_field"),
    ({"id": "l", "type": "add_to_list"}, "steps[0].list", "required"),
    ({"id": "l", "type": "remove_from_list", "list": ""}, "steps[0].list", "must be an id"),
    ({"id": "p", "type": "score", "points": 0}, "steps[0].points", "non-zero"),
    ({"id": "p", "type": "score", "points": 1.5}, "steps[0].points", "non-zero whole"),
    ({"id": "p", "type": "score", "points": True}, "steps[0].points", "non-zero whole"),
    ({"id": "u", "type": "update_contact", "set": {}}, "steps[0].set", "non-empty object"),
    ({"id": "u", "type": "update_contact", "set": {"email": "a@b.c"}}, "steps[0].set.email", "cannot be set"),
    ({"id": "u", "type": "update_contact", "set": {"score": 3}}, "steps[0].set.score", "cannot be set"),
    ({"id": "u", "type": "update_contact", "set": {"attributes.a-b": 3}}, "steps[0].set.attributes.a-b",
     "cannot be set"),
    ({"id": "u", "type": "update_contact", "set": {"timezone": "Mars/Base"}}, "steps[0].set.timezone",
     "IANA"),
    ({"id": "u", "type": "update_contact", "set": {"birthday": "28/02/1990"}}, "steps[0].set.birthday",
     "YYYY-MM-DD"),
    ({"id": "u", "type": "update_contact", "set": {"attributes.x": {"a": 1}}}, "steps[0].set.attributes.x",
     "string, number"),
    ({"id": "x", "type": "exit", "reason": "done"}, "steps[0].reason", "in an exit step; expected id, type"),
    ({"id": "wf", "type": "wait_for", "event": "x", "timeout": "P1D", "then": {}}, "steps[0].then",
     "needs a list of steps"),
])
def test_step_field_problems(step, where, message):
    path, text = only(validate(scenario(step)))
    assert path == where
    assert message in text


@pytest.mark.parametrize("extra, where, message", [
    ({"entry": {"reentry": "sometimes"}}, "entry.reentry", "never"),
    ({"entry": {"reentry": {"after": "soon"}}}, "entry.reentry.after", "ISO 8601"),
    ({"entry": {"reentry": {}}}, "entry.reentry.after", "required"),
    ({"entry": {"max_contacts": 0}}, "entry.max_contacts", "positive integer"),
    ({"entry": {"max_contacts": True}}, "entry.max_contacts", "positive integer"),
    ({"entry": {"limit": 3}}, "entry.limit", "unknown field"),
    ({"goals": {"event": "purchase"}}, "goals", "must be a list"),
    ({"goals": [{"where": {"field": "properties.a", "op": "exists"}}]}, "goals[0].event", "required"),
    ({"settings": {"timezone": "Paris"}}, "settings.timezone", "IANA"),
    ({"settings": {"quiet_hours": {"from": "21:00"}}}, "settings.quiet_hours.to", "required"),
    ({"settings": {"quiet_hours": {"from": "21:00", "to": "21:00"}}}, "settings.quiet_hours", "different"),
    ({"settings": {"frequency_cap": 3}}, "settings.frequency_cap", "unknown field"),
    ({"name": ""}, "name", "non-empty"),
    ({"id": "Upper"}, "id", "lowercase"),
    ({"id": "a" * 65}, "id", "lowercase"),
    ({"description": 3}, "description", "string"),
    ({"steps": []}, "steps", "at least one step"),
    ({"steps": {}}, "steps", "list of steps"),
])
def test_scenario_level_problems(extra, where, message):
    definition = scenario(email("a"))
    definition.update(extra)
    path, text = only(validate(definition))
    assert path == where
    assert message in text


def test_validation_does_not_modify_the_definition():
    definition = json.loads(SCENARIOS[0].read_text())
    before = copy.deepcopy(definition)
    validate(definition)
    assert definition == before


@pytest.mark.parametrize("junk", [None, 3, "x", [], [[]], {"a": {}}, [{"type": ["exit"]}, {"id": {}, "type": {}}]])
def test_junk_never_raises(junk):
    for key in ("trigger", "entry", "goals", "exit_when", "settings", "steps", "id", "name"):
        definition = scenario(email("a"))
        definition[key] = junk
        assert isinstance(validate(definition), list)  # problems, never an exception
    step = {"id": "s", "type": "wait_for", "event": junk, "timeout": junk, "then": junk, "else": junk, "where": junk}
    assert validate(scenario(step))
