"""Logs, metrics and traces (Powertools): one structured line per thing that happened.

Every line carries the correlation keys known at that point (request id, contact id,
scenario, version, execution, step) and never a contact's personal data: no address, no
number, no message body. Metrics go out as CloudWatch embedded metric format (EMF) lines in
the same log, in the namespace Parcours with the dimension
`service` (POWERTOOLS_SERVICE_NAME, parcours-STAGE on AWS); the alarms and the dashboard of
infra/template.yaml read them. Powertools reads its own settings from the environment.
"""
from __future__ import annotations

import threading
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from chalicelib.config import settings

logger = Logger()
metrics = Metrics(namespace="Parcours")
_tracer: list[Any] = []

CORRELATION_KEYS = ("request_id", "contact_id", "scenario", "version", "execution", "step")
JOURNEY_METRICS = {"entered": "JourneysEntered", "completed": "JourneysCompleted",
                   "converted": "JourneysConverted", "exited": "JourneysExited", "failed": "JourneysFailed",
                   "stopped": "JourneysStopped"}


# Keys are kept per thread: Lambda runs one invocation at a time, the local stack runs several
# functions in one process, each in its own thread.


def begin(request_id: str | None) -> None:
    """A new invocation: forget the previous one's keys, remember this one's request id."""
    logger.thread_safe_clear_keys()
    correlate(request_id=request_id)
    if settings().tracing and not _tracer:
        _tracer.append(_start_tracing())


def _start_tracing() -> Any:
    """X-Ray (the stage deploys with TRACING=1): AWS calls become subsegments of the function's
    trace. Imported only then: the X-Ray SDK costs half a second of cold start."""
    from aws_lambda_powertools import Tracer

    return Tracer(patch_modules=["botocore"])


def correlate(**keys: Any) -> None:
    """Add correlation keys (contact_id, scenario, version, execution, step) to the lines that follow."""
    logger.thread_safe_append_keys(**{key: value for key, value in keys.items()
                                      if key in CORRELATION_KEYS and value is not None})


def middleware(event: Any, get_response: Any) -> Any:
    """Chalice middleware of every handler: each invocation's lines carry its request id, and
    its metrics go out when it ends, whatever happened."""
    context = getattr(event, "context", None) or getattr(event, "lambda_context", None)
    begin(getattr(context, "aws_request_id", None))
    try:
        return get_response(event)
    finally:
        flush()


_flushing = threading.Lock()


def flush() -> None:
    """Write the invocation's metrics (one EMF line), if it counted any. Never raises: a metric
    must not fail a journey. (Powertools keeps one metric set per process; the local stack runs
    many functions in one, so two flushes must not race for it.)"""
    with _flushing:
        if not metrics.metric_set:
            return
        try:
            metrics.flush_metrics()
        except Exception:
            logger.warning("metrics not written", exc_info=True)


def count(name: str, value: int = 1) -> None:
    if value:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def _count_by(name: str, dimension: str, value: str) -> None:
    """A count, and the same count with one more dimension of few values (a reason, a service):
    CloudWatch keeps each set of dimensions as its own series, the total and the breakdown."""
    count(name)
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=metrics.namespace,
                       default_dimensions=metrics.default_dimensions) as metric:
        metric.add_dimension(name=dimension, value=value)


def ingested(accepted: int, duplicates: int) -> None:
    count("EventsIngested", accepted)
    count("Duplicates", duplicates)


def sent(channel: str, message_id: str) -> None:
    logger.info(f"{channel} sent", extra={"channel": channel, "message_id": message_id})
    count("EmailsSent" if channel == "email" else "SmsSent")


def skipped(channel: str, message_id: str, reason: str) -> None:
    logger.info("send skipped", extra={"channel": channel, "message_id": message_id, "reason": reason})
    _count_by("SendsSkipped", "reason", reason.split(":")[0])


def journey(status: str, **keys: Any) -> None:
    """A journey entered, or ended with `status` (completed, converted, exited, failed, stopped)."""
    correlate(**keys)
    logger.info("journey entered" if status == "entered" else "journey ended", extra={"status": status})
    count(JOURNEY_METRICS[status])


def step_failed(error: str | None) -> None:
    logger.error("step failed", extra={"error": error})
    count("StepFailures")


def throttled(service: str) -> None:
    logger.warning("throttled by AWS", extra={"aws_service": service})
    _count_by("Throttles", "aws_service", service)
