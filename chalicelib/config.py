"""Settings, read once from the environment.

The same code runs on AWS and on the local stack; only these values differ. Nothing else in
the code base reads os.environ.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

LOCAL_HOST = "127.0.0.1"  # where make run serves


@dataclass(frozen=True)
class Settings:
    region: str
    table_prefix: str
    unique_key: str  # email | phone | external_id
    event_ttl_days: int  # 0 keeps events forever
    future_tolerance_seconds: int
    max_body_bytes: int
    max_batch: int
    time_scale: float  # local stack only: 86400 makes a day last a second
    admin_key: str | None  # local stack only: the bootstrap admin key
    local: bool
    port: int  # local stack only: where `make run` serves the API
    step_runner_arn: str
    state_machine_role_arn: str
    state_machine_log_group_arn: str  # where published state machines log their errors; empty: no logging
    automation_queue_url: str
    email_from: str
    ses_configuration_set: str
    public_base_url: str
    token_secret: str  # signs tracking and unsubscribe tokens
    token_secrets_previous: tuple[str, ...]  # still verify tokens signed before a rotation
    webhook_secret: str  # master key of the per-endpoint webhook signing secrets
    default_timezone: str
    max_per_day: int  # marketing messages per contact per rolling day; 0: no cap
    max_per_week: int
    soft_bounce_limit: int  # soft bounces in a row that make an address undeliverable
    imports_bucket: str  # where large CSV files are uploaded (the stack's imports bucket)
    ingest_workers: int  # contacts of one batch stored concurrently
    ingest_overwrites: bool  # the public ingest key's traits may overwrite filled fields
    confirm_template: str  # template of the double opt-in email; empty: the built-in one
    email_rate: int  # emails per second the SES account may send (its quota); 0: not paced
    sms_rate: int  # SMS per second the account may send through SNS; 0: not paced
    job_part_items: int  # items a part of a background job's scan aims at (its parts follow the base size)
    job_budget_seconds: float  # how long one worker run claims parts (a scheduled Lambda, a local round)
    job_threads: int  # parts one worker runs at once, in threads
    job_max_workers: int  # workers at once: Lambda invocations on AWS, local worker threads
    job_lease_seconds: float  # a stopped worker's part is taken over this long after its last checkpoint
    job_worker_function: str  # the Lambda that runs extra workers (fan-out); empty: no fan-out
    tracing: bool  # X-Ray through Powertools' Tracer (a stage deployed with TRACING=1)
    routing_cache_seconds: float  # how long a function trusts its copy of what reads each event type
    campaign_queue_url: str  # the SQS queue of campaign send batches
    campaign_threads: int  # sends of one campaign batch made at once, in threads

    def table(self, name: str) -> str:
        return f"{self.table_prefix}{name}"

    @property
    def token_secrets(self) -> tuple[str, ...]:
        """The secrets a tracking token may be signed with: the current one first."""
        return tuple(secret for secret in (self.token_secret, *self.token_secrets_previous) if secret)


@lru_cache(maxsize=1)
def settings() -> Settings:
    env = os.environ
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "eu-west-3"
    unique_key = env.get("PARCOURS_UNIQUE_KEY", "email")
    if unique_key not in ("email", "phone", "external_id"):
        raise RuntimeError("PARCOURS_UNIQUE_KEY must be email, phone or external_id")
    port = int(env.get("PORT", "8000"))
    token_secret = _secret(env.get("PARCOURS_TOKEN_SECRET_PARAMETER", ""), env.get("PARCOURS_TOKEN_SECRET", ""))
    webhook_secret = _secret(env.get("PARCOURS_WEBHOOK_SECRET_PARAMETER", ""), env.get("PARCOURS_WEBHOOK_SECRET", ""))
    if webhook_secret and webhook_secret == token_secret:
        # a webhook receiver must never hold a key that signs tracking tokens
        raise RuntimeError("PARCOURS_WEBHOOK_SECRET must differ from PARCOURS_TOKEN_SECRET")
    return Settings(
        region=region,
        table_prefix=env.get("PARCOURS_TABLE_PREFIX", "parcours-"),
        unique_key=unique_key,
        event_ttl_days=int(env.get("PARCOURS_EVENT_TTL_DAYS", "730")),
        future_tolerance_seconds=int(env.get("PARCOURS_FUTURE_TOLERANCE_SECONDS", "300")),
        max_body_bytes=int(env.get("PARCOURS_MAX_BODY_BYTES", str(1024 * 1024))),
        max_batch=500,
        time_scale=float(env.get("PARCOURS_TIME_SCALE", "1")),
        admin_key=env.get("PARCOURS_ADMIN_KEY") or None,
        local=env.get("PARCOURS_LOCAL", "") == "1",
        port=port,
        step_runner_arn=env.get("PARCOURS_STEP_RUNNER_ARN", ""),
        state_machine_role_arn=env.get("PARCOURS_STATE_MACHINE_ROLE_ARN", ""),
        state_machine_log_group_arn=env.get("PARCOURS_STATE_MACHINE_LOG_GROUP_ARN", ""),
        automation_queue_url=env.get("PARCOURS_AUTOMATION_QUEUE_URL", ""),
        email_from=env.get("PARCOURS_EMAIL_FROM", "Parcours <hello@example.com>"),
        ses_configuration_set=env.get("PARCOURS_SES_CONFIGURATION_SET", "parcours"),
        # links in emails point at the API as served: on a laptop, the port make run listens on
        public_base_url=env.get("PARCOURS_PUBLIC_BASE_URL", f"http://{LOCAL_HOST}:{port}").rstrip("/"),
        token_secret=token_secret,
        token_secrets_previous=tuple(secret.strip() for secret in
                                     env.get("PARCOURS_TOKEN_SECRETS_PREVIOUS", "").split(",") if secret.strip()),
        webhook_secret=webhook_secret,
        default_timezone=env.get("PARCOURS_DEFAULT_TIMEZONE", "Europe/Paris"),
        max_per_day=int(env.get("PARCOURS_MAX_PER_DAY", "0")),
        max_per_week=int(env.get("PARCOURS_MAX_PER_WEEK", "0")),
        soft_bounce_limit=int(env.get("PARCOURS_SOFT_BOUNCE_LIMIT", "3")),
        imports_bucket=env.get("PARCOURS_IMPORTS_BUCKET", ""),
        ingest_workers=max(1, int(env.get("PARCOURS_INGEST_WORKERS", "8"))),
        ingest_overwrites=env.get("PARCOURS_INGEST_OVERWRITES", "") == "1",
        confirm_template=env.get("PARCOURS_CONFIRM_TEMPLATE", ""),
        email_rate=max(0, int(env.get("PARCOURS_EMAIL_RATE", "14"))),
        sms_rate=max(0, int(env.get("PARCOURS_SMS_RATE", "20"))),
        job_part_items=max(1, int(env.get("PARCOURS_JOB_PART_ITEMS", "5000"))),
        job_budget_seconds=float(env.get("PARCOURS_JOB_BUDGET_SECONDS", "45")),
        job_threads=max(1, int(env.get("PARCOURS_JOB_THREADS", "8"))),
        job_max_workers=max(1, int(env.get("PARCOURS_JOB_MAX_WORKERS", "4"))),
        job_lease_seconds=float(env.get("PARCOURS_JOB_LEASE_SECONDS", "120")),
        job_worker_function=env.get("PARCOURS_JOB_WORKER_FUNCTION", ""),
        tracing=env.get("PARCOURS_TRACING", "") == "1",
        routing_cache_seconds=max(0.0, float(env.get("PARCOURS_ROUTING_CACHE_SECONDS", "5"))),
        campaign_queue_url=env.get("PARCOURS_CAMPAIGN_QUEUE_URL", ""),
        campaign_threads=max(1, int(env.get("PARCOURS_CAMPAIGN_THREADS", "8"))),
    )


def _secret(parameter: str, value: str) -> str:
    """A secret: on AWS read from the SSM SecureString named `parameter`, so that it never sits in
    the functions' environment; else `value` as given (the local stack, tests)."""
    if not parameter:
        return value
    from aws_lambda_powertools.utilities import parameters

    return str(parameters.get_parameter(parameter, decrypt=True))


def reload() -> Settings:
    """Forget the cached settings (the local stack sets its own before the app starts)."""
    settings.cache_clear()
    return settings()
