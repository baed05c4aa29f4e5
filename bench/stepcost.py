"""`python -m bench stepcost`: a contact through welcome-series, line by line of the AWS bill, and
a model of 1,000,000 contacts entering it at the account's published quotas (issue 14, points 3
and 6).

Measured on the local stack like `python -m bench` (bench.workloads, bench.meter), for a few
contacts that sign up one by one; besides the bill it records which DynamoDB items each write
lands on, so that the items every contact writes (report counters, the send pace, the scenario)
are found and their load at volume computed.

Two figures per line of the bill: as measured, and as modelled once ingestion stops queueing the
events that nothing reads (issue 14 point 1, another branch's work, assumed here): their queue
requests, the automation invocations that receive only such events and what those do are taken
out. Which events are read is derived from the live scenario and the app's own readers (feedback
effects, the account's contact totals); the bench account has no segment, score rule or webhook.

The 1,000,000-contact model: contacts arrive faster than anything drains them (a burst of
signups, queued by the automation queue); each quota below allows some rate of entries; the
lowest binds and the time is 1,000,000 over it (StartExecution's burst bucket spent first).
DynamoDB and Lambda loads use a contact's whole journey (both sides of its week-long wait at
once: a steady inflow, the worst case), Step Functions and SES the part before the first wait.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import prices
from bench.meter import Meter, _chunks, _write_units

SCENARIO = "welcome-series"
GOAL_DOLLARS = 0.35  # per 1,000 contacts, all-in (issue 14 point 3)
CONTACTS = 1_000_000
BOUND_RATE = 200  # entries per second: StartExecution's refill, the bound the issue measures against
GOAL_RATIO = 1.1
# main at 013fa32, before this work: `python -m bench --quick --scenarios welcome-series`,
# dollars per 1,000 contacts (the figures the issue and the brief quote).
BEFORE = {"step_functions": 0.1250, "lambda_requests": 0.0024, "lambda_duration": 0.0088,
          "dynamodb_writes": 0.0887, "dynamodb_reads": 0.0049, "ses": 0.2000, "sqs": 0.0076, "sns": 0.0010,
          "api_gateway": 0.0035, "total": 0.4420}
BEFORE_COUNTS = {"transitions": 5.0, "wru": 142.0, "rru": 39.5, "lambda": 12.0, "sqs": 19.0}
LINES = ("step_functions", "lambda_requests", "lambda_duration", "dynamodb_writes", "dynamodb_reads", "ses",
         "sqs", "sns", "api_gateway", "total")
UNREAD = "~unread"  # suffix of the usage that routing would not cause


@dataclass(frozen=True)
class Quota:
    name: str
    limit: float
    unit: str
    source: str


# Published defaults (per account and region unless said); check them for your region and account.
QUOTAS = {
    "start_execution": Quota("StartExecution refill", 200, "executions/s",
                             "DESIGN.md section 3 (large regions); Step Functions quotas, API action throttling"),
    "start_execution_bucket": Quota("StartExecution bucket", 1_300, "executions",
                                    "Step Functions quotas, API action throttling (large regions)"),
    "state_transitions": Quota("state transitions", 1_000, "transitions/s", "DESIGN.md section 3"),
    "open_executions": Quota("open executions", 1_000_000, "executions",
                             "Step Functions quotas, account: open executions per account and region"),
    "ses_rate": Quota("SES send rate", 14, "emails/s", "SES: a new production account's starting quota"),
    "ses_day": Quota("SES sending quota", 50_000, "emails/24h", "SES: a new production account's starting quota"),
    "lambda_concurrency": Quota("Lambda concurrency", 1_000, "executions at once", "Lambda quotas, per region"),
    "ddb_partition_wru": Quota("DynamoDB item (partition) writes", 1_000, "WRU/s", "DynamoDB: per partition"),
    "ddb_table_wru": Quota("DynamoDB on-demand table writes", 40_000, "WRU/s",
                           "DynamoDB quotas: on-demand throughput per table (default)"),
    "ddb_new_table_wru": Quota("DynamoDB new on-demand table", 4_000, "WRU/s",
                               "DynamoDB on-demand: a new table's initial throughput (it doubles past peaks)"),
}
RAISED_SES_RATE = 500  # emails/s: an account whose SES quota was raised for such a base


# -- measuring ------------------------------------------------------------------------------------


class StepMeter(Meter):
    """The bench meter, also keeping DynamoDB and SQS usage per Lambda function, the write units of
    each item, and the queue requests of events nothing reads."""

    SPLIT = ("dynamodb.wru", "dynamodb.rru", "sqs.requests")

    def __init__(self, *args: Any, read: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read = frozenset(read)
        self.items: dict[tuple[str, str], float] = defaultdict(float)

    def add(self, key: str, amount: float = 1.0) -> None:
        super().add(key, amount)
        if key in self.SPLIT:
            frames = self._frames()
            super().add(f"{key}@{frames[-1].function if frames else 'client'}", amount)

    def _ddb_account(self, region: str, operation: str, params: dict, response: dict, before: list | None,
                     failed: bool) -> None:
        super()._ddb_account(region, operation, params, response, before, failed)
        for table, key, kind, transactional, old in before or []:
            new = old if failed or kind == "check" else self._image(table, key)
            units = _write_units(old, new, transactional, check=kind == "check")
            names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
            text = "|".join(str(next(iter(key[name].values()))) for name in names if name in key)
            with self._lock:
                self.items[(table.name, text)] += units

    def _account_for(self, service: str, operation: str, params: dict, response: Any, region: str,
                     before: Any, failed: bool) -> None:
        super()._account_for(service, operation, params, response, region, before, failed)
        if failed or service != "sqs" or operation not in ("SendMessage", "SendMessageBatch"):
            return
        bodies = ([params.get("MessageBody", "")] if operation == "SendMessage"
                  else [entry.get("MessageBody", "") for entry in params.get("Entries", [])])
        if bodies and all(self.unread(_event_type(body)) for body in bodies):
            super().add("sqs.requests" + UNREAD, _chunks(sum(len(str(body).encode()) for body in bodies)))


    def unread(self, event_type: str | None) -> bool:
        return event_type is not None and event_type not in self.read


def _event_type(body: Any) -> str | None:
    try:
        return str(json.loads(body).get("type"))
    except (ValueError, TypeError, AttributeError):
        return None


def read_types(definition: dict) -> set[str]:
    """Event types something reads with this scenario live and nothing else defined: its trigger,
    goals, waits and conditions, the feedback effects, the account's contact totals."""
    from chalicelib.channels.feedback import EFFECTS
    from chalicelib.reports.counters import CONTACT_EVENTS

    found = set(EFFECTS) | set(CONTACT_EVENTS)

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("event"), str):
                found.add(node["event"])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit({key: definition.get(key) for key in ("trigger", "goals", "steps")})
    return found


