"""`python -m bench`: what Parcours costs on AWS per unit of work, and how fast its Python is.

Runs the app on the local stack (moto, in-process, clock-scaled), counts the AWS requests it
makes per event ingested and per contact through each reference scenario, prices them, times
the Python work (cold-start import, criteria, CSV parsing), prints a report and writes
bench/results/latest.json.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
# Measurements of their own, each figure beside its goal: `python -m bench NAME [options]`.
SUITES = {
    "perevent": "bench.perevent",  # DynamoDB requests per event, case by case
    "volume": "bench.volume",  # the local stack as the base grows; criteria speed
    "stepcost": "bench.stepcost",  # welcome-series line by line, and 1,000,000 contacts at the quotas
    "campaigns": "bench.campaigns",  # a campaign end to end, and 1,000,000 recipients at the SES rate
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in SUITES:
        return importlib.import_module(SUITES[argv[0]]).main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=500, help="events in the batch measurement (max 500)")
    parser.add_argument("--contacts", type=int, default=100_000, help="in-memory contacts for criteria timing")
    parser.add_argument("--rows", type=int, default=100_000, help="CSV rows to parse")
    parser.add_argument("--scenarios", default="all", help="comma-separated reference scenarios, or all")
    parser.add_argument("--quick", action="store_true", help="batch 50, 10k contacts, 10k rows")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.contacts, args.rows = 50, 10_000, 10_000
    os.environ.setdefault("PARCOURS_TABLE_PREFIX", "parcours-bench-")
    os.environ.setdefault("PARCOURS_TOKEN_SECRET", "bench-secret")
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)

    import logging

    logging.disable(logging.INFO)  # the app logs every journey; the report is the output here
    # moto logs each failed task at ERROR; the report lists failures from the executions' histories.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)

    from bench import prices, python_work, report, workloads

    started = time.perf_counter()

    def progress(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {text}", file=sys.stderr, flush=True)

    names = workloads.REFERENCE if args.scenarios == "all" else tuple(args.scenarios.split(","))
    progress("cold start: import app.py in a fresh interpreter")
    python = {"import": python_work.import_time()}
    progress("local stack")
    measured = workloads.run(batch=args.batch, scenarios=names, progress=progress)
    events = [report.summarise(item) for item in measured["events"]]
    scenarios = [report.summarise(item) for item in measured["scenarios"]]
    batch = next(item for item in measured["events"] if item.units > 1)
    per_event = batch.per_unit()
    api_cpu = per_event.get("lambda.cpu_seconds.api_handler", 0.0)
    automation_cpu = per_event.get("lambda.cpu_seconds.automation", 0.0)
    python["handler_cpu"] = {
        "events": batch.units,
        "api_cpu_ms_per_event": api_cpu * 1000,
        "api_events_per_cpu_second": 1 / api_cpu if api_cpu else None,
        "automation_cpu_ms_per_event": automation_cpu * 1000,
        "automation_events_per_cpu_second": 1 / automation_cpu if automation_cpu else None,
        "wall_events_per_second": batch.units / batch.seconds,
    }
    progress(f"criteria over {args.contacts:,} contacts")
    python["criteria"] = python_work.criteria_eval(args.contacts)
    progress(f"CSV parse of {args.rows:,} rows")
    python["csv"] = python_work.csv_parse(args.rows)
    results = {
        "meta": {
            "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "python": platform.python_version(), "cpus": os.cpu_count(), "time_scale": workloads.TIME_SCALE,
            "batch": args.batch, "seconds": time.perf_counter() - started,
            "boot_seconds": measured["boot_seconds"], "price_region": "us-east-1",
        },
        "prices": {key: {"dollars": price.dollars, "unit": price.unit, "quoted": price.quoted,
                         "source": price.source, "note": price.note} for key, price in
                   prices.PRICES.items()},
        "events": events,
        "scenarios": scenarios,
        "python": python,
        "internal_calls": measured["internal_calls"],
        "meter_errors": measured["meter_errors"],
    }
    print(report.render(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwritten {args.out.relative_to(Path.cwd()) if args.out.is_relative_to(Path.cwd()) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
