"""Parcours: the switchboard. Routes, event sources and schedules, each wired to one service."""
from __future__ import annotations

from chalice import Chalice, Cron, Rate

from chalicelib import logs
from chalicelib.activity import service as activity
from chalicelib.api import campaigns as campaigns_api
from chalicelib.api import console, contacts, events, health, keys, routing, scenarios
from chalicelib.api import gdpr as gdpr_api
from chalicelib.api import imports as imports_api
from chalicelib.api import lists as lists_api
from chalicelib.api import local_feedback as local_feedback_api
from chalicelib.api import openapi as openapi_api
from chalicelib.api import optin as optin_api
from chalicelib.api import outbox as outbox_api
from chalicelib.api import reports as reports_api
from chalicelib.api import schemas as schemas_api
from chalicelib.api import segments as segments_api
from chalicelib.api import settings as settings_api
from chalicelib.api import templates as templates_api
from chalicelib.api import tracking as tracking_api
from chalicelib.api import webhooks as webhooks_api
from chalicelib.audience import jobs, workers
from chalicelib.audience import kinds as job_kinds
from chalicelib.campaigns import sender as campaign_sends
from chalicelib.campaigns import service as campaigns
from chalicelib.channels import feedback, outbound
from chalicelib.scenarios import automation as automation_service
from chalicelib.scenarios import dates, runner
from chalicelib.scoring import service as scoring
from chalicelib.segments import refresh

app = Chalice(app_name="parcours")
job_kinds.register_all()

for blueprint in (health, events, contacts, keys, scenarios):
    app.register_blueprint(blueprint.bp)
for blueprint in (lists_api, segments_api, settings_api, imports_api, gdpr_api):  # audience
    app.register_blueprint(blueprint.bp)
for blueprint in (templates_api, tracking_api, optin_api, outbox_api, local_feedback_api):  # channels
    app.register_blueprint(blueprint.bp)
app.register_blueprint(schemas_api.bp)
app.register_blueprint(reports_api.bp)
app.register_blueprint(webhooks_api.bp)
app.register_blueprint(campaigns_api.bp)
app.register_blueprint(openapi_api.bp)
app.register_blueprint(console.bp)  # the web console's page and files
app.register_middleware(routing.errors_in_our_format, "http")
app.register_middleware(logs.middleware, "all")
# CSV imports arrive byte for byte (Latin-1 files included)
app.api.binary_types.extend(kind for kind in imports_api.CSV_TYPES if kind not in app.api.binary_types)


@app.lambda_function(name="step_runner")
def step_runner(event, context):
    """Every Task of every compiled scenario calls this function."""
    return runner.run(event)


# At most 10 consumers at once, 10 events each: journeys start well under Step Functions'
# StartExecution refill rate (150 to 300 per second by region), whatever the burst.
@app.on_sqs_message(queue="parcours-automation", batch_size=10, maximum_concurrency=10)
def automation(event):
    """Stored events: goals, waits and triggers. Only the records that failed come back from SQS
    (ReportBatchItemFailures, set in infra), and their handling is idempotent."""
    failed = automation_service.consume(record.to_dict() for record in event)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


# Batches of 50 recipients; sends are paced to the account's rate (channels.pace), so more
# consumers only wait: 10 at once cover SES rates to about 1,000 emails a second.
@app.on_sqs_message(queue="parcours-campaign-sends", batch_size=1, maximum_concurrency=10)
def campaign_sender(event):
    """Campaign send batches: claim, gate, pace, render, send, record. Only the failed records
    come back from SQS (ReportBatchItemFailures); a throttled batch is put back with a delay."""
    failed = campaign_sends.consume(record.to_dict() for record in event)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


@app.schedule(Rate(1, unit=Rate.MINUTES))
def campaign_tick(event):
    """Every minute: start the campaigns whose time came; pick the A/B winners whose delay is over."""
    return campaigns.tick()


@app.on_sns_message(topic="parcours-ses-events")
def ses_events(event):
    """SES event publishing (bounce, complaint, delivery, open, click) through SNS."""
    return feedback.handle_ses(event.message)


@app.on_sns_message(topic="parcours-sms-inbound")
def sms_inbound(event):
    """Replies to our SMS (SNS two-way SMS): STOP opts out."""
    return feedback.handle_sms_inbound(event.message)


@app.schedule(Cron(5, 0, "*", "*", "?", "*"))
def date_triggers(event):
    """Daily: enroll the contacts whose birthday (or other date trigger) is coming."""
    return dates.enroll_due()


@app.schedule(Rate(1, unit=Rate.MINUTES))
def audience_jobs(event):
    """Every minute: background jobs (segment builds, activity ranks, rescoring, uploaded imports);
    starts `audience_worker`s when more parts wait than it runs."""
    worked = jobs.work(fan_out=workers.start)
    return {"parts": worked.parts, "workers": worked.workers}


@app.lambda_function(name="audience_worker")
def audience_worker(event, context):
    """A worker the schedule started: runs waiting parts of background jobs, starting no other."""
    return {"parts": jobs.work().parts}


@app.schedule(Rate(1, unit=Rate.MINUTES))
def webhook_deliveries(event):
    """Every minute: retry the outbound webhook deliveries that are due (exponential backoff)."""
    return outbound.deliver_due(budget_seconds=45)


@app.schedule(Rate(1, unit=Rate.HOURS))
def segment_refresh(event):
    """Hourly: re-evaluate the contacts whose time-relative segment membership falls due."""
    return refresh.run_due(budget_seconds=45)


@app.schedule(Cron(30, 1, "*", "*", "?", "*"))
def audience_daily(event):
    """Daily: the activity rank when due (7 days after install, then every 30 days); score decay."""
    ranked = activity.tick()
    decay = scoring.start_decay()
    return {"activity_job": ranked.id if ranked else None, "decay_job": decay.id}