def _routed_handler(meter: StepMeter, original: Any) -> Any:
    """The automation consumer, billed as "automation~unread" when its batch holds only events
    nothing reads (routing would not have queued them)."""
    def handler(event: dict, context: Any) -> Any:
        types = [_event_type(record.get("body")) for record in event.get("Records", [])]
        name = "automation" + (UNREAD if types and all(meter.unread(kind) for kind in types) else "")
        with meter.invocation(name):
            meter.add("sqs.requests", 2)  # Lambda's ReceiveMessage and DeleteMessageBatch
            return original(event, context)

    return handler


def measure(contacts: int = 3) -> dict[str, Any]:
    """Usage per contact through welcome-series, the items written by every contact, the ASL."""
    from bench import workloads
    from chalicelib.local.stack import ACCOUNT

    definition = workloads.reference(SCENARIO)
    meter = StepMeter(account=ACCOUNT, memory_mb=workloads.chalice_memory(), read=read_types(definition))
    session = workloads.Session(meter=meter)
    try:
        workloads.warm_up(session)
        session.runtime.pump.handler = _routed_handler(meter, session.runtime.pump.handler.__wrapped__)
        session.publish(definition)
        per_contact: list[dict[tuple[str, str], float]] = []
        usage: dict[str, float] = defaultdict(float)
        paths = []
        for _ in range(contacts):
            email = session.unique_email("stepcost")
            items_before = dict(meter.items)
            measured = session.measure(
                SCENARIO, lambda email=email: session.post_event(workloads.signup(session, email)))
            for key, value in measured.usage.items():
                usage[key] += value
            per_contact.append({key: value - items_before.get(key, 0.0) for key, value in meter.items.items()
                                if value - items_before.get(key, 0.0) > 0})
            with meter.paused():
                paths.append(session.journey(email, SCENARIO))
            if measured.notes.get("failures"):
                raise RuntimeError(f"a journey failed: {measured.notes['failures'][:2]}")
        asl = session.get(f"/scenarios/{SCENARIO}/asl").data
    finally:
        session.close()
    return {"usage": {key: value / contacts for key, value in usage.items()}, "items": per_contact,
            "asl": asl, "definition": definition, "paths": paths, "contacts": contacts,
            "memory_mb": workloads.chalice_memory()}


