"""Step Functions: one Standard state machine per scenario, a version per publish, alias `live`.

Contacts already inside run on the version they entered with; new entries start on the
alias, which each publish moves to the new version.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

import boto3
from botocore.exceptions import ClientError

from chalicelib import faults, logs
from chalicelib.config import settings
from chalicelib.faults import THROTTLING, Throttled
from chalicelib.logs import logger
from chalicelib.scenarios.compiler import compile_scenario

ALIAS = "live"


@lru_cache(maxsize=1)
def _sfn():
    return boto3.client("stepfunctions", region_name=settings().region)


@dataclass(frozen=True)
class Deployed:
    state_machine_arn: str
    version_arn: str
    alias_arn: str
    timeouts: dict[str, int]


def compiled_asl(definition: dict) -> dict:
    """The ASL as deployed here."""
    return compile_scenario(definition, step_runner_arn=settings().step_runner_arn).asl


def state_machine_name(scenario_id: str) -> str:
    """The table prefix carries the stage (parcours-dev-): each stage's machines are its own."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"{settings().table_prefix}{scenario_id}")[:80]


def logging_configuration() -> dict:
    """Errors only, without execution data (it holds contacts' ids and event properties)."""
    if not settings().state_machine_log_group_arn:
        return {"level": "OFF"}
    return {"level": "ERROR", "includeExecutionData": False,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": settings().state_machine_log_group_arn}}]}


def publish(definition: dict, *, state_machine_arn: str | None, alias_arn: str | None,
            version: int) -> Deployed:
    compiled = compile_scenario(definition, step_runner_arn=settings().step_runner_arn)
    asl = json.dumps(compiled.asl)
    description = f"scenario version {version}"
    if state_machine_arn is None:
        created = _sfn().create_state_machine(
            name=state_machine_name(definition["id"]), definition=asl, type="STANDARD",
            roleArn=settings().state_machine_role_arn, publish=True, versionDescription=description,
            loggingConfiguration=logging_configuration())
        state_machine_arn, version_arn = created["stateMachineArn"], created["stateMachineVersionArn"]
    else:
        updated = _sfn().update_state_machine(stateMachineArn=state_machine_arn, definition=asl, publish=True,
                                              versionDescription=description,
                                              loggingConfiguration=logging_configuration())
        version_arn = updated["stateMachineVersionArn"]
    routing = [{"stateMachineVersionArn": version_arn, "weight": 100}]
    if alias_arn is None:
        alias_arn = _sfn().create_state_machine_alias(name=ALIAS, routingConfiguration=routing)["stateMachineAliasArn"]
    else:
        _sfn().update_state_machine_alias(stateMachineAliasArn=alias_arn, routingConfiguration=routing)
    return Deployed(state_machine_arn, version_arn, alias_arn, compiled.timeouts)


def start(alias_arn: str, name: str, payload: dict) -> str | None:
    """Start an execution; None when one of that name exists already (a duplicate trigger).
    Raises Throttled when Step Functions refuses for now (its StartExecution token bucket)."""
    try:
        return _sfn().start_execution(stateMachineArn=alias_arn, name=name, input=json.dumps(payload))["executionArn"]
    except _sfn().exceptions.ExecutionAlreadyExists:
        return None
    except Exception as error:
        if faults.is_transient(error):
            raise Throttled(f"{type(error).__name__}: {error}") from error
        raise


def stop(execution_arn: str, cause: str) -> bool:
    """Stop an execution whose journey has ended (a goal met, a contact erased); False when it
    could not be stopped now. The journey's record is final already, so an execution that goes on
    ends itself at its next Task (the step runner finds the journey over): a stop is a saving of
    state transitions, never what makes the journey end."""
    try:
        _sfn().stop_execution(executionArn=execution_arn, cause=cause)
    except (_sfn().exceptions.ExecutionDoesNotExist, _sfn().exceptions.InvalidArn):
        pass
    except Exception:
        logger.warning("execution not stopped; its next step ends it", exc_info=True)
        return False
    return True


def resume(token: str, output: dict) -> bool:
    """Send a waiting execution on (wait_for); False when the wait ended meanwhile (timed out).
    Raises Throttled when Step Functions refuses for now: the step runner's Task retries it, the
    automation queue redelivers the event."""
    try:
        _sfn().send_task_success(taskToken=token, output=json.dumps(output))
        return True
    except (_sfn().exceptions.TaskTimedOut, _sfn().exceptions.TaskDoesNotExist, _sfn().exceptions.InvalidToken):
        return False
    except ClientError as error:
        if error.response["Error"]["Code"] in THROTTLING:
            logs.throttled("states")
            raise Throttled(str(error)) from error
        raise
