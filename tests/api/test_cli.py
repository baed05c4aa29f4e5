"""The `parcours` command line against `make run`'s server: what a marketer reads in a terminal,
and the exit codes a script or CI reads."""
from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.main import format_report, main
from tests.helpers import CONSENT, eventually, make_run, one_email, reference

ROOT = Path(__file__).resolve().parents[2]


class Terminal:
    """Runs `parcours ...` in-process against the served stack; remembers what it printed."""

    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key
        self.out = self.err = ""

    def __call__(self, *argv: str, key: str | None = None) -> int:
        out, err = io.StringIO(), io.StringIO()
        code = main(["--url", self.base, "--key", key or self.key, *argv], out, err)
        self.out, self.err = out.getvalue(), err.getvalue()
        return code


@pytest.fixture(scope="module")
def parcours() -> Iterator[Terminal]:
    patch = pytest.MonkeyPatch()
    try:
        with make_run(patch) as (port, runtime):
            yield Terminal(f"http://127.0.0.1:{port}", runtime.admin_key)
    finally:
        patch.undo()


def write(tmp_path: Path, name: str, value: object, *, indent: int | None = 2) -> str:
    path = tmp_path / name
    path.write_text(value if isinstance(value, str) else json.dumps(value, indent=indent, ensure_ascii=False))
    return str(path)


BROKEN = """{
  "id": "broken",
  "trigger": {"event": "signup"},
  "steps": [
    {"id": "hello", "type": "email", "subject": "Hi", "html": "<p>Hi</p>"},
    {"id": "pause", "type": "wait",
     "duration": "P99Z"}
  ]
}
"""


def test_validate_prints_each_problem_at_its_path_and_line_and_fails(parcours, tmp_path):
    path = write(tmp_path, "broken.json", BROKEN)
    assert parcours("validate", path) == 1
    problems = parcours.err.splitlines()
    assert f'{path}:7: steps[1].duration: "P99Z" is not an ISO 8601 duration such as PT1H, P3D or P6M' in problems
    assert f"{path}:1: name: name is required" in problems  # absent: the object that lacks it
    assert problems[-1] == f"{path}: 2 problem(s)"
    assert parcours.out == ""


def test_validate_passes_a_reference_scenario_and_says_whether_it_can_be_published(parcours, tmp_path):
    path = write(tmp_path, "welcome.json", reference("welcome-series"))
    assert parcours("validate", path) == 0, parcours.err
    assert parcours.out == f"{path}: valid, publishable\n"
    needs_template = one_email("needs-template", template="not-yet-written")
    path = write(tmp_path, "needs.json", needs_template)
    assert parcours("validate", path) == 0
    assert "missing" in parcours.err and "steps[0].template" in parcours.err
    assert parcours("validate", "--publishable", path) == 1


def test_a_file_that_is_not_json_is_refused_with_its_line(parcours, tmp_path):
    path = write(tmp_path, "bad.json", '{\n  "id": "x",\n  "steps": [,]\n}\n')
    assert parcours("validate", path) == 1
    assert parcours.err.startswith(f"{path}: not JSON:") and "line 3" in parcours.err


def test_push_creates_then_adds_versions_then_publish_pause_archive(parcours, tmp_path):
    scenario = one_email("cli-news")
    path = write(tmp_path, "news.json", scenario)
    assert parcours("push", path) == 0, parcours.err
    assert parcours.out == "cli-news: created, version 1 (draft); status draft\n"
    assert parcours("publish", "cli-news") == 0, parcours.err
    assert parcours.out == "cli-news: live, live version 1\n"
    scenario["name"] = "News, second take"
    write(tmp_path, "news.json", scenario)
    assert parcours("push", path) == 0, parcours.err
    assert parcours.out == "cli-news: new version, version 2 (draft); status live, live version 1\n"
    assert parcours("list") == 0
    row = next(line.split() for line in parcours.out.splitlines() if line.startswith("cli-news "))
    assert row[:5] == ["cli-news", "live", "2", "1", "0"]
    assert parcours("pause", "cli-news") == 0 and parcours.out.startswith("cli-news: paused")
    assert parcours("archive", "cli-news") == 0 and parcours.out.startswith("cli-news: archived")
    assert "0 journey(s) stopped" in parcours.out
    assert parcours("publish", "no-such-scenario") == 1
    assert "was not found" in parcours.err


