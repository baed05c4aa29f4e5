"""List prices the bench turns usage into dollars with (us-east-1, on-demand, no free tier).

Each line names its source page. eu-west-3 (Paris, the app's default region) is dearer on a
few lines; `REGION_NOTES` says which. Prices change: check the pages before quoting a figure.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

REGION = "us-east-1"


@dataclass(frozen=True)
class Price:
    key: str
    dollars: float  # per one `unit`
    unit: str
    per: float  # how many units the quoted price is for (quoted = dollars * per)
    source: str
    note: str = ""

    @property
    def quoted(self) -> str:
        amount = self.dollars * self.per
        per = {1: "", 1_000: " per 1,000", 1_000_000: " per million"}.get(int(self.per), f" per {self.per:g}")
        return f"${amount:.10g}{per} {self.unit}s" if per else f"${amount:.10g} per {self.unit}"


PRICES: dict[str, Price] = {price.key: price for price in (
    Price("sfn_transition", 0.025 / 1_000, "state transition", 1_000,
          "https://aws.amazon.com/step-functions/pricing/", "Standard workflows; retries count"),
    Price("lambda_request", 0.20 / 1_000_000, "request", 1_000_000, "https://aws.amazon.com/lambda/pricing/"),
    Price("lambda_gb_second", 0.0000166667, "GB-second", 1, "https://aws.amazon.com/lambda/pricing/",
          "x86_64; billed per 1 ms of duration at the configured memory"),
    Price("dynamodb_wru", 0.625 / 1_000_000, "write request unit", 1_000_000,
          "https://aws.amazon.com/dynamodb/pricing/on-demand/",
          "on-demand, Standard table class; halved on 2024-11-01 (was $1.25)"),
    Price("dynamodb_rru", 0.125 / 1_000_000, "read request unit", 1_000_000,
          "https://aws.amazon.com/dynamodb/pricing/on-demand/", "was $0.25 before 2024-11-01"),
    Price("dynamodb_storage_gb_month", 0.25, "GB-month", 1, "https://aws.amazon.com/dynamodb/pricing/on-demand/",
          "first 25 GB free; plus point-in-time recovery below"),
    Price("dynamodb_pitr_gb_month", 0.20, "GB-month", 1, "https://aws.amazon.com/dynamodb/pricing/on-demand/",
          "continuous backups, on the table size"),
    Price("ses_email", 0.10 / 1_000, "email", 1_000, "https://aws.amazon.com/ses/pricing/",
          "outbound, per recipient; attachments $0.12/GB extra"),
    Price("sqs_request", 0.40 / 1_000_000, "request", 1_000_000, "https://aws.amazon.com/sqs/pricing/",
          "standard queue; each 64 KB chunk of a payload is a request"),
    Price("sns_publish", 0.50 / 1_000_000, "publish request", 1_000_000, "https://aws.amazon.com/sns/pricing/",
          "standard topics; deliveries to Lambda are free"),
    Price("apigw_request", 3.50 / 1_000_000, "REST API request", 1_000_000,
          "https://aws.amazon.com/api-gateway/pricing/", "REST APIs (what Chalice deploys), first 333 million"),
)}

REGION_NOTES = (
    "eu-west-3 (Paris): Step Functions $0.0297 per 1,000 transitions (+19%); other lines differ by a few percent.",
    "SMS are not priced: the per-message rate depends on the destination country "
    "(https://aws.amazon.com/end-user-messaging/pricing/); the reference scenarios send none.",
    "Not counted: CloudWatch Logs ingestion ($0.50/GB), data transfer out, KMS, free tiers.",
)

# Lambda duration is modelled, not measured: on the local stack AWS calls are in-process.
# Billed ms of an invocation = the handler's own CPU (measured here, excluding the time spent
# inside botocore, stretched by FULL_VCPU_MB / memory because Lambda gives a function CPU in
# proportion to its memory, one vCPU at 1,769 MB) + these typical in-region latencies per AWS
# call (assumptions, warm functions, p50).
FULL_VCPU_MB = 1769
LATENCY_MS = {
    "dynamodb": 6.0, "dynamodb.Query": 8.0, "dynamodb.Scan": 10.0, "dynamodb.TransactWriteItems": 12.0,
    "dynamodb.TransactGetItems": 10.0, "dynamodb.BatchGetItem": 8.0, "dynamodb.BatchWriteItem": 10.0,
    "stepfunctions": 25.0, "sqs": 12.0, "sesv2": 60.0, "sns": 40.0, "s3": 25.0,
}
DEFAULT_LATENCY_MS = 20.0


def latency_ms(service: str, operation: str) -> float:
    return LATENCY_MS.get(f"{service}.{operation}", LATENCY_MS.get(service, DEFAULT_LATENCY_MS))


def lambda_billed_ms(cpu_ms: float, calls: list[tuple[str, str]], memory_mb: int = FULL_VCPU_MB) -> int:
    stretched = cpu_ms * max(1.0, FULL_VCPU_MB / memory_mb)
    return max(1, math.ceil(stretched + sum(latency_ms(service, op) for service, op in calls)))


def dollars(usage: dict[str, float]) -> dict[str, float]:
    """Dollars per billed line of a usage dict (the meter's keys); "total" sums them.

    Storage is left out of the total (it is a monthly cost, not a per-request one)."""
    lines = {
        "step_functions": usage.get("sfn.transitions", 0) * PRICES["sfn_transition"].dollars,
        "lambda_requests": usage.get("lambda.invocations", 0) * PRICES["lambda_request"].dollars,
        "lambda_duration": usage.get("lambda.gb_seconds", 0) * PRICES["lambda_gb_second"].dollars,
        "dynamodb_writes": usage.get("dynamodb.wru", 0) * PRICES["dynamodb_wru"].dollars,
        "dynamodb_reads": usage.get("dynamodb.rru", 0) * PRICES["dynamodb_rru"].dollars,
        "ses": usage.get("ses.emails", 0) * PRICES["ses_email"].dollars,
        "sqs": usage.get("sqs.requests", 0) * PRICES["sqs_request"].dollars,
        "sns": usage.get("sns.publishes", 0) * PRICES["sns_publish"].dollars,
        "api_gateway": usage.get("apigw.requests", 0) * PRICES["apigw_request"].dollars,
    }
    lines["total"] = sum(lines.values())
    return lines


def storage_dollars_per_month(stored_bytes: float) -> float:
    """What keeping `stored_bytes` costs a month (table storage plus point-in-time recovery)."""
    per_gb = PRICES["dynamodb_storage_gb_month"].dollars + PRICES["dynamodb_pitr_gb_month"].dollars
    return max(stored_bytes, 0) / 1024 ** 3 * per_gb
