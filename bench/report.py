"""The bench's results: a readable report, and the JSON written to bench/results/latest.json."""
from __future__ import annotations

from typing import Any

from bench import prices
from bench.workloads import Measurement

DOLLAR_LINES = ("step_functions", "lambda_requests", "lambda_duration", "dynamodb_writes", "dynamodb_reads", "ses",
                "sqs", "sns", "api_gateway")


def summarise(measured: Measurement, per: int = 1000) -> dict[str, Any]:
    """One measurement per unit, its dollars per `per` units, and the counts a reader wants."""
    unit = measured.per_unit()
    dollars = {key: value * per for key, value in prices.dollars(unit).items()}
    invocations = {key.rsplit(".", 1)[1]: value for key, value in unit.items()
                   if key.startswith("lambda.invocations.")}
    calls = {key[len("calls."):]: value for key, value in unit.items() if key.startswith("calls.")}
    return {
        "name": measured.name,
        "units": measured.units,
        "seconds": round(measured.seconds, 3),
        "sfn_transitions": unit.get("sfn.transitions", 0.0),
        "sfn_executions": unit.get("sfn.executions", 0.0),
        "lambda_invocations": unit.get("lambda.invocations", 0.0),
        "lambda_invocations_by_function": invocations,
        "lambda_billed_ms_by_function": {key.rsplit(".", 1)[1]: value for key, value in unit.items()
                                         if key.startswith("lambda.billed_ms.")},
        "lambda_cpu_ms_by_function": {key.rsplit(".", 1)[1]: value * 1000 for key, value in unit.items()
                                      if key.startswith("lambda.cpu_seconds.")},
        "lambda_gb_seconds": unit.get("lambda.gb_seconds", 0.0),
        "dynamodb_wru": unit.get("dynamodb.wru", 0.0),
        "dynamodb_rru": unit.get("dynamodb.rru", 0.0),
        "dynamodb_stored_bytes": unit.get("dynamodb.stored_bytes", 0.0),
        "emails": unit.get("ses.emails", 0.0),
        "sms": unit.get("sns.sms", 0.0),
        "sns_publishes": unit.get("sns.publishes", 0.0),
        "sqs_requests": unit.get("sqs.requests", 0.0),
        "api_gateway_requests": unit.get("apigw.requests", 0.0),
        "aws_calls": calls,
        f"dollars_per_{per}": dollars,
        f"storage_dollars_per_month_per_{per}": prices.storage_dollars_per_month(
            unit.get("dynamodb.stored_bytes", 0.0) * per),
        "notes": measured.notes,
    }


def _row(summary: dict[str, Any], label: str) -> str:
    dollars = summary["dollars_per_1000"]
    return (f"  {label:<44}{summary['sfn_transitions']:>6.1f}{summary['lambda_invocations']:>8.2f}"
            f"{summary['dynamodb_wru']:>8.1f}{summary['dynamodb_rru']:>8.1f}"
            f"{summary['emails'] + summary['sms']:>7.1f}{summary['sqs_requests']:>7.1f}{dollars['total']:>10.4f}")


HEADER = (f"  {'':<44}{'SFN':>6}{'Lambda':>8}{'DDB':>8}{'DDB':>8}{'msgs':>7}{'SQS':>7}{'$ per':>10}\n"
          f"  {'':<44}{'trans.':>6}{'invoc.':>8}{'WRU':>8}{'RRU':>8}{'':>7}{'req.':>7}{'1,000':>10}")


