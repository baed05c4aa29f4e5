"""Timing the Python work itself: cold-start import, criteria over 100k contacts, CSV parsing."""
from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from bench.workloads import ROOT

IMPORT_SNIPPET = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"


def _clean_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PARCOURS_")}
    env["PYTHONPATH"] = str(ROOT)
    env.setdefault("AWS_DEFAULT_REGION", "eu-west-3")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def import_time(runs: int = 3) -> dict[str, Any]:
    """`import app` in a fresh interpreter (Lambda's init phase, without the runtime's own start)."""
    env = _clean_env()
    subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, env=env, check=True)  # warm the .pyc files
    imports, processes = [], []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", IMPORT_SNIPPET], cwd=ROOT, env=env, check=True,
                              capture_output=True, text=True)
        processes.append(time.perf_counter() - started)
        imports.append(float(done.stdout.strip().splitlines()[-1]))
    profile = subprocess.run([sys.executable, "-X", "importtime", "-c", "import app"], cwd=ROOT, env=env,
                             check=True, capture_output=True, text=True).stderr
    return {"import_app_seconds": statistics.median(imports), "process_seconds": statistics.median(processes),
            "runs": runs, "heaviest_imports": _heaviest(profile)}


def _heaviest(profile: str, top: int = 8) -> list[dict[str, Any]]:
    """Where `import app` spends its time: self time summed per top-level package
    (`python -X importtime` lines: self us | cumulative us | indented module name)."""
    totals: dict[str, int] = {}
    for line in profile.splitlines():
        parts = line[len("import time:"):].split("|") if line.startswith("import time:") else []
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        package = parts[2].strip().split(".")[0]
        totals[package] = totals.get(package, 0) + int(parts[0])
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:top]
    return [{"package": name, "seconds": round(micro / 1e6, 4)} for name, micro in ranked]


# -- criteria over contacts in memory ------------------------------------------------------------

CRITERIA = {
    "one field (attributes.plan eq)": {"field": "attributes.plan", "op": "eq", "value": "pro"},
    "AND/OR of fields (consent, score, city in)": {"all": [
        {"field": "consent.email", "op": "eq", "value": True},
        {"any": [{"field": "score", "op": "gte", "value": 50},
                 {"field": "attributes.city", "op": "in", "value": ["Paris", "Lyon", "Nantes"]}]}]},
    "relative date (created_at after -P30D)": {"field": "created_at", "op": "after", "value": "-P30D"},
    "list membership and stage": {"all": [{"in_list": "newsletter"},
                                          {"field": "stage", "op": "ne", "value": "customer"}]},
    "behaviour: inactive-6-months (2 event conditions)": {"all": [
        {"not": {"event": "page_view", "within": "P6M"}}, {"not": {"event": "email.opened", "within": "P6M"}}]},
}


def _contacts(count: int, now: datetime, seed: int = 7) -> list[Any]:
    from chalicelib.criteria import ContactSubject

    rng = random.Random(seed)
    plans, cities = ["free", "pro", "team"], ["Paris", "Lyon", "Nantes", "Lille", "Bordeaux", "Marseille"]
    subjects = []
    for number in range(count):
        events = [{"type": rng.choice(["page_view", "email.opened", "purchase"]), "properties": {},
                   "timestamp": now - timedelta(days=rng.randint(0, 400))} for _ in range(rng.randint(0, 4))]

        def source(event_type: str, since: datetime | None, events: list = events) -> list:
            return [event for event in events
                    if event["type"] == event_type and (since is None or event["timestamp"] >= since)]

        contact = {
            "id": f"c{number}", "email": f"user{number}@example.com", "first_name": "Ana",
            "score": rng.randint(0, 100), "stage": rng.choice(["visitor", "lead", "customer"]),
            "created_at": (now - timedelta(days=rng.randint(0, 365))).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "attributes": {"plan": rng.choice(plans), "city": rng.choice(cities)},
            "consent": {"email": {"granted": rng.random() < 0.8, "at": "2026-01-01T00:00:00Z", "source": "form"}},
            "lists": ["newsletter"] if rng.random() < 0.5 else [],
        }
        subjects.append(ContactSubject(contact, events=source))
    return subjects


def criteria_eval(count: int = 100_000) -> dict[str, Any]:
    from chalicelib.criteria import anchor, compile_criteria, validate

    now = datetime.now(timezone.utc)
    build = time.perf_counter()
    subjects = _contacts(count, now)
    built = time.perf_counter() - build
    results = {}
    for label, criteria in CRITERIA.items():
        problems = validate(criteria)
        if problems:
            raise ValueError(f"bench criteria {label!r} invalid: {problems}")
        started = time.perf_counter()
        predicate, moment = compile_criteria(criteria), anchor(now)  # once per evaluation, as a build does
        matched = sum(1 for subject in subjects if predicate(subject, moment))
        seconds = time.perf_counter() - started
        results[label] = {"seconds": seconds, "contacts_per_second": count / seconds, "matched": matched}
    return {"contacts": count, "build_seconds": built, "criteria": results}


# -- CSV import parsing ------------------------------------------------------------------------


def csv_text(rows: int, seed: int = 11) -> bytes:
    rng = random.Random(seed)
    lines = ["email;prenom;nom;telephone;optin_email;attributes.plan"]
    for number in range(rows):
        phone = f"06{rng.randint(10_000_000, 89_999_999)}" if rng.random() < 0.6 else ""
        lines.append(f"user{number}@example.com;Zoé;Martin-{number};{phone};{rng.choice(['Oui', 'Non', ''])};"
                     f"{rng.choice(['free', 'pro', 'team'])}")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def csv_parse(rows: int = 100_000) -> dict[str, Any]:
    from chalicelib.imports.csv_parse import decode, parse_contacts

    body = csv_text(rows)
    started = time.perf_counter()
    text = decode(body)
    decoded = time.perf_counter() - started
    parsed = parse_contacts(text, unique_key="email", default_region="FR")
    seconds = time.perf_counter() - started
    return {"rows": rows, "bytes": len(body), "seconds": seconds, "decode_seconds": decoded,
            "rows_per_second": rows / seconds, "parsed": len(parsed.rows), "refused": len(parsed.refusals)}
