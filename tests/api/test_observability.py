"""What an operator reads in CloudWatch of a journey: structured log lines and EMF metrics."""
from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import contact_id, eventually, journey, post, publish, scenario, signup

EMAIL = "ana.lopez@example.com"
FIRST_NAME = "Ana"


class Lines(logging.Handler):
    """The app's log lines, formatted as Powertools writes them to CloudWatch."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logged() -> Iterator[Lines]:
    from chalicelib.logs import logger

    handler = Lines()
    handler.setFormatter(logger.registered_formatter)
    logger._logger.addHandler(handler)  # beside Powertools' own stdout handler, same format
    yield handler
    logger._logger.removeHandler(handler)


def _records(lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in lines]


def _once_ended(logged: Lines) -> list[dict]:
    """The log lines, once a journey's end is among them: it is written a moment after the
    journey's status, which the test has just seen."""
    def check() -> list[dict] | None:
        records = _records(logged.lines)
        return records if any(line["message"] == "journey ended" for line in records) else None

    return eventually(check)


def _metrics(stdout: str) -> Counter:
    """Sum of every EMF metric printed, by name (and by name and dimension value where there is one)."""
    total: Counter = Counter()
    for line in stdout.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "Parcours"
            for metric in directive["Metrics"]:
                values = document[metric["Name"]]
                amount = sum(values) if isinstance(values, list) else values
                total[metric["Name"]] += amount
                for dimensions in directive["Dimensions"]:
                    for dimension in dimensions:
                        if dimension != "service":
                            total[(metric["Name"], document[dimension])] += amount
    return total


def test_a_journey_with_two_emails_logs_each_send_its_start_and_end_with_correlation_keys(api, logged, capsys):
    publish(api, scenario("welcome", "signup", [
        {"id": "hello", "type": "email", "subject": "Bonjour {{ contact.first_name }}", "html": "<p>Premier mot</p>"},
        {"id": "tips", "type": "email", "subject": "Astuces", "html": "<p>Second mot</p>"}]))
    signup(api, EMAIL, first_name=FIRST_NAME)
    journey(api, EMAIL, "welcome", status="completed")
    contact = contact_id(api, EMAIL)
    records = _once_ended(logged)

    sends = [line for line in records if line["message"] == "email sent"]
    assert sorted(line["step"] for line in sends) == ["hello", "tips"]
    entered = [line for line in records if line["message"] == "journey entered"]
    ended = [line for line in records if line["message"] == "journey ended"]
    assert len(entered) == 1 and [line["status"] for line in ended] == ["completed"]
    for line in [*sends, *entered, *ended]:
        assert line["contact_id"] == contact and line["scenario"] == "welcome" and line["version"] == 1
        assert line["execution"] and line["level"] == "INFO"
    assert all(line.get("request_id") for line in sends)  # the step runner's Lambda request

    printed = capsys.readouterr().out
    metrics = _metrics(printed)
    assert metrics["EventsIngested"] >= 1
    assert metrics["JourneysEntered"] == 1 and metrics["JourneysCompleted"] == 1
    assert metrics["EmailsSent"] == 2
    # no personal data: no address, no name, no subject or body
    for text in (EMAIL, FIRST_NAME, "Bonjour", "Premier mot", "Astuces"):
        assert text not in "\n".join(logged.lines) and text not in printed, text


def test_a_skipped_send_is_one_line_and_a_count_by_reason(api, logged, capsys):
    publish(api, scenario("promo", "signup", [{"id": "offer", "type": "email", "subject": "S", "html": "<p>x</p>"}]))
    signup(api, "no.consent@example.com", consent=None)
    journey(api, "no.consent@example.com", "promo", status="completed")
    skipped = [line for line in _records(logged.lines) if line["message"] == "send skipped"]
    assert [(line["step"], line["reason"], line["channel"]) for line in skipped] == [("offer", "no_consent", "email")]
    metrics = _metrics(capsys.readouterr().out)
    assert metrics[("SendsSkipped", "no_consent")] == 1 and metrics["EmailsSent"] == 0


def test_a_failed_step_is_logged_counted_and_ends_the_journey_as_failed(api, logged, capsys, monkeypatch):
    from chalicelib.channels import providers

    def refused(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("SES refused the message")

    monkeypatch.setattr(providers, "send_email", refused)
    publish(api, scenario("broken", "signup", [{"id": "mail", "type": "email", "subject": "S", "html": "<p>x</p>"}]))
    signup(api, "failing@example.com")
    journey(api, "failing@example.com", "broken", status="failed")
    records = _once_ended(logged)
    failures = [line for line in records if line["message"] == "step failed"]
    assert len(failures) == 1 and failures[0]["level"] == "ERROR" and failures[0]["scenario"] == "broken"
    assert [line["status"] for line in records if line["message"] == "journey ended"] == ["failed"]
    metrics = _metrics(capsys.readouterr().out)
    assert metrics["StepFailures"] == 1 and metrics["JourneysFailed"] == 1


@pytest.mark.time_scale(86400)
def test_a_goal_met_ends_the_journey_as_converted_in_one_line_and_one_count(api, logged, capsys):
    publish(api, scenario("cart", "cart_updated", [
        {"id": "later", "type": "wait", "duration": "P7D"},
        {"id": "nudge", "type": "email", "subject": "S", "html": "<p>x</p>"}], goals=[{"event": "purchase"}]))
    post(api, "cart_updated", "buyer@example.com", consent={"email": True, "source": "test"})
    journey(api, "buyer@example.com", "cart", status="running")
    post(api, "purchase", "buyer@example.com")
    journey(api, "buyer@example.com", "cart", status="converted")
    ended = [line for line in _once_ended(logged) if line["message"] == "journey ended"]
    assert [(line["status"], line["scenario"]) for line in ended] == [("converted", "cart")]
    metrics = _metrics(capsys.readouterr().out)
    assert metrics["JourneysConverted"] == 1 and metrics["EmailsSent"] == 0
