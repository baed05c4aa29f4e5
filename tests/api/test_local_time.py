"""The local stack keeps time like AWS at any scale: one domain clock for every duration."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import DAY, eventually, journey, journeys, message, publish, scenario, signup

# Step Functions stamps its history to the millisecond (86 s of the domain at 86400), and a
# thread wakes a few milliseconds late on a busy machine.
SLACK = timedelta(minutes=30)


def _at(text: str) -> datetime:
    from chalicelib import clock

    return clock.parse_iso(text)


def _wait_lengths(scenario_id: str) -> dict[str, timedelta]:
    """How long each Wait state of the scenario's one execution lasted, in domain time
    (Step Functions' history is stamped on the wall clock)."""
    import boto3

    from chalicelib import clock
    from chalicelib.scenarios.deployer import state_machine_name

    sfn = boto3.client("stepfunctions")
    machine = next(item["stateMachineArn"] for item in sfn.list_state_machines()["stateMachines"]
                   if item["name"] == state_machine_name(scenario_id))
    [execution] = sfn.list_executions(stateMachineArn=machine)["executions"]
    history = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    entered: dict[str, datetime] = {}
    lengths: dict[str, timedelta] = {}
    for event in history:
        if event["type"] == "WaitStateEntered":
            entered[event["stateEnteredEventDetails"]["name"]] = event["timestamp"]
        elif event["type"] == "WaitStateExited":
            name = event["stateExitedEventDetails"]["name"]
            lengths[name] = (event["timestamp"] - entered[name]) * clock.scale()
    return lengths


@pytest.mark.time_scale(DAY)
def test_sub_day_waits_keep_their_order_and_proportions_at_a_day_per_second(api):
    waits = {"one-hour": timedelta(hours=1), "two-hours": timedelta(hours=2), "one-day": timedelta(days=1)}
    publish(api, scenario("paced", "go", [
        {"id": "start", "type": "email", "subject": "Welcome", "text": "0"},
        {"id": "one-hour", "type": "wait", "duration": "PT1H"},
        {"id": "first", "type": "email", "subject": "After an hour", "text": "1"},
        {"id": "two-hours", "type": "wait", "duration": "PT2H"},
        {"id": "second", "type": "email", "subject": "After two more hours", "text": "2"},
        {"id": "one-day", "type": "wait", "duration": "P1D"},
        {"id": "third", "type": "email", "subject": "A day later", "text": "3"},
    ]))
    signup(api, "ana@example.com", event="go")
    done = journey(api, "ana@example.com", "paced", status="completed")
    assert done["path"] == ["start", "first", "second", "third"]
    sent = [_at(message(api, "ana@example.com", step, status="sent")["sent_at"])
            for step in ("start", "first", "second", "third")]
    # each message goes out after its wait, in domain time, never before
    for before, after, wait in zip(sent, sent[1:], waits.values(), strict=False):
        assert after - before >= wait, (sent, wait)
    # and each Wait state lasts its length: a 1 h wait is 42 ms here, not a rounded second
    lengths = _wait_lengths("paced")
    for name, wait in waits.items():
        assert wait <= lengths[name] + SLACK and lengths[name] <= wait + SLACK, (name, lengths[name])


@pytest.mark.time_scale(3600)  # an hour per second: starting a journey takes about a second here
def test_quiet_hours_release_a_send_at_the_end_of_the_window_in_domain_time(api):
    from chalicelib import clock

    publish(api, scenario("quiet", "go", [{"id": "mail", "type": "email", "subject": "Morning", "text": "Hi"}],
                          settings={"quiet_hours": {"from": "21:00", "to": "08:00"}, "timezone": "Europe/Paris"}))
    tokyo, new_york = ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York")
    local = clock.now().astimezone(tokyo)
    target = local.replace(hour=2, minute=0, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    clock.advance(target - local)  # 02:00 in Tokyo, quiet for six more hours; noon or 13:00 in New York
    signup(api, "tokyo@example.com", event="go", timezone="Asia/Tokyo")
    signup(api, "ny@example.com", event="go", timezone="America/New_York")
    held = _at(message(api, "tokyo@example.com", status="sent")["sent_at"]).astimezone(tokyo)
    free = _at(message(api, "ny@example.com", status="sent")["sent_at"]).astimezone(new_york)
    eight = target.replace(hour=8)
    assert eight <= held <= eight + timedelta(hours=1), held
    assert 8 <= free.hour < 21 and free < held


@pytest.mark.time_scale(DAY / 4)  # a day in four seconds: the schedules share the machine with the journey
@pytest.mark.schedules
def test_a_birthday_enrolls_on_the_daily_schedule_without_anyone_calling_it(api):
    from chalicelib import clock

    publish(api, {"id": "bday", "name": "Birthday", "trigger": {"date": {"field": "birthday", "at": "09:00"}},
                  "steps": [{"id": "wish", "type": "email", "subject": "Happy birthday", "text": "!"}]})
    new_york = ZoneInfo("America/New_York")  # 09:00 there is 14:00 UTC, far from the job's 00:05 UTC
    day = (clock.now() + timedelta(days=2)).astimezone(new_york).date()
    response = api.post("/contacts", {"email": "ana@example.com", "birthday": f"1990-{day:%m-%d}",
                                      "timezone": "America/New_York", "consent": {"email": True}})
    assert response.status_code == 201, response.data
    done = journey(api, "ana@example.com", "bday", status="completed", timeout=30)
    assert done["path"] == ["wish"]
    sent = _at(message(api, "ana@example.com", "wish", status="sent")["sent_at"]).astimezone(new_york)
    nine = datetime.combine(day, datetime.min.time().replace(hour=9), tzinfo=new_york)
    assert nine <= sent <= nine + timedelta(hours=2), sent


@pytest.mark.time_scale(DAY)
def test_a_wait_for_timeout_logs_one_short_line(api, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="moto.stepfunctions")
    publish(api, scenario("patience", "go", [
        {"id": "bought", "type": "wait_for", "event": "purchase", "timeout": "PT1H",
         "else": [{"id": "nudge", "type": "email", "subject": "Still thinking?", "text": "!"}]}]))
    signup(api, "ana@example.com", event="go")
    assert journey(api, "ana@example.com", "patience", status="completed")["path"] == ["bought", "nudge"]
    # moto logged each timeout as an ERROR of several kilobytes (the state's repr); now at most
    # one short line, depending on which of its two timers ends the wait first
    from_moto = [record for record in caplog.records if record.name.startswith("moto.stepfunctions")]
    assert [record.getMessage() for record in from_moto] in ([], ["state 'bought' timed out"]), from_moto
    assert all(record.levelno == logging.INFO for record in from_moto)


@pytest.mark.time_scale(3600)  # an hour per second
def test_reentry_after_a_duration_counts_on_the_scaled_clock(api):
    import time


    publish(api, scenario("again", "go", [{"id": "mail", "type": "email", "subject": "Hi", "text": "!"}],
                          entry={"reentry": {"after": "PT6H"}}))
    signup(api, "ana@example.com", event="go")
    first = journey(api, "ana@example.com", "again")
    signup(api, "ana@example.com", event="go")  # within six hours of the entry: refused
    time.sleep(0.3)
    assert len(journeys(api, "ana@example.com")) == 1
    time.sleep(max(0.0, 6.5 - (_now() - _at(first["entered_at"])).total_seconds() / 3600))
    signup(api, "ana@example.com", event="go")  # six domain hours later, about six seconds here
    eventually(lambda: len(journeys(api, "ana@example.com")) == 2)


def _now() -> datetime:
    from chalicelib import clock

    return clock.now()
