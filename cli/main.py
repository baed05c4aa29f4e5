"""The `parcours` command: validate, push, publish, simulate, report, outbox (and list, pause,
resume, archive), against the API at PARCOURS_URL with the key PARCOURS_KEY (or --url, --key).

Exit codes, for scripts and CI: 0 done, 1 invalid or refused by the API, 2 wrong usage (or a
file that cannot be read), 3 the API could not be reached.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from cli import positions
from cli.client import Answer, Client, Unreachable

OK, REFUSED, USAGE, UNREACHABLE = 0, 1, 2, 3
DEFAULT_URL = "http://127.0.0.1:8000"  # make run's
FUNNEL = ("reached", "waiting", "completed", "sent", "delivered", "opened", "clicked", "unsubscribed", "bounced",
          "complained")


class Usage(Exception):
    """A mistake in the command line or its files, before anything is asked of the API."""


class Source:
    """A JSON file as given, with the line of each of its paths (problems are shown at their line)."""

    def __init__(self, name: str) -> None:
        self.name = name
        try:
            self.text = Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise Usage(f"cannot read {name}: {getattr(error, 'strerror', None) or error}") from None
        self.data: Any = None
        self.lines: dict[str, int] = {}
        self.error: str | None = None
        try:
            self.data = json.loads(self.text)
            self.lines = positions.lines(self.text)
        except ValueError as error:
            self.error = str(error)

    def where(self, path: str) -> str:
        line = positions.line_of(path, self.lines)
        return f"{self.name}:{line}" if line else self.name


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    key = args.key or os.environ.get("PARCOURS_KEY")
    if not key:
        print("parcours: an API key is needed: set PARCOURS_KEY or pass --key", file=err)
        return USAGE
    client = Client(args.url or os.environ.get("PARCOURS_URL") or DEFAULT_URL, key)
    try:
        return int(args.run(client, args, out, err))
    except Usage as error:
        print(f"parcours: {error}", file=err)
        return USAGE
    except Unreachable as error:
        print(f"parcours: {error}", file=err)
        return UNREACHABLE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parcours", description="Parcours from the command line: scenario files, "
                                     "simulations, reports. URL and key from PARCOURS_URL and PARCOURS_KEY.",
                                     epilog="exit codes: 0 done, 1 invalid or refused, 2 usage, 3 API unreachable")
    parser.add_argument("--url", help=f"the API's address (default: $PARCOURS_URL, else {DEFAULT_URL})")
    parser.add_argument("--key", help="an API key (default: $PARCOURS_KEY)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable[..., int], help_: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_)
        sub.set_defaults(run=run)
        return sub

    validate = command("validate", _validate, "check a scenario file; every problem at its path and line")
    validate.add_argument("file")
    validate.add_argument("--publishable", action="store_true",
                          help="also fail when templates, lists or segments it names do not exist yet")
    command("push", _push, "upload a scenario file: created, or a new draft version of it").add_argument("file")
    for name, help_ in (("publish", "publish the latest version (compile and deploy)"),
                        ("pause", "stop new entries; contacts inside go on"), ("resume", "take new entries again"),
                        ("archive", "stop new entries and every running journey")):
        command(name, _lifecycle, help_).add_argument("id", metavar="ID")
    command("list", _list, "the scenarios, with status and versions")
    simulate = command("simulate", _simulate, "dry-run a scenario for a contact and a timeline; nothing is sent")
    simulate.add_argument("id", metavar="ID")
    simulate.add_argument("--contact", metavar="FILE", help='the contact: a JSON file of its fields, '
                          'or {"contact_id": ID} for a stored one')
    simulate.add_argument("--contact-id", metavar="CONTACT_ID", help="a stored contact, by id")
    simulate.add_argument("--timeline", metavar="FILE",
                          help='a JSON file: a list of events [{"type", "properties", "at"}] (default: none)')
    simulate.add_argument("--version", type=int)
    simulate.add_argument("--json", action="store_true", help="print the API's answer as it is")
    report = command("report", _report, "a scenario's funnel: totals and each step")
    report.add_argument("id", metavar="ID")
    report.add_argument("--version", type=int, help="one version (default: all)")
    report.add_argument("--from", dest="from_", metavar="YYYY-MM-DD")
    report.add_argument("--to", metavar="YYYY-MM-DD")
    report.add_argument("--json", action="store_true", help="print the API's answer as it is")
    outbox = command("outbox", _outbox, "what the local stack sent (make run only)")
    outbox.add_argument("--limit", type=int, default=20)
    outbox.add_argument("--json", action="store_true", help="print the API's answer as it is")
    return parser


# -- commands --------------------------------------------------------------------------------


def _validate(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    source = _scenario_file(args.file)
    if source.error:
        print(f"{source.name}: not JSON: {source.error}", file=err)
        return REFUSED
    answer = _needs(client.call("POST", "/scenarios/validate", source.data), err, source)
    if answer is None:
        return REFUSED
    _print_problems(answer.body["problems"], source, err)
    for problem in answer.body["missing"]:
        print(f"{source.where(problem['path'])}: {problem['path']}: missing: {problem['message']}", file=err)
    if not answer.body["valid"]:
        print(f"{source.name}: {len(answer.body['problems'])} problem(s)", file=err)
        return REFUSED
    if args.publishable and not answer.body["publishable"]:
        print(f"{source.name}: valid, but not publishable until what it names exists", file=err)
        return REFUSED
    state = "publishable" if answer.body["publishable"] else "not publishable yet (see missing)"
    print(f"{source.name}: valid, {state}", file=out)
    return OK


def _push(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    source = _scenario_file(args.file)
    if source.error:
        print(f"{source.name}: not JSON: {source.error}", file=err)
        return REFUSED
    scenario_id = source.data.get("id") if isinstance(source.data, dict) else None
    if not isinstance(scenario_id, str) or not scenario_id:
        print(f"{source.where('id')}: id: the scenario needs an id", file=err)
        return REFUSED
    existing = client.call("GET", f"/scenarios/{scenario_id}")
    if existing.status == 404:
        answer = _needs(client.call("POST", "/scenarios", source.data), err, source)
        verb = "created"
    else:
        answer = _needs(client.call("PUT", f"/scenarios/{scenario_id}", source.data), err, source)
        verb = "new version"
    if answer is None:
        return REFUSED
    body = answer.body
    print(f"{body['id']}: {verb}, version {body['latest_version']} (draft); status {body['status']}"
          + (f", live version {body['live_version']}" if body.get("live_version") else ""), file=out)
    return OK


def _lifecycle(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    answer = _needs(client.call("POST", f"/scenarios/{args.id}/{args.command}"), err)
    if answer is None:
        return REFUSED
    body = answer.body
    live = f", live version {body['live_version']}" if body.get("live_version") else ""
    stopped = f", {body['stopped_journeys']} journey(s) stopped" if "stopped_journeys" in body else ""
    print(f"{body['id']}: {body['status']}{live}{stopped}", file=out)
    return OK


def _list(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    answer = _needs(client.call("GET", "/scenarios"), err)
    if answer is None:
        return REFUSED
    rows = [(item["id"], item["status"], str(item["latest_version"]), str(item.get("live_version") or "-"),
             str(item.get("entered", 0)), item.get("name") or "") for item in answer.body["items"]]
    _table(("id", "status", "latest", "live", "entered", "name"), rows, out)
    return OK


def _simulate(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    body: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    if args.contact_id:
        body["contact_id"] = args.contact_id
    elif args.contact:
        contact = _json_file(args.contact)
        sources["contact"] = contact
        if isinstance(contact.data, dict) and set(contact.data) == {"contact_id"}:
            body["contact_id"] = contact.data["contact_id"]
        else:
            body["contact"] = contact.data
    else:
        raise Usage("simulate needs --contact FILE or --contact-id ID")
    if args.timeline:
        timeline = _json_file(args.timeline)
        sources["timeline"] = timeline
        data = timeline.data
        body["timeline"] = data["timeline"] if isinstance(data, dict) and "timeline" in data else data
    answer = client.call("POST", f"/scenarios/{args.id}/simulate", body,
                         version=args.version)
    if not answer.ok:
        print(f"parcours: {answer.message}", file=err)
        for detail in answer.details:
            print(f"{_where_in(sources, detail['path'])}: {detail['path']}: {detail['message']}", file=err)
        return REFUSED
    result = answer.body
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False), file=out)
        return OK
    print(f"{args.id}: simulated journey {result.get('status')}", file=out)
    for step in result.get("path", []):
        extra = f" until {step['until']}" if step.get("until") else ""
        print(f"  {_when(step.get('at'))}  {step['step']:<24} {step.get('type', ''):<10} {step.get('result', '')}"
              f"{extra}", file=out)
    messages = result.get("messages", [])
    print(f"{len(messages)} message(s):", file=out)
    for message in messages:
        subject = f" \"{message['subject']}\"" if message.get("subject") else ""
        print(f"  {_when(message.get('at'))}  {message['channel']} to {message.get('to')}{subject}"
              f" (step {message['step']})", file=out)
        for line in (message.get("text") or "").strip().splitlines():
            print(f"      {line}", file=out)
    for note in result.get("notes", []):
        print(f"note: {note}", file=out)
    return OK


def _report(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    answer = client.call("GET", f"/scenarios/{args.id}/report", version=args.version,
                         **{"from": args.from_, "to": args.to})
    if not answer.ok:
        print(f"parcours: {answer.message}", file=err)
        for detail in answer.details:
            print(f"  {detail['path']}: {detail['message']}", file=err)
        return REFUSED
    if args.json:
        print(json.dumps(answer.body, indent=2, ensure_ascii=False), file=out)
    else:
        out.write(format_report(answer.body))
    return OK


def format_report(report: dict[str, Any]) -> str:
    """A scenario report (GET /scenarios/{id}/report) as a person reads it in a terminal."""
    totals = report["totals"]
    version = f"version {report['version']}" if report.get("version") else "all versions"
    lines = [f"{report['scenario']}, {version}, {report.get('from')} to {report.get('to')}",
             "  " + ", ".join(f"{name} {totals.get(name, 0)}" for name in
                              ("entered", "running", "completed", "converted", "exited", "failed")),
             "  " + ", ".join(f"{name} {totals.get(name, 0)}{_rate(totals, name)}" for name in
                              ("sent", "delivered", "opened", "clicked", "unsubscribed", "bounced", "complained"))]
    if totals.get("skipped"):
        lines.append("  skipped: " + ", ".join(f"{reason} {count}" for reason, count in totals["skipped"].items()))
    rows = []
    for step in report.get("steps", []):
        branches = ", ".join(f"{name} {count}" for name, count in (step.get("branches") or {}).items())
        rows.append((step["id"], step.get("type", ""), *(str(step.get(name, 0)) for name in FUNNEL[:7]), branches))
    table: list[str] = []
    _table(("step", "type", *FUNNEL[:7], "branches"), rows, table)
    return "\n".join(lines + [""] + table) + "\n"


def _outbox(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    asked = client.call("GET", "/local/outbox", limit=args.limit)
    if asked.status == 404:
        print("parcours: no outbox here: it exists on the local stack (make run) only", file=err)
        return REFUSED
    answer = _needs(asked, err)
    if answer is None:
        return REFUSED
    if args.json:
        print(json.dumps(answer.body, indent=2, ensure_ascii=False), file=out)
        return OK
    rows = [(_when(item.get("sent_at")), item["channel"], item.get("to") or "",
             item.get("subject") or (item.get("text") or "").strip().replace("\n", " ")[:60])
            for item in answer.body["items"]]
    _table(("sent", "channel", "to", "subject / text"), rows, out)
    return OK


# -- helpers ---------------------------------------------------------------------------------


def _where_in(sources: dict[str, Source], path: str) -> str:
    """Where a simulate problem (`timeline[1].at`, `contact.email`) sits in the file that gave it."""
    for field, source in sources.items():
        if path == field or path.startswith((f"{field}.", f"{field}[")):
            wrapped = field == "timeline" and isinstance(source.data, dict)  # {"timeline": [...]}
            return source.where(path if wrapped else path[len(field):].lstrip("."))
    return "request"


def _json_file(name: str) -> Source:
    source = Source(name)
    if source.error:
        raise Usage(f"{name} is not JSON: {source.error}")
    return source


def _scenario_file(name: str) -> Source:
    return Source(name)


def _needs(answer: Answer, err: TextIO, source: Source | None = None) -> Answer | None:
    """The answer if it is a success; else its refusal printed (problems at their lines) and None."""
    if answer.ok:
        return answer
    print(f"parcours: {answer.message}", file=err)
    _print_problems(answer.details, source, err)
    return None


def _print_problems(problems: list[dict], source: Source | None, err: TextIO) -> None:
    for problem in problems:
        where = source.where(problem["path"]) if source else "  "
        print(f"{where}: {problem['path']}: {problem['message']}", file=err)


def _rate(totals: dict[str, Any], name: str) -> str:
    rate = (totals.get("rates") or {}).get(name)
    return f" ({rate * 100:.1f}%)" if isinstance(rate, (int, float)) and name != "sent" else ""


def _when(moment: str | None) -> str:
    return (moment or "")[:16].replace("T", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO | list[str]) -> None:
    widths = [max([len(str(cell)) for cell in column]) for column in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        line = "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
        if isinstance(out, list):
            out.append(line)
        else:
            print(line, file=out)


if __name__ == "__main__":
    sys.exit(main())