def test_push_refuses_an_invalid_file_with_its_lines(parcours, tmp_path):
    path = write(tmp_path, "broken.json", BROKEN)
    assert parcours("push", path) == 1
    assert f"{path}:7: steps[1].duration:" in parcours.err


def test_simulate_prints_the_path_and_the_rendered_email(parcours, tmp_path):
    welcome = reference("welcome-series")
    welcome["id"] = "cli-welcome"
    assert parcours("push", write(tmp_path, "welcome.json", welcome)) == 0, parcours.err
    contact = write(tmp_path, "ana.json", {"email": "ana@example.com", "first_name": "Ana",
                                           "consent": {"email": {"granted": True}},
                                           "attributes": {"profile_completed": True}})
    timeline = write(tmp_path, "timeline.json", [{"type": "signup", "at": "+PT0S"}])
    assert parcours("simulate", "cli-welcome", "--contact", contact, "--timeline", timeline) == 0, parcours.err
    lines = parcours.out.splitlines()
    assert lines[0] == "cli-welcome: simulated journey completed"
    assert [line.split()[2] for line in lines[1:5]] == ["welcome", "wait-week", "profile-done", "discover"]
    assert "email to ana@example.com \"Bienvenue Ana !\" (step welcome)" in parcours.out
    assert "Bonjour Ana, merci de votre inscription." in parcours.out
    assert "2 message(s):" in parcours.out


def test_simulate_shows_a_timeline_problem_at_its_line_in_the_timeline_file(parcours, tmp_path):
    welcome = reference("welcome-series")
    welcome["id"] = "cli-welcome-2"
    assert parcours("push", write(tmp_path, "welcome.json", welcome)) == 0, parcours.err
    contact = write(tmp_path, "ana.json", {"email": "ana@example.com"})
    timeline = write(tmp_path, "timeline.json", [{"type": "signup", "at": "+PT0S"},
                                                 {"type": "purchase", "at": "yesterday-ish"}], indent=1)
    assert parcours("simulate", "cli-welcome-2", "--contact", contact, "--timeline", timeline) == 1
    [problem] = [line for line in parcours.err.splitlines() if "timeline[1].at" in line]
    assert problem.startswith(f"{timeline}:8: timeline[1].at: ")
    assert parcours("simulate", "cli-welcome-2") == 2
    assert "--contact" in parcours.err


def test_outbox_lists_what_the_local_stack_sent(parcours, tmp_path):
    assert parcours("push", write(tmp_path, "signup.json", one_email("cli-signup", trigger="cli_signup"))) == 0
    assert parcours("publish", "cli-signup") == 0
    import urllib.request

    request = urllib.request.Request(f"{parcours.base}/events", method="POST", headers={
        "Authorization": f"Bearer {parcours.key}", "Content-Type": "application/json"}, data=json.dumps(
        {"type": "cli_signup", "contact": {"email": "outbox@example.com"}, "traits": {"first_name": "Lou"},
         "consent": CONSENT}).encode())
    urllib.request.urlopen(request, timeout=30).close()

    def shown() -> str | None:
        assert parcours("outbox") == 0, parcours.err
        return parcours.out if "outbox@example.com" in parcours.out else None

    listing = eventually(shown, timeout=30)
    [row] = [line for line in listing.splitlines() if "outbox@example.com" in line]
    assert row.split()[2:4] == ["email", "outbox@example.com"] and row.endswith("Hello Lou")


