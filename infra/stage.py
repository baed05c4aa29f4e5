"""Run the Chalice CLI on one stage of the app, with that stage's names and filled-in config.

app.py names its queue and topics as the local stack knows them (`parcours-automation`, ...); on
AWS every stage has its own (`parcours-dev-automation`), so dev and prod share an account and a
region. Chalice reads event-source names from the app object at deploy time only: the CLI runs
here in-process on the app with the stage's names, and with .chalice/config.json filled in for
the stage (the committed file, with its placeholders, is put back afterwards, whatever happens).
"""
from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".chalice" / "config.json"
LOCAL_PREFIX = "parcours-"


def stage_name(local_name: str, stage: str) -> str:
    """The name a queue or topic of app.py has on a stage: parcours-automation -> parcours-dev-automation."""
    if not local_name.startswith(LOCAL_PREFIX):
        raise ValueError(f"{local_name!r}: app.py's queue and topic names start with {LOCAL_PREFIX!r}")
    return f"{LOCAL_PREFIX}{stage}-{local_name[len(LOCAL_PREFIX):]}"


def staged_app(stage: str):
    """app.py's Chalice app with the stage's queue and topic names."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from chalice.app import SNSEventConfig, SQSEventConfig

    import app as app_module

    for source in app_module.app.event_sources:
        if isinstance(source, SQSEventConfig) and source.queue and not source.queue.startswith(f"parcours-{stage}-"):
            source.queue = stage_name(source.queue, stage)
        if isinstance(source, SNSEventConfig) and not source.topic.startswith(("arn:", f"parcours-{stage}-")):
            source.topic = stage_name(source.topic, stage)
    return app_module.app


@contextmanager
def filled_config(config: dict) -> Iterator[None]:
    original = CONFIG.read_text()
    # a stopped deploy (Ctrl-C, kill) must not leave account values in the committed file
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        CONFIG.write_text(json.dumps(config, indent=2) + "\n")
        yield
    finally:
        CONFIG.write_text(original)
        signal.signal(signal.SIGTERM, previous)


def chalice(arguments: list[str], stage: str, config: dict) -> None:
    """`chalice ARGUMENTS` on the stage (deploy, package, delete); SystemExit when it fails."""
    from chalice import cli

    staged_app(stage)  # imported and renamed before the CLI imports it: the CLI gets this very module
    with filled_config(config):
        code = cli.cli.main(args=["--project-dir", str(ROOT), *arguments], prog_name="chalice", obj={},
                            standalone_mode=False)
    if code not in (None, 0):
        raise SystemExit(f"chalice {' '.join(arguments)} failed ({code})")