# -- the bill -------------------------------------------------------------------------------------


def routed(usage: dict[str, float], memory_mb: dict[str, int]) -> dict[str, float]:
    """`usage` without what the events nothing reads cost: their queue requests and the automation
    invocations that received only them (with their DynamoDB units and billed duration)."""
    out = dict(usage)
    function = "automation" + UNREAD
    gone = {"lambda.invocations": usage.get(f"lambda.invocations.{function}", 0.0),
            "sqs.requests": usage.get("sqs.requests" + UNREAD, 0.0) + usage.get(f"sqs.requests@{function}", 0.0),
            "dynamodb.wru": usage.get(f"dynamodb.wru@{function}", 0.0),
            "dynamodb.rru": usage.get(f"dynamodb.rru@{function}", 0.0),
            "lambda.gb_seconds": usage.get(f"lambda.billed_ms.{function}", 0.0) / 1000
            * memory_mb.get("automation", 512) / 1024}
    for key, amount in gone.items():
        out[key] = max(0.0, out.get(key, 0.0) - amount)
    return out


def counts(usage: dict[str, float]) -> dict[str, float]:
    return {"transitions": usage.get("sfn.transitions", 0.0), "wru": usage.get("dynamodb.wru", 0.0),
            "rru": usage.get("dynamodb.rru", 0.0), "lambda": usage.get("lambda.invocations", 0.0),
            "sqs": usage.get("sqs.requests", 0.0)}


# -- 1,000,000 contacts -----------------------------------------------------------------------------


def _logical(table: str, key: str) -> tuple[str, str, int]:
    """An item's name across contacts (days and send-pace seconds generalised) and how many items
    share its load (report counters are spread over store.reports.SHARDS)."""
    from chalicelib.store.reports import SHARD_MARK, SHARDS

    spread = 1
    if SHARD_MARK in key and table.endswith("report-counters"):
        key, spread = key.split(SHARD_MARK, 1)[0], SHARDS
    key = re.sub(r"\d{4}-\d{2}-\d{2}", "DAY", key)
    key = re.sub(r"#\d{9,}$", "#SECOND", key)
    return table.split("-", 2)[-1] if table.startswith("parcours-") else table, key, spread


def shared_items(per_contact: list[dict[tuple[str, str], float]]) -> list[dict[str, Any]]:
    """The items every measured contact wrote: WRU per contact on each (averaged), its spread."""
    seen: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0] * len(per_contact))
    spreads: dict[tuple[str, str], int] = {}
    for index, items in enumerate(per_contact):
        for (table, key), units in items.items():
            name, logical, spread = _logical(table, key)
            seen[(name, logical)][index] += units
            spreads[(name, logical)] = spread
    found = [{"table": table, "item": key, "wru_per_contact": sum(values) / len(values),
              "items_sharing": spreads[(table, key)]}
             for (table, key), values in seen.items() if all(values)]
    return sorted(found, key=lambda item: -item["wru_per_contact"] / item["items_sharing"])


