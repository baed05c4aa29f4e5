"""Parcours: the switchboard. Routes, event sources and schedules, each wired to one service."""
from __future__ import annotations

import json

from chalice import Chalice, Cron

from chalicelib.api import contacts, events, health, keys, scenarios
from chalicelib.scenarios import automation as automation_service
from chalicelib.scenarios import dates, runner

app = Chalice(app_name="parcours")

for blueprint in (health, events, contacts, keys, scenarios):
    app.register_blueprint(blueprint.bp)


@app.lambda_function(name="step_runner")
def step_runner(event, context):  # noqa: ANN001, ANN201
    """Every Task of every compiled scenario calls this function."""
    return runner.run(event)


@app.on_sqs_message(queue="parcours-automation", batch_size=10)
def automation(event):  # noqa: ANN001, ANN201
    """Stored events: goals, waits and triggers (a failed batch comes back from SQS, idempotently)."""
    for record in event:
        automation_service.handle(json.loads(record.body))


@app.schedule(Cron(5, 0, "*", "*", "?", "*"))
def date_triggers(event):  # noqa: ANN001, ANN201
    """Daily: enroll the contacts whose birthday (or other date trigger) is coming."""
    return dates.enroll_due()
