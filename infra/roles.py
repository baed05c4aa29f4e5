"""What each Lambda function of the app may do on AWS: one IAM role per function, least privilege.

infra/generate.py renders the roles of infra/template.yaml from this table (`python -m infra.generate`),
and infra/stage.py hands each function its role through .chalice/config.json. A function gets a
capability only when a code path it runs calls that API (read from app.py's handlers down):

    tables          the app's DynamoDB tables and their indexes (every function: PynamoDB)
    queue-send      SendMessage to the automation queue (anything that stores an event)
    queue-consume   the SQS event source of the automation consumer
    publish         create and update scenario state machines, versions, the `live` alias; PassRole
    start           StartExecution (a journey enters)
    stop            StopExecution and DescribeExecution (goals, archive, erasure)
    resume          SendTaskSuccess (an awaited event arrived)
    email           SES v2 SendEmail with the sender identity and the configuration set
    sms             SNS Publish to a phone number, and the account's SMS opt-out list
    imports         the CSV imports bucket (presigned PUT, read, delete)
    workers         start `audience_worker` Lambdas asynchronously (background jobs fan out)
    feedback-failed send to the feedback dead-letter queue (the on-failure destination of an
                    asynchronously invoked function: Lambda sends with the function's role)
    campaign-send   SendMessage to the campaign-sends queue (selection parts, the sender's postponements)
    campaign-consume the SQS event source of the campaign sender
"""
from __future__ import annotations

CAPABILITIES = ("tables", "queue-send", "queue-consume", "publish", "start", "stop", "resume", "email", "sms",
                "imports", "workers", "feedback-failed", "campaign-send", "campaign-consume")

FUNCTIONS: dict[str, tuple[str, ...]] = {
    # routes: ingestion, publish/archive, GDPR erasure, imports (no sending: the queue consumer
    # sends double opt-in confirmations, the step runner the scenarios' messages)
    # (a campaign scheduled "now" starts its selection job and a worker for it)
    "api_handler": ("tables", "queue-send", "publish", "stop", "imports", "workers"),
    # every Task of a scenario: sends, list and field changes, delete_contact (erasure stops journeys)
    "step_runner": ("tables", "queue-send", "stop", "email", "sms"),
    # stored events: triggers start journeys, goals stop them, awaited events resume them;
    # consent granted through the ingest key gets its double opt-in confirmation (email or SMS)
    "automation": ("tables", "queue-send", "queue-consume", "start", "stop", "resume", "email", "sms"),
    "ses_events": ("tables", "queue-send", "feedback-failed"),
    "sms_inbound": ("tables", "queue-send", "feedback-failed"),
    "date_triggers": ("tables", "queue-send", "start"),
    # background jobs: segment builds, imports from the bucket, rescoring
    # (campaign selections queue their recipients' batches)
    "audience_jobs": ("tables", "queue-send", "imports", "workers", "campaign-send"),
    "audience_worker": ("tables", "queue-send", "imports", "campaign-send"),
    "segment_refresh": ("tables", "queue-send"),
    "audience_daily": ("tables", "queue-send"),
    # outbound webhook deliveries due for a retry (HTTPS to subscribers: no AWS call but its tables)
    "webhook_deliveries": ("tables", "queue-send"),
    # campaigns: the sender of the queued batches; the minute schedule that starts campaigns and
    # their A/B winners' sends (selection jobs)
    "campaign_sender": ("tables", "queue-send", "campaign-send", "campaign-consume", "email", "sms"),
    "campaign_tick": ("tables", "queue-send", "workers"),
}


def logical_id(function: str) -> str:
    """The role's logical id in the template: api_handler -> ApiHandlerRole."""
    return "".join(part.capitalize() for part in function.split("_")) + "Role"


def function_name(function: str) -> str:
    """The function's name on AWS, as Chalice gives it (the API handler is named after the app)."""
    return "parcours-${Stage}" if function == "api_handler" else f"parcours-${{Stage}}-{function}"
