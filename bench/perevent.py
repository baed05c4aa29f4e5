"""`python -m bench perevent`: DynamoDB requests and CPU per event, case by case (issue 14 points 1, 2).

Each case is one event posted through the HTTP API on the local stack and handled by the
automation queue's consumer, counted by the meter (bench/meter.py): DynamoDB requests made by
the API handler and by the consumer, and their own CPU. Printed beside the goals:

- a known contact's event that nothing reads (no trigger, wait, goal, score rule, segment,
  webhook): at most 3 DynamoDB requests in all (API and automation);
- a new contact's signup with 200 behavioural segments defined: at most 2x the requests and
  CPU of the same signup with none.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

GOAL_UNREAD_REQUESTS = 3
GOAL_SEGMENT_RATIO = 2.0
BEHAVIOURAL_SEGMENTS = 200
IMPORT_LINES = 100


def _ddb(usage: dict[str, float], function: str) -> float:
    return usage.get(f"calls_by.{function}.dynamodb", 0.0)


def _operations(usage: dict[str, float]) -> str:
    found = {key[len("calls.dynamodb."):]: value for key, value in usage.items() if key.startswith("calls.dynamodb.")}
    return ", ".join(f"{name} {value:g}" for name, value in sorted(found.items())) or "none"


def _cpu_ms(usage: dict[str, float]) -> float:
    return 1000 * sum(value for key, value in usage.items() if key.startswith("lambda.cpu_seconds."))


def _jobs_done(session: Any, timeout: float = 600.0) -> None:
    """Segment builds and rescoring run in the background: a case starts once they are done."""
    from chalicelib.audience import jobs

    deadline = time.monotonic() + timeout
    with session.meter.paused():
        while jobs.has_work():
            if time.monotonic() > deadline:
                raise TimeoutError("background jobs still running")
            time.sleep(0.1)
    session.settle(timeout=timeout)


def case(session: Any, name: str, work: Callable[[], Any], *, units: int = 1) -> dict[str, Any]:
    _jobs_done(session)
    measured = session.measure(name, work, units=units)
    usage = measured.per_unit()
    return {"name": name, "units": units, "api": _ddb(usage, "api_handler"), "automation": _ddb(usage, "automation"),
            "total": _ddb(usage, "api_handler") + _ddb(usage, "automation"), "operations": _operations(usage),
            "cpu_ms": _cpu_ms(usage), "wru": usage.get("dynamodb.wru", 0.0), "rru": usage.get("dynamodb.rru", 0.0),
            "queued": usage.get("calls.sqs.SendMessageBatch", 0.0) + usage.get("calls.sqs.SendMessage", 0.0)}


def behavioural_segment(number: int) -> dict[str, Any]:
    """A segment on behaviour, of the kinds marketers define: bought, clicked, visited lately."""
    kinds = [
        {"event": "purchase", "where": {"field": "properties.sku", "op": "eq", "value": f"sku-{number}"}},
        {"event": "page_view", "where": {"field": "properties.url", "op": "contains", "value": f"/p{number}"},
         "within": "P30D", "count": {"gte": 3}},
        {"all": [{"event": "email.clicked", "within": "P90D"},
                 {"field": "attributes.plan", "op": "eq", "value": f"plan-{number}"}]},
        {"any": [{"event": "download", "where": {"field": "properties.resource", "op": "eq", "value": f"r{number}"}},
                 {"event": "form_submitted", "within": "P7D"}]},
    ]
    return {"id": f"behaviour-{number}", "name": f"Behaviour {number}", "criteria": kinds[number % len(kinds)]}


def run(*, signups: int = 10, segments: int = BEHAVIOURAL_SEGMENTS,
        progress: Callable[[str], None] = lambda text: None) -> dict[str, Any]:
    from bench.workloads import CONSENT, Session, signup, warm_up

    cases: list[dict[str, Any]] = []
    with Session(feedback=False) as session:
        warm_up(session)
        known = session.unique_email("known")
        session.post_event(signup(session, known))

        def page_view(url: str = "https://example.com/") -> Callable[[], Any]:
            return lambda: session.post_event({"type": "page_view", "contact": {"email": known},
                                               "properties": {"url": url}})

        def signups_of(label: str) -> Callable[[], Any]:
            emails = [session.unique_email(label) for _ in range(signups)]
            return lambda: [session.post_event(signup(session, email)) for email in emails]

        progress("known contact, event nothing reads")
        cases.append(case(session, "known contact's video_played, nothing reads it", lambda: session.post_event(
            {"type": "video_played", "contact": {"email": known}})))
        progress(f"{signups} signups, no segment")
        cases.append(case(session, "new contact's signup, no segment", signups_of("plain"), units=signups))
        progress(f"defining {segments} behavioural segments")
        with session.meter.paused():
            for number in range(segments):
                created = session.post("/segments", behavioural_segment(number))
                if created.status_code != 201:
                    raise RuntimeError(f"POST /segments: {created.status_code} {created.data}")
        progress(f"{signups} signups, {segments} segments")
        cases.append(case(session, f"new contact's signup, {segments} behavioural segments",
                          signups_of("segmented"), units=signups))
        progress(f"a CSV file of {IMPORT_LINES} new contacts")
        lines = "".join(f"{session.unique_email('imported')},Name{number}\n" for number in range(IMPORT_LINES))

        def imported() -> None:
            response = session.request("POST", "/imports?kind=contacts", csv="email,first_name\n" + lines)
            if response.status_code != 200 or response.data["counts"]["created"] != IMPORT_LINES:
                raise RuntimeError(f"POST /imports: {response.status_code} {response.data}")

        cases.append(case(session, "CSV import line creating a contact", imported, units=IMPORT_LINES))
        cases.append(case(session, "known contact's page_view, scored (default rules)", page_view()))
        progress("known contact, event a segment reads")
        cases.append(case(session, "known contact's page_view, read by segments", page_view("https://x.io/p1")))
        cases.append(case(session, "known contact's download, read by a segment", lambda: session.post_event(
            {"type": "download", "contact": {"email": known}, "properties": {"resource": "r3"}})))
        progress("known contact, event a score rule reads")
        with session.meter.paused():
            session.request("PUT", "/settings/scoring", {"rules": [{"event": "newsletter_read", "points": 2}]})
        cases.append(case(session, "known contact's newsletter_read, scored", lambda: session.post_event(
            {"type": "newsletter_read", "contact": {"email": known}})))
        progress("known contact, event a trigger reads (its filter does not match)")
        with session.meter.paused():
            session.publish({"id": "bench-filtered", "name": "Filtered",
                             "trigger": {"event": "quote_requested",
                                         "where": {"field": "properties.amount", "op": "gt", "value": 1000}},
                             "steps": [{"id": "hello", "type": "email", "subject": "Hi", "html": "<p>Hi</p>"}]})
        with session.meter.paused():
            session.publish({"id": "bench-trial", "name": "Trial", "trigger": {"event": "trial_started"},
                             "goals": [{"event": "demo_booked"}],
                             "steps": [{"id": "booked", "type": "wait_for", "event": "demo_booked", "timeout": "P7D",
                                        "then": [], "else": []}]})
        cases.append(case(session, "known contact's demo_booked, a wait_for's and a goal's", lambda: session.post_event(
            {"type": "demo_booked", "contact": {"email": known}})))
        cases.append(case(session, "known contact's quote_requested, trigger filter false", lambda: session.post_event(
            {"type": "quote_requested", "contact": {"email": known}, "properties": {"amount": 10},
             "consent": CONSENT})))
    return {"cases": cases, "segments": segments}


def render(results: dict[str, Any]) -> str:
    cases = results["cases"]
    lines = ["DynamoDB requests per event (API handler + automation consumer), own CPU of both:",
             f"  {'case':<62}{'API':>5}{'auto':>6}{'total':>7}{'WRU':>7}{'RRU':>7}{'CPU ms':>8}"]
    for item in cases:
        lines.append(f"  {item['name']:<62}{item['api']:>5.1f}{item['automation']:>6.1f}{item['total']:>7.1f}"
                     f"{item['wru']:>7.1f}{item['rru']:>7.1f}{item['cpu_ms']:>8.1f}")
        lines.append(f"  {'':<4}{item['operations']}")
    unread = cases[0]
    verdict = "met" if unread["total"] <= GOAL_UNREAD_REQUESTS else "NOT met"
    lines += ["", f"  goal: an event nothing reads costs <= {GOAL_UNREAD_REQUESTS} DynamoDB requests: "
                  f"{unread['total']:g} ({verdict})"]
    plain, segmented = cases[1], cases[2]
    requests = segmented["total"] / plain["total"] if plain["total"] else float("inf")
    cpu = segmented["cpu_ms"] / plain["cpu_ms"] if plain["cpu_ms"] else float("inf")
    verdict = "met" if max(requests, cpu) <= GOAL_SEGMENT_RATIO else "NOT met"
    lines.append(f"  goal: a signup with {results['segments']} behavioural segments costs <= {GOAL_SEGMENT_RATIO:g}x "
                 f"the signup with none: requests {requests:.2f}x, CPU {cpu:.2f}x ({verdict})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench perevent", description=__doc__.split("\n\n")[0])
    parser.add_argument("--signups", type=int, default=10, help="signups averaged per signup case")
    parser.add_argument("--segments", type=int, default=BEHAVIOURAL_SEGMENTS, help="behavioural segments defined")
    args = parser.parse_args(argv)
    os.environ.setdefault("PARCOURS_TABLE_PREFIX", "parcours-bench-")
    os.environ.setdefault("PARCOURS_TOKEN_SECRET", "bench-secret")
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    import logging

    logging.disable(logging.INFO)
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    started = time.perf_counter()

    def progress(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {text}", file=sys.stderr, flush=True)

    print(render(run(signups=args.signups, segments=args.segments, progress=progress)))
    return 0
