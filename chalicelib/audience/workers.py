"""More workers for background jobs on AWS: asynchronous invocations of the `audience_worker`
function, which runs `jobs.work()` like the schedule does.

Starting a worker is idempotent in effect: workers claim parts by lease, so one that finds
nothing left ends at once. A failed start (Lambda's concurrency throttle, say) is not retried
here: the parts wait for the next minute's schedule.
"""
from __future__ import annotations

import boto3

from chalicelib.config import settings
from chalicelib.logs import logger


def start(count: int) -> int:
    """Start up to `count` workers; how many were started (none without PARCOURS_JOB_WORKER_FUNCTION)."""
    function = settings().job_worker_function
    if not function or count <= 0:
        return 0
    client = boto3.client("lambda", region_name=settings().region)
    started = 0
    for _ in range(count):
        try:
            client.invoke(FunctionName=function, InvocationType="Event", Payload=b"{}")
        except Exception as error:
            logger.warning("could not start a job worker", extra={"error": f"{type(error).__name__}: {error}"})
            break
        started += 1
    return started