def table_loads(per_contact: list[dict[tuple[str, str], float]]) -> dict[str, float]:
    loads: dict[str, float] = defaultdict(float)
    for items in per_contact:
        for (table, _), units in items.items():
            loads[_logical(table, "")[0]] += units / len(per_contact)
    return dict(loads)


def before_first_wait(asl: dict, definition: dict) -> tuple[int, int]:
    """State transitions and emails of a contact's journey up to its first Wait (included)."""
    states, name, transitions = asl["States"], asl["StartAt"], 0
    while name in states:
        transitions += 1
        state = states[name]
        if state["Type"] == "Wait" or "Next" not in state:
            break
        name = state["Next"]
    emails = 0
    for step in definition["steps"]:
        if step["type"] == "wait":
            break
        emails += step["type"] in ("email", "sms")
    return transitions, emails


def model(measured: dict[str, Any], usage: dict[str, float], *, ses_rate: float, ses_day: float,
          contacts: int = CONTACTS) -> dict[str, Any]:
    """The entry rate each quota allows, the one that binds first, and the time for `contacts`."""
    transitions, emails = before_first_wait(measured["asl"], measured["definition"])
    caps: list[dict[str, Any]] = []

    def cap(quota: str, rate: float, detail: str, limit: float | None = None) -> None:
        caps.append({"quota": QUOTAS[quota].name, "limit": QUOTAS[quota].limit if limit is None else limit,
                     "unit": QUOTAS[quota].unit, "entries_per_second": rate, "detail": detail})

    cap("start_execution", QUOTAS["start_execution"].limit, "one execution per contact")
    cap("state_transitions", QUOTAS["state_transitions"].limit / max(transitions, 1),
        f"{transitions} transitions per contact before the first wait (the rest a week later)")
    if emails:
        cap("ses_rate", ses_rate / emails, f"{emails} email per contact before the first wait", ses_rate)
        days = math.ceil(contacts * emails / ses_day)
        if days > 1:  # what a day's quota leaves waits for the next day (a rolling 24 hours)
            cap("ses_day", contacts / ((days - 1) * 86400), f"{contacts * emails:,} emails: {days} days of quota",
                ses_day)
    functions = {key.rsplit(".", 1)[1] for key in usage if key.startswith("lambda.invocations.")}
    busy = sum(usage.get(f"lambda.billed_ms.{name}", 0.0) / 1000 for name in functions)  # Lambda-seconds per contact
    cap("lambda_concurrency", QUOTAS["lambda_concurrency"].limit / busy if busy else math.inf,
        f"{busy * 1000:.0f} ms of Lambda per contact")
    for item in shared_items(measured["items"]):
        load = item["wru_per_contact"] / item["items_sharing"]
        spread = f", spread over {item['items_sharing']} items" if item["items_sharing"] > 1 else ""
        cap("ddb_partition_wru", QUOTAS["ddb_partition_wru"].limit / load,
            f"{item['table']} {item['item']}: {item['wru_per_contact']:.0f} WRU per contact{spread}")
    tables = sorted(table_loads(measured["items"]).items(), key=lambda pair: -pair[1])
    for table, wru in tables[:3]:
        cap("ddb_table_wru", QUOTAS["ddb_table_wru"].limit / wru, f"{table}: {wru:.0f} WRU per contact")
    caps.sort(key=lambda item: item["entries_per_second"])
    binding = caps[0]
    rate = binding["entries_per_second"]
    drained: dict[str, float] | None = None
    if binding["quota"] == QUOTAS["start_execution"].name:
        # the consumer tries far more than StartExecution takes: what it cannot start goes back on
        # the queue for later, and the last ones may be waiting out a long delay
        invocations = max(usage.get("lambda.invocations.automation", 1.0), 1.0)
        per_event = usage.get("lambda.billed_ms.automation", 0.0) / invocations / 1000  # seconds
        drained = drain(contacts, rate=rate, bucket=QUOTAS["start_execution_bucket"].limit,
                        attempts_per_second=QUOTAS["lambda_concurrency"].limit / max(per_event, 0.001))
        seconds = drained["seconds"]
    else:
        seconds = contacts / rate
    bound = contacts / BOUND_RATE
    waits = any(state["Type"] == "Wait" for state in measured["asl"]["States"].values())
    notes = []
    if waits and contacts >= QUOTAS["open_executions"].limit:
        notes.append(f"{contacts:,} journeys wait a week at once: all of the account's "
                     f"{QUOTAS['open_executions'].limit:,.0f} open executions (another scenario's running "
                     "journeys make entries fail with ExecutionLimitExceeded)")
    heaviest, wru = tables[0]
    if wru * rate > QUOTAS["ddb_new_table_wru"].limit:
        notes.append(f"{heaviest} takes {wru * rate:,.0f} WRU/s at {rate:,.0f} entries/s: a new on-demand table "
                     f"serves {QUOTAS['ddb_new_table_wru'].limit:,.0f} at first and doubles on its peaks "
                     "(set its warm throughput before such a burst)")
    for item in shared_items(measured["items"]):
        if item["items_sharing"] == 1 and item["table"] == "scenarios":
            notes.append(f"{item['table']} {item['item']} is in every entry's transaction ({rate:,.0f}/s): "
                         "transactions that meet on one item are refused (TransactionConflict) and the entry "
                         "is postponed; not modelled")
    if drained:
        notes.append(f"the queue's consumer tries about {drained['attempts_per_entry']:.1f} times per entry "
                     f"before StartExecution takes it ({drained['attempts']:,.0f} attempts, each a queue request "
                     f"more); without the put-back delays the same bucket would take "
                     f"{(contacts - QUOTAS['start_execution_bucket'].limit) / rate / 60:,.0f} min")
    return {"contacts": contacts, "caps": caps, "binding": binding, "seconds": seconds,
            "bound_seconds": bound, "ratio": seconds / bound, "notes": notes}