def test_report_prints_the_funnel_or_says_why_not(parcours, tmp_path):
    assert parcours("push", write(tmp_path, "report.json", one_email("cli-report"))) == 0
    code = parcours("report", "cli-report")
    if code == 0:  # the report route exists (issue 12, point 1)
        assert parcours.out.startswith("cli-report, all versions, ")
        assert "entered 0" in parcours.out and any(line.startswith("mail ") for line in parcours.out.splitlines())
    else:
        assert code == 1 and parcours.err.startswith("parcours: ") and parcours.out == ""
    assert parcours("report", "no-such-scenario") == 1


def test_a_report_reads_as_totals_then_one_row_per_step():
    report = {"scenario": "welcome-series", "version": 2, "from": "2026-11-01", "to": "2026-11-30",
              "totals": {"entered": 10, "running": 2, "completed": 7, "converted": 1, "exited": 0, "failed": 0,
                         "sent": 8, "delivered": 8, "opened": 4, "clicked": 1, "unsubscribed": 0, "bounced": 0,
                         "complained": 0, "skipped": {"no_consent": 2},
                         "rates": {"delivered": 1.0, "opened": 0.5, "clicked": 0.125, "unsubscribed": 0,
                                   "bounced": 0, "complained": 0, "converted": 0.1}},
              "steps": [{"id": "welcome", "type": "email", "reached": 10, "waiting": 0, "completed": 10, "sent": 8,
                         "delivered": 8, "opened": 4, "clicked": 1},
                        {"id": "profile-done", "type": "if", "reached": 7, "waiting": 0, "completed": 7,
                         "branches": {"then": 3, "else": 4}}],
              "days": []}
    text = format_report(report)
    lines = text.splitlines()
    assert lines[0] == "welcome-series, version 2, 2026-11-01 to 2026-11-30"
    assert "opened 4 (50.0%)" in lines[2] and "clicked 1 (12.5%)" in lines[2]
    assert lines[3] == "  skipped: no_consent 2"
    assert lines[5].split() == ["step", "type", "reached", "waiting", "completed", "sent", "delivered", "opened",
                                "clicked", "branches"]
    assert lines[6].split() == ["welcome", "email", "10", "0", "10", "8", "8", "4", "1"]
    assert lines[7].split() == ["profile-done", "if", "7", "0", "7", "0", "0", "0", "0", "then", "3,", "else", "4"]


def test_keys_and_connections_give_their_exit_codes(parcours, tmp_path, monkeypatch):
    assert parcours("list", key="not-a-key") == 1
    assert "not valid" in parcours.err
    monkeypatch.delenv("PARCOURS_KEY", raising=False)
    err = io.StringIO()
    assert main(["--url", parcours.base, "list"], io.StringIO(), err) == 2
    assert "PARCOURS_KEY" in err.getvalue()
    monkeypatch.setenv("PARCOURS_URL", parcours.base)
    monkeypatch.setenv("PARCOURS_KEY", parcours.key)
    out = io.StringIO()
    assert main(["list"], out, io.StringIO()) == 0 and out.getvalue().startswith("id ")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    err = io.StringIO()
    assert main(["--url", f"http://127.0.0.1:{closed}", "list"], io.StringIO(), err) == 3
    assert "cannot reach" in err.getvalue()
    assert parcours("validate", str(tmp_path / "absent.json")) == 2
    assert parcours("no-such-command") == 2


def test_the_installed_command_is_the_cli_and_runs_as_a_program(parcours, tmp_path):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"parcours": "cli.main:main"}
    path = write(tmp_path, "broken.json", BROKEN)
    env = {**os.environ, "PARCOURS_URL": parcours.base, "PARCOURS_KEY": parcours.key}
    done = subprocess.run([sys.executable, "-m", "cli", "validate", path], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert f"{path}:7: steps[1].duration:" in done.stderr