def _breakdown(summary: dict[str, Any]) -> str:
    dollars = summary["dollars_per_1000"]
    total = dollars["total"] or 1.0
    parts = [f"{line.replace('_', ' ')} {dollars[line]:.4f} ({dollars[line] / total:.0%})"
             for line in DOLLAR_LINES if dollars[line] >= 0.00005]
    return ", ".join(parts)


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        f"Parcours bench - {meta['generated_at']}, Python {meta['python']}, {meta['cpus']} CPUs, "
        f"local stack (moto), clock x{meta['time_scale']:,.0f}, {meta['seconds']:.0f}s",
        "",
        f"AWS usage per unit of work, priced at {prices.REGION} list prices (table below)",
        "Per event ingested (HTTP API, queue consumer; no scenario live):",
        HEADER,
    ]
    for summary in results["events"]:
        lines.append(_row(summary, summary["name"] + (" (per event)" if summary["units"] > 1 else "")))
    lines += ["", "Per contact through each reference scenario, on its main path (the trigger event, the",
              "journey, and the SES delivery notification of each email included):", HEADER]
    for summary in results["scenarios"]:
        lines.append(_row(summary, summary["name"]))
    lines += ["", "  main paths and outcomes:"]
    for summary in results["scenarios"]:
        journey = summary["notes"].get("journey", {})
        path = " > ".join(journey.get("path") or []) or "-"
        lines.append(f"    {summary['name']:<17}{summary['notes'].get('main_path', '')}")
        lines.append(f"    {'':<17}-> {journey.get('status')}: {path}")
        for failure in summary["notes"].get("failures", [])[:3]:
            lines.append(f"    {'':<17}!  {failure['event']}: {failure['error']} {failure['cause'][:120]}")
    lines += ["", "Where the dollars go, per 1,000 units:"]
    for summary in results["events"] + results["scenarios"]:
        lines.append(f"  {summary['name'][:44]:<44} {_breakdown(summary)}")
    lines += ["", "Lambda per unit (invocations; modelled billed ms; own CPU ms measured here):"]
    for summary in results["events"] + results["scenarios"]:
        parts = [f"{name} {count:g}x {summary['lambda_billed_ms_by_function'].get(name, 0):.0f}ms "
                 f"(cpu {summary['lambda_cpu_ms_by_function'].get(name, 0):.1f})"
                 for name, count in summary["lambda_invocations_by_function"].items()]
        lines.append(f"  {summary['name'][:44]:<44} {'; '.join(parts)}")
    work = results["python"]
    lines += ["", "Python work (this machine; Lambda at 512 MB has about 0.29 vCPU):"]
    cold = work.get("import")
    if cold:
        heavy = ", ".join(f"{item['package']} {item['seconds'] * 1000:.0f}ms" for item in cold["heaviest_imports"][:6])
        lines.append(f"  cold start: import app {cold['import_app_seconds'] * 1000:.0f} ms "
                     f"(whole interpreter {cold['process_seconds'] * 1000:.0f} ms); self time by package: {heavy}")
    handler = work.get("handler_cpu")
    if handler:
        lines.append(f"  ingestion: {handler['api_events_per_cpu_second']:,.0f} events per CPU-second in the API "
                     f"handler ({handler['api_cpu_ms_per_event']:.2f} ms/event), "
                     f"{handler['automation_events_per_cpu_second']:,.0f} in the queue consumer "
                     f"({handler['automation_cpu_ms_per_event']:.2f} ms/event); "
                     f"{handler['wall_events_per_second']:,.1f} events/s end to end on moto")
    crit = work.get("criteria")
    if crit:
        lines.append(f"  criteria over {crit['contacts']:,} in-memory contacts (matches()):")
        for label, item in crit["criteria"].items():
            lines.append(f"    {label:<52}{item['seconds']:>7.2f}s {item['contacts_per_second']:>11,.0f} contacts/s")
    csv = work.get("csv")
    if csv:
        lines.append(f"  CSV parse of {csv['rows']:,} contact rows ({csv['bytes'] / 1e6:.1f} MB, phones "
                     f"normalised): {csv['seconds']:.2f}s, {csv['rows_per_second']:,.0f} rows/s "
                     f"({csv['refused']} refused)")
    lines += ["", f"Prices ({prices.REGION}, on-demand list prices, no free tier):"]
    for price in prices.PRICES.values():
        note = f" - {price.note}" if price.note else ""
        lines.append(f"  {price.key:<26}{price.quoted:<44}{price.source}{note}")
    for note in prices.REGION_NOTES:
        lines.append(f"  {note}")
    lines += ["  Lambda duration is modelled: own CPU measured here x 1769/memory MB + per AWS call "
              "latency (bench/prices.py LATENCY_MS)."]
    if results.get("meter_errors"):
        lines.append(f"  ! {results['meter_errors']:.0f} calls could not be estimated (see meter.errors)")
    return "\n".join(lines)