def drain(contacts: int, *, rate: float, bucket: float, attempts_per_second: float,
          horizon: int = 7 * 86400) -> dict[str, float]:
    """How a queued burst drains through StartExecution's token bucket: a fluid model, second by
    second. The automation consumer tries up to `attempts_per_second` queued entries; those past the
    bucket are put back with store.queue.backoff's delay (2 s doubling to its cap, times 0.5 to 1 at
    random), spread evenly over that window. Answers the seconds until the last one started and
    the attempts it took."""
    from chalicelib.store.queue import MAX_DELAY_SECONDS

    levels = 12  # postponements counted apart up to this many (the delay is at its cap long before)
    ready = [0.0] * levels  # entries on the queue now, by postponements so far
    ready[0] = float(contacts)
    arriving = [0.0] * levels  # entries a second coming back, by postponements
    changes: dict[int, list[float]] = defaultdict(lambda: [0.0] * levels)
    tokens, started, attempts, second = bucket, 0.0, 0.0, 0
    while started < contacts - 0.5 and second < horizon:
        for level, change in enumerate(changes.pop(second, [0.0] * levels)):
            arriving[level] += change
        for level in range(levels):
            ready[level] += max(arriving[level], 0.0)
        waiting = sum(ready)
        tried = min(waiting, attempts_per_second)
        ok = min(tried, tokens)
        tokens = min(bucket, tokens - ok + rate)
        started += ok
        attempts += tried
        if waiting > 0:
            for level in range(levels):
                share = ready[level] / waiting
                ready[level] -= share * tried
                back = share * (tried - ok)
                if back <= 0:
                    continue
                delay = min(MAX_DELAY_SECONDS, 2 ** min(level, 10) * 2)
                first, last = second + max(1, int(delay * 0.5)), second + max(2, int(delay))
                target = min(level + 1, levels - 1)
                changes[first][target] += back / (last - first)
                changes[last][target] -= back / (last - first)
        second += 1
    return {"seconds": float(second), "attempts": attempts, "attempts_per_entry": attempts / max(started, 1.0)}


# -- the report -----------------------------------------------------------------------------------


