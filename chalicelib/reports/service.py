"""Reports read from the counters (reports.counters): a scenario's funnel, the account's overview.

A report is a Query of one scope over a range of days plus the all-time slots: never a scan,
never the messages or journeys themselves. `running` and `waiting` are now, whenever the
contacts arrived (all-time counters); every other number counts what happened in the range.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from chalicelib import clock
from chalicelib.reports import counters, flow
from chalicelib.segments import service as segments
from chalicelib.store import reports as store
from chalicelib.store.models import Scenario

DEFAULT_DAYS = 30
MAX_DAYS = 366
MESSAGE_COUNTS = ("sent", "delivered", "opened", "clicked", "unsubscribed", "bounced", "complained")
RATES = ("delivered", "opened", "clicked", "unsubscribed", "bounced", "complained")
ENDINGS = ("completed", "converted", "exited", "failed", "stopped")
DAY_COUNTS = ("entered", "sent", "delivered", "opened", "clicked", "converted", "unsubscribed", "bounced",
              "complained")
OVERVIEW_DAY_COUNTS = ("contacts_created", *MESSAGE_COUNTS)


def default_range() -> tuple[date, date]:
    end = clock.now().date()
    return end - timedelta(days=DEFAULT_DAYS - 1), end


def _days(start: date, end: date) -> list[str]:
    return [(start + timedelta(days=offset)).isoformat() for offset in range((end - start).days + 1)]


def _rate(part: int, base: int) -> float:
    return round(part / base, 4) if base else 0


def _message_numbers(counts: dict[str, int]) -> dict[str, Any]:
    numbers: dict[str, Any] = {name: counts.get(name, 0) for name in MESSAGE_COUNTS}
    numbers["skipped"] = {name.split(":", 1)[1]: value for name, value in sorted(counts.items())
                          if name.startswith("skipped:") and value}
    numbers["rates"] = {name: _rate(numbers[name], numbers["sent"]) for name in RATES}
    return numbers


def _steps_in_order(scenario_id: str, version: int | None, latest: int) -> list[dict[str, Any]]:
    """Every step, nested ones included, in document order: of the version asked, or of the
    latest version followed by the steps only older versions had."""
    chosen = [version] if version is not None else list(range(latest, 0, -1))
    found = {int(item.version): item.definition or {}
             for item in Scenario.batch_get([(scenario_id, number) for number in chosen])}
    seen: set[str] = set()
    steps: list[dict[str, Any]] = []
    for number in chosen:
        definition = found.get(number) or {}
        for step, _ in flow.step_ids(definition.get("steps") or []):
            if step["id"] not in seen:
                seen.add(step["id"])
                steps.append(dict(step))
    return steps


def scenario_report(scenario_id: str, latest: int, version: int | None, start: date, end: date) -> dict[str, Any]:
    scope = counters.scenario_scope(scenario_id)
    in_range: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))  # step ("" totals) -> counts
    by_day: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for slot, counts in store.read(scope, f"{start.isoformat()}#", f"{end.isoformat()}#~"):
        day, number, step_id = slot.split("#", 2)
        if version is not None and int(number) != version:
            continue
        for name, value in counts.items():
            in_range[step_id][name] += value
            if not step_id:
                by_day[day][name] += value
    now: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for slot, counts in store.read(scope, f"{counters.ALL_TIME}#", f"{counters.ALL_TIME}#~"):
        _, number, step_id = slot.split("#", 2)
        if version is None or int(number) == version:
            for name, value in counts.items():
                now[step_id][name] += value
    totals = in_range[""]
    ended_now = sum(now[""].get(name, 0) for name in ENDINGS)
    report_totals: dict[str, Any] = {
        "entered": totals.get("entered", 0), "running": max(0, now[""].get("entered", 0) - ended_now),
        **{name: totals.get(name, 0) for name in ENDINGS}, **_message_numbers(totals)}
    report_totals["rates"]["converted"] = _rate(report_totals["converted"], report_totals["entered"])
    steps = []
    for step in _steps_in_order(scenario_id, version, latest):
        counts, current = in_range[step["id"]], now[step["id"]]
        item: dict[str, Any] = {
            "id": step["id"], "type": step["type"], "reached": counts.get("reached", 0),
            "waiting": max(0, current.get("reached", 0) - current.get("completed", 0) - current.get("left", 0)),
            "completed": counts.get("completed", 0), **_message_numbers(counts),
            # journeys that ended at this step without finishing it, by how they ended
            **{name: counts.get(name, 0) for name in ENDINGS if name != "completed"}}
        if step["type"] in ("if", "wait_for"):
            item["branches"] = {branch: counts.get(f"branch:{branch}", 0) for branch in ("then", "else")}
        elif step["type"] == "split":
            item["branches"] = {str(index): counts.get(f"branch:{index}", 0) for index in range(len(step["branches"]))}
        steps.append(item)
    days = [{"date": day, **{name: by_day[day].get(name, 0) for name in DAY_COUNTS}} for day in _days(start, end)]
    return {"scenario": scenario_id, "version": version, "from": start.isoformat(), "to": end.isoformat(),
            "totals": report_totals, "steps": steps, "days": days}


def step_counts(scenario_id: str, latest: int, version: int, start: date, end: date) -> dict[str, dict[str, Any]]:
    """Each step's report by id (what a diagram draws its counts from)."""
    return {step["id"]: step for step in scenario_report(scenario_id, latest, version, start, end)["steps"]}


def overview(start: date, end: date) -> dict[str, Any]:
    totals = store.read_one(store.ACCOUNT, store.TOTALS)
    by_day: dict[str, dict[str, int]] = {}
    for slot, counts in store.read(store.ACCOUNT, start.isoformat(), end.isoformat() + "#~"):
        day = by_day.setdefault(slot[:10], {})  # "DAY", and campaigns' "DAY#SHARD" (reports.counters)
        for name, value in counts.items():
            day[name] = day.get(name, 0) + value
    contacts = totals.get("contacts", 0)
    # Every contact is active (rank 1-10) or inactive (0): the built-in segment `active` is the
    # one count to read (none while no rank was ever computed: then nobody is active).
    active = segments.count("active")
    return {"contacts": contacts,
            "consented": {"email": totals.get("email", 0), "sms": totals.get("sms", 0)},
            "active": active, "inactive": max(0, contacts - active),
            "from": start.isoformat(), "to": end.isoformat(),
            "days": [{"date": day, **{name: by_day.get(day, {}).get(name, 0) for name in OVERVIEW_DAY_COUNTS}}
                     for day in _days(start, end)]}
