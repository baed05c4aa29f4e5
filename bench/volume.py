"""`python -m bench volume`: the local stack with a real contact base (issue 14, points 4-5).

One local stack at 1 day = 1 s, driven through the HTTP API as a marketer's tools would:
- the base grows by batches of 500 signups to each level (1k, 10k; 100k with --big): the
  batches' acceptance rate is the ingestion figure, and at each level the time of single
  requests (an event of a known contact, a contact read, a search by email, an upsert) shows
  whether a request costs more as the tables grow;
- CSV imports of 1,000-line files (the synchronous path), and of one larger file uploaded and
  imported by a background job (the path a marketer's whole base takes), in rows per second;
- a segment build over the whole base (a time-relative criterion, so every contact is read);
- a burst of 5,000 signups through welcome-series, from the first POST until every journey
  has ended (two emails each, a 7-day wait in between);
- criteria over 100k contacts in memory (bench.python_work), every kind against 200k/s.
Each figure is printed beside its goal. No AWS request is metered here (`python -m bench`
does that): the meter's hooks would be part of the times.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.python_work import csv_text

DAY = 86400
BATCH = 500
IMPORT_FILE_ROWS = 1000  # imports.service.SYNC_MAX_ROWS: a larger file goes through S3 and a job
SAMPLES = 30
RAISED_EMAIL_RATE = 500  # emails/s
SEGMENT_GOAL_CONTACTS = 10_000
GOALS = {
    "ingestion": 500.0,  # events/s accepted
    "import": 2000.0,  # rows/s
    "burst": 120.0,  # seconds to drain 5,000 signups through welcome-series
    "segment_build": 30.0,  # seconds over SEGMENT_GOAL_CONTACTS contacts
    "criteria": 200_000.0,  # contacts/s, every kind
    "flat": 2.0,  # a request at the largest level takes at most this times its time at the smallest
}


class Stack:
    """The app on the local stack, unmetered, through Chalice's own request path."""

    def __init__(self) -> None:
        from chalice.test import Client

        from chalicelib.local.runtime import boot

        self.runtime = boot(time_scale=DAY, admin_key="bench-volume-key", keep_heap=True)
        import app as app_module

        self._client_cm = Client(app_module.app)
        self.client = self._client_cm.__enter__()
        self.headers = {"Content-Type": "application/json", "Authorization": "Bearer bench-volume-key"}
        import boto3

        from chalicelib.config import settings

        self.sqs = boto3.client("sqs", region_name=settings().region)
        self.sfn = boto3.client("stepfunctions", region_name=settings().region)
        self.signups = 0

    def close(self) -> None:
        try:
            self._client_cm.__exit__(None, None, None)
        finally:
            self.runtime.stop()

    def request(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                content_type: str | None = None) -> tuple[int, Any]:
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = self.client.http.request(method, path, headers=headers, body=payload)
        try:
            return response.status_code, json.loads(response.body) if response.body else None
        except ValueError:
            return response.status_code, response.body

    def ok(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        status, data = self.request(method, path, body, **kwargs)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {str(data)[:300]}")
        return data

    def signup_batch(self, count: int, label: str) -> list[str]:
        emails = []
        for _ in range(count):
            self.signups += 1
            emails.append(f"{label}-{self.signups}@example.com")
        self.ok("POST", "/events", {"events": [
            {"type": "signup", "contact": {"email": email}, "traits": {"first_name": "Ana"},
             "consent": {"email": True, "source": "bench"}} for email in emails]})
        return emails

    def emails_sent(self) -> int:
        from moto.ses.models import ses_backends

        from chalicelib.config import settings
        from chalicelib.local.stack import ACCOUNT

        return len(ses_backends[ACCOUNT][settings().region].sent_messages)

    def queued(self) -> int:
        from chalicelib.config import settings

        attributes = self.sqs.get_queue_attributes(
            QueueUrl=settings().automation_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                            "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        return sum(int(value) for value in attributes.values())

    def running(self) -> int:
        return sum(len(self.sfn.list_executions(stateMachineArn=machine["stateMachineArn"],
                                                statusFilter="RUNNING")["executions"])
                   for machine in self.sfn.list_state_machines()["stateMachines"])

    def drain(self, timeout: float, *, executions: bool = False) -> float:
        """Seconds until nothing is queued or handled (and no execution runs), twice in a row."""
        started = time.perf_counter()
        quiet = 0
        while quiet < 2:
            queued = self.queued()
            busy = self.runtime.pump.busy or queued > 0
            running = executions and not busy and self.running() > 0
            quiet = 0 if busy or running else quiet + 1
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"not drained after {timeout:.0f} s")
            # moto counts a queue's messages, and lists a machine's executions, by walking them all:
            # a long queue, or executions still running, are asked less often (the CPU is the bench's)
            time.sleep(2.0 if queued >= 1000 else 1.0 if running else 0.2)
        return time.perf_counter() - started


def _median_ms(work: Callable[[int], Any], samples: int = SAMPLES) -> float:
    times = []
    for number in range(samples):
        started = time.perf_counter()
        work(number)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def per_request(stack: Stack, known: list[str]) -> dict[str, float]:
    """Single requests against a base of the current size, each kind with the automation queue
    drained: the page views queue events whose handling would otherwise run between the next
    kind's requests."""
    ids = [stack.ok("GET", f"/contacts?email={email}")["items"][0]["id"] for email in known[:SAMPLES]]
    requests: dict[str, Callable[[int], Any]] = {
        "POST /events (page_view, known contact)": lambda n: stack.ok("POST", "/events", {
            "type": "page_view", "contact": {"email": known[n % len(known)]},
            "properties": {"url": "https://example.com/"}}),
        "GET /contacts/{id}": lambda n: stack.ok("GET", f"/contacts/{ids[n % len(ids)]}"),
        "GET /contacts?email=": lambda n: stack.ok("GET", f"/contacts?email={known[n % len(known)]}"),
        "POST /contacts (existing)": lambda n: stack.ok("POST", "/contacts", {
            "email": known[n % len(known)], "first_name": "Ana"}),
    }
    medians = {}
    for label, request in requests.items():
        stack.drain(timeout=600)
        medians[label] = _median_ms(request)
    return medians


def grow(stack: Stack, level: int, progress: Callable[[str], None]) -> dict[str, Any]:
    """Signups in batches of 500 until the base holds `level` contacts."""
    accepted = seconds = 0.0
    known: list[str] = []
    while stack.signups < level:
        count = min(BATCH, level - stack.signups)
        started = time.perf_counter()
        known = stack.signup_batch(count, "base")
        seconds += time.perf_counter() - started
        accepted += count
        if stack.signups % 5000 == 0:
            progress(f"  {stack.signups:,} contacts")
    drained = stack.drain(timeout=max(600.0, level / 5))
    return {"events": accepted, "accept_seconds": seconds,
            "events_per_second": accepted / seconds if seconds else None, "drain_seconds": drained,
            "known": known}


def csv_import(stack: Stack, rows: int) -> dict[str, Any]:
    files = max(1, rows // IMPORT_FILE_ROWS)
    seconds = cpu = 0.0
    imported = 0
    for number in range(files):
        body = csv_text(IMPORT_FILE_ROWS, seed=100 + number).decode("utf-8").replace(
            "user", f"import{number}-")
        started, cpu_started = time.perf_counter(), time.process_time()
        report = stack.ok("POST", "/imports?kind=contacts&mode=upsert&region=FR", raw=body.encode("utf-8"),
                          content_type="text/csv")
        seconds += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
        imported += sum(int(value) for key, value in (report.get("counts") or {}).items()
                        if key in ("created", "updated")) if isinstance(report, dict) else 0
    drained = stack.drain(timeout=600)
    return {"rows": files * IMPORT_FILE_ROWS, "imported": imported, "seconds": seconds,
            "rows_per_second": files * IMPORT_FILE_ROWS / seconds, "drain_seconds": drained,
            "cpu_ms_per_row": cpu / (files * IMPORT_FILE_ROWS) * 1000}


def uploaded_import(stack: Stack, rows: int) -> dict[str, Any]:
    """One file through POST /imports/uploads, its PUT and /start, until the job is done."""
    import requests

    body = csv_text(rows, seed=99).decode("utf-8").replace("user", "upload-")
    created = stack.ok("POST", "/imports/uploads?kind=contacts&mode=upsert&region=FR")
    upload = created["upload"]
    put = requests.put(upload["url"], data=body.encode("utf-8"), headers=upload["headers"], timeout=60)
    if put.status_code != 200:
        raise RuntimeError(f"upload refused: {put.status_code}")
    started, cpu_started = time.perf_counter(), time.process_time()
    stack.ok("POST", f"/imports/{created['id']}/start")
    while (report := stack.ok("GET", f"/imports/{created['id']}"))["status"] not in ("done", "failed"):
        if time.perf_counter() - started > 1800:
            raise TimeoutError("the uploaded import did not end in 30 minutes")
        time.sleep(0.2)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    drained = stack.drain(timeout=1800)
    counts = report.get("counts") or {}
    return {"rows": rows, "status": report["status"], "imported": counts.get("created", 0) + counts.get("updated", 0),
            "seconds": seconds, "rows_per_second": rows / seconds, "drain_seconds": drained,
            "cpu_ms_per_row": cpu / rows * 1000}


def segment_build(stack: Stack) -> dict[str, Any]:
    started = time.perf_counter()
    stack.ok("POST", "/segments", {"id": "recent-signups", "name": "Signed up in the last 30 days",
                                   "criteria": {"field": "created_at", "op": "after", "value": "-P30D"}})
    while True:
        segment = stack.ok("GET", "/segments/recent-signups")
        if segment["status"] in ("ready", "failed"):
            break
        if time.perf_counter() - started > 1800:
            raise TimeoutError("the segment build did not end in 30 minutes")
        time.sleep(0.2)
    return {"seconds": time.perf_counter() - started, "status": segment["status"], "count": segment.get("count")}


def burst(stack: Stack, signups: int) -> dict[str, Any]:
    from examples import scenario

    stack.ok("POST", "/scenarios", scenario("welcome-series"))
    stack.ok("POST", "/scenarios/welcome-series/publish")
    stack.drain(timeout=600, executions=True)
    sent_before = stack.emails_sent()
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(0, signups, BATCH):
        stack.signup_batch(BATCH, "burst")
    accepted = time.perf_counter() - started
    stack.drain(timeout=3600, executions=True)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    sent = stack.emails_sent() - sent_before
    return {"signups": signups, "accept_seconds": accepted, "drained_seconds": seconds, "emails": sent,
            "cpu_ms_per_contact": cpu / signups * 1000}


def _line(label: str, value: float | None, unit: str, goal: float, *, at_most: bool = False) -> str:
    if value is None:
        return f"  {label:<58}{'n/a':>12} {unit:<10} goal {'<=' if at_most else '>='} {goal:,.0f}"
    met = value <= goal if at_most else value >= goal
    return (f"  {label:<58}{value:>12,.1f} {unit:<10} goal {'<=' if at_most else '>='} {goal:,.0f}"
            f"  {'ok' if met else 'MISSED'}")


def _cpu(milliseconds: float | None, unit: str) -> list[str]:
    """The CPU the whole stack spent (every thread): steadier than a rate on a machine whose
    threads wait on one another more at some moments than at others."""
    if milliseconds is None:
        return []
    return [f"  {'':<58}{milliseconds:>12,.2f} ms of CPU a {unit}, every thread of the stack"]


def render(results: dict[str, Any]) -> str:
    lines = ["Parcours on the local stack at volume (1 day = 1 s, unmetered)", ""]
    levels = results["levels"]
    lines.append("Ingestion, batches of 500 signups (accepted by POST /events; the queue drained after)")
    for level in levels:
        lines.append(_line(f"growing to {level['contacts']:,} contacts", level["events_per_second"], "events/s",
                           GOALS["ingestion"]))
        lines.append(f"  {'':<58}{level['drain_seconds']:>12,.1f} s to drain the automation queue")
    lines += ["", "Single requests (median ms) as the base grows"]
    names = list(levels[0]["per_request_ms"])
    lines.append("  " + f"{'':<44}" + "".join(f"{level['contacts']:>12,}" for level in levels)
                 + "   largest/smallest")
    for name in names:
        first = levels[0]["per_request_ms"][name]
        last = levels[-1]["per_request_ms"][name]
        ratio = last / first if first else 0.0
        verdict = "ok" if ratio <= GOALS["flat"] else "MISSED"
        lines.append("  " + f"{name:<44}" + "".join(f"{level['per_request_ms'][name]:>12.1f}" for level in levels)
                     + f"   {ratio:>5.2f}x (goal <= {GOALS['flat']:.0f}x) {verdict}")
    lines.append("")
    if "import" in results:
        item = results["import"]
        lines.append(_line(f"CSV import, {item['rows']:,} rows in files of {IMPORT_FILE_ROWS:,}",
                           item["rows_per_second"], "rows/s", GOALS["import"]))
        lines += _cpu(item.get("cpu_ms_per_row"), "line")
    if "uploaded_import" in results:
        item = results["uploaded_import"]
        lines.append(_line(f"CSV import, one uploaded file of {item['rows']:,} rows ({item['status']})",
                           item["rows_per_second"], "rows/s", GOALS["import"]))
        lines += _cpu(item.get("cpu_ms_per_row"), "line")
    if "segment_build" in results:
        item = results["segment_build"]
        # the goal is 30 s over 10,000 contacts: over another base, the same pace
        goal = GOALS["segment_build"] * item["contacts"] / SEGMENT_GOAL_CONTACTS
        lines.append(_line(f"segment build over {item['contacts']:,} contacts ({item['status']}, "
                           f"{item['count']} in)", item["seconds"], "s", goal, at_most=True))
    if "burst" in results:
        item = results["burst"]
        lines.append(_line(f"{item['signups']:,} signups through welcome-series, drained", item["drained_seconds"],
                           "s", GOALS["burst"], at_most=True))
        lines.append(f"  {'':<58}{item['accept_seconds']:>12,.1f} s to accept, {item['emails']} emails sent "
                     f"(SES rate {os.environ.get('PARCOURS_EMAIL_RATE')}/s)")
        lines += _cpu(item.get("cpu_ms_per_contact"), "contact")
    if "criteria" in results:
        lines.append("")
        lines.append(f"Criteria over {results['criteria']['contacts']:,} contacts in memory (compiled once)")
        for label, item in results["criteria"]["criteria"].items():
            lines.append(_line(label, item["contacts_per_second"], "contacts/s", GOALS["criteria"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench volume", description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1000,10000", help="base sizes to measure at, comma-separated")
    parser.add_argument("--big", action="store_true", help="add the 100,000-contact level (long)")
    parser.add_argument("--import-rows", type=int, default=5000)
    parser.add_argument("--upload-rows", type=int, default=10_000, help="lines of the uploaded file")
    parser.add_argument("--burst", type=int, default=5000)
    parser.add_argument("--criteria-contacts", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true",
                        help="levels 500,2000; 1,000 rows, an uploaded file of 2,000; a burst of 500")
    parser.add_argument("--json", action="store_true", help="print the results as JSON after the report")
    args = parser.parse_args(argv)
    levels = [int(level) for level in args.levels.split(",")]
    if args.quick:
        levels, args.import_rows, args.upload_rows = [500, 2000], 1000, 2000
        args.burst, args.criteria_contacts = 500, 20_000
    if args.big:
        levels.append(100_000)

    os.environ.setdefault("PARCOURS_TABLE_PREFIX", "parcours-bench-")
    os.environ.setdefault("PARCOURS_TOKEN_SECRET", "bench-secret")
    # The burst measures the engine, not the SES quota: at a new account's 14 emails a second,
    # 10,000 emails take 12 minutes whatever the engine does (bench stepcost models the quotas).
    # Here, an account with its send rate raised, as stepcost's second model.
    os.environ.setdefault("PARCOURS_EMAIL_RATE", str(RAISED_EMAIL_RATE))
    import logging

    logging.disable(logging.WARNING)  # the app logs every journey; the report is the output here
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    began = time.perf_counter()

    def progress(text: str) -> None:
        print(f"[{time.perf_counter() - began:7.1f}s] {text}", file=sys.stderr, flush=True)

    from bench import python_work

    results: dict[str, Any] = {"levels": []}
    progress(f"criteria over {args.criteria_contacts:,} contacts")
    results["criteria"] = python_work.criteria_eval(args.criteria_contacts)
    stack = Stack()
    try:
        for level in sorted(levels):
            progress(f"growing the base to {level:,} contacts")
            grown = grow(stack, level, progress)
            known = grown.pop("known")
            progress(f"single requests at {level:,} contacts")
            results["levels"].append({"contacts": level, **grown, "per_request_ms": per_request(stack, known)})
        progress(f"CSV import of {args.import_rows:,} rows")
        results["import"] = csv_import(stack, args.import_rows)
        progress(f"an uploaded CSV file of {args.upload_rows:,} rows")
        results["uploaded_import"] = uploaded_import(stack, args.upload_rows)
        contacts = stack.signups + results["import"]["rows"] + results["uploaded_import"]["rows"]
        progress(f"segment build over {contacts:,} contacts")
        results["segment_build"] = {"contacts": contacts, **segment_build(stack)}
        progress(f"burst of {args.burst:,} signups through welcome-series")
        results["burst"] = burst(stack, args.burst)
    finally:
        stack.close()
    print(render(results))
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    return 0