def render(measured: dict[str, Any], now: dict[str, float], modelled: dict[str, float],
           models: list[tuple[str, dict[str, Any]]]) -> str:
    dollars_now = {key: value * 1000 for key, value in prices.dollars(now).items()}
    dollars_routed = {key: value * 1000 for key, value in prices.dollars(modelled).items()}
    lines = [f"welcome-series per 1,000 contacts (us-east-1 list prices; {measured['contacts']} contacts "
             f"measured on the local stack, each: signup, welcome, wait 7 days, complete-profile, 2 deliveries)",
             f"  {'line':<18}{'before':>9}{'now':>9}{'routed*':>9}"]
    for line in LINES:
        lines.append(f"  {line:<18}{BEFORE[line]:>9.4f}{dollars_now[line]:>9.4f}{dollars_routed[line]:>9.4f}")
    verdict = "met" if dollars_routed["total"] <= GOAL_DOLLARS else "NOT met"
    lines.append(f"  goal: at most ${GOAL_DOLLARS:.2f} all-in: now ${dollars_now['total']:.4f}, "
                 f"routed* ${dollars_routed['total']:.4f} ({verdict})")
    lines.append(f"  {'per contact':<18}{'before':>9}{'now':>9}{'routed*':>9}")
    for name, value in counts(now).items():
        lines.append(f"  {name:<18}{BEFORE_COUNTS[name]:>9.1f}{value:>9.1f}{counts(modelled)[name]:>9.1f}")
    lines.append("  * routed: ingestion no longer queues events nothing reads (issue 14 point 1, assumed): "
                 "journey.entered, email.sent, journey.completed here")
    paths = {" > ".join(path.get("path") or []) + f" ({path.get('status')})" for path in measured["paths"]}
    lines.append(f"  journeys: {'; '.join(sorted(paths))}")
    for title, result in models:
        lines += ["", f"{result['contacts']:,} contacts entering welcome-series at once, {title}:",
                  f"  {'quota':<40}{'limit':>16}  {'entries/s':>10}  what each contact takes"]
        for item in result["caps"]:
            limit = f"{item['limit']:,.0f} {item['unit'].split('/')[0][:5]}"
            lines.append(f"  {item['quota']:<40}{limit:>16}  {item['entries_per_second']:>10,.0f}  {item['detail']}")
        binding = result["binding"]
        verdict = "met" if result["ratio"] <= GOAL_RATIO else "NOT met"
        lines.append(f"  first to bind: {binding['quota']} at {binding['entries_per_second']:,.0f} entries/s; "
                     f"total {result['seconds'] / 60:,.0f} min against {result['bound_seconds'] / 60:.0f} min "
                     f"(1,000,000 / 200 per s): {result['ratio']:.2f}x, goal within {GOAL_RATIO}x ({verdict})")
        lines += [f"  ! {note}" for note in result["notes"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench stepcost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=3, help="contacts measured (one by one)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "stepcost.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("PARCOURS_TABLE_PREFIX", "parcours-bench-")
    os.environ.setdefault("PARCOURS_TOKEN_SECRET", "bench-secret")
    import logging

    logging.disable(logging.INFO)
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    started = time.perf_counter()
    measured = measure(args.contacts)
    now = measured["usage"]
    modelled = routed(now, measured["memory_mb"])
    models = [
        (f"SES at a new account's {QUOTAS['ses_rate'].limit:.0f}/s and {QUOTAS['ses_day'].limit:,.0f}/day",
         model(measured, modelled, ses_rate=QUOTAS["ses_rate"].limit, ses_day=QUOTAS["ses_day"].limit)),
        (f"SES raised to {RAISED_SES_RATE}/s and 1,000,000/day",
         model(measured, modelled, ses_rate=RAISED_SES_RATE, ses_day=1_000_000)),
    ]
    print(render(measured, now, modelled, models))
    print(f"\n({time.perf_counter() - started:.0f}s; quotas: "
          + "; ".join(f"{quota.name} {quota.limit:,.0f} {quota.unit} ({quota.source})" for quota in QUOTAS.values())
          + ")")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"usage": now, "routed": modelled, "models": dict(models),
                                    "shared_items": shared_items(measured["items"])}, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
