"""Start moto in-process and make it behave like the deployed app.

Step Functions executes the real ASL (moto's interpreter); its Lambda invocations reach
moto's simple Lambda backend, whose `invoke` is the seam where we call the app's own
handler in-process, exactly as Lambda would call it on AWS. Everything the app needs
(tables, topics, queue, functions, state-machine role) is created at start.
"""
from __future__ import annotations

import json
import os
import secrets
import traceback
from collections.abc import Callable
from typing import Any

MOTO_CONFIG = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
ACCOUNT = "123456789012"
APP_NAME = "parcours"
STAGE = "local"
FUNCTIONS = ("step_runner",)  # the app's @app.lambda_function handlers

Handler = Callable[[dict, Any], Any]


def function_name(name: str) -> str:
    """Chalice names a `@app.lambda_function(name=...)` `{app}-{stage}-{name}`."""
    return f"{APP_NAME}-{STAGE}-{name}"


class _Context:
    """The parts of a Lambda context object our handlers read."""

    def __init__(self, name: str) -> None:
        self.function_name = name
        self.aws_request_id = secrets.token_hex(16)
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:local:{ACCOUNT}:function:{name}"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _start_executions_on_aliases() -> None:
    """moto cannot start an execution on an alias or a version; AWS can.

    Resolve `...:stateMachine:NAME:live` (or `:NAME:3`) to the state machine carrying that
    version's definition, so executions run the version they entered with, as on AWS."""
    import copy

    from moto.stepfunctions.models import StepFunctionBackend

    if getattr(StepFunctionBackend.describe_state_machine, "resolves_aliases", False):
        return
    original = StepFunctionBackend.describe_state_machine

    def describe_state_machine(backend, arn):  # noqa: ANN001, ANN202
        parts = arn.split(":")
        if len(parts) != 8:
            return original(backend, arn)
        machine = next((item for item in backend.state_machines if item.arn == ":".join(parts[:-1])), None)
        if machine is None:
            return original(backend, arn)
        version = machine.versions.get(int(parts[-1])) if parts[-1].isnumeric() else None
        alias = machine.aliases.get(parts[-1])
        if alias is not None:
            route = max(alias.routing_configuration, key=lambda entry: entry["weight"])
            version = machine.versions.get(int(route["stateMachineVersionArn"].rsplit(":", 1)[1]))
        if version is None:
            return original(backend, arn)
        pinned = copy.copy(machine)  # shares the machine's executions: names stay unique per machine
        pinned.definition = version.definition
        return pinned

    describe_state_machine.resolves_aliases = True
    StepFunctionBackend.describe_state_machine = describe_state_machine


def _empty_zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "# the local stack calls the app in-process\n")
    return buffer.getvalue()


class LocalStack:
    """moto, started in-process, set up for the app. Use as a context manager or start()/stop()."""

    def __init__(self, *, time_scale: float | None = None, admin_key: str | None = None,
                 region: str = "eu-west-3", table_prefix: str = "parcours-local-") -> None:
        self.region = region
        self.time_scale = time_scale
        self.admin_key = admin_key
        self.table_prefix = table_prefix
        self.handlers: dict[str, Handler] = {}
        self._mock = None
        self._original_invoke = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> LocalStack:
        self._configure_environment()
        from moto import mock_aws

        self._mock = mock_aws(config=MOTO_CONFIG)
        self._mock.start()
        self._route_lambda_to_handlers()
        _start_executions_on_aliases()
        self._create_resources()
        return self

    def stop(self) -> None:
        if self._original_invoke is not None:
            from moto.awslambda_simple.models import LambdaSimpleBackend

            LambdaSimpleBackend.invoke = self._original_invoke
            self._original_invoke = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def register(self, name: str, handler: Handler) -> None:
        """Route invocations of the Lambda function `name` (short Chalice name) to `handler`."""
        self.handlers[function_name(name)] = handler

    # -- set-up ----------------------------------------------------------------------------
    def _configure_environment(self) -> None:
        env = os.environ
        env["PARCOURS_LOCAL"] = "1"
        env.setdefault("AWS_ACCESS_KEY_ID", "testing")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        env["AWS_DEFAULT_REGION"] = self.region
        env["AWS_REGION"] = self.region
        env.setdefault("PARCOURS_TABLE_PREFIX", self.table_prefix)
        if self.time_scale is not None:
            env["PARCOURS_TIME_SCALE"] = str(self.time_scale)
        if self.admin_key is not None:
            env["PARCOURS_ADMIN_KEY"] = self.admin_key
        env.setdefault("PARCOURS_TOKEN_SECRET", secrets.token_urlsafe(32))
        env["PARCOURS_STEP_RUNNER_ARN"] = (
            f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{function_name('step_runner')}")
        env["PARCOURS_STATE_MACHINE_ROLE_ARN"] = f"arn:aws:iam::{ACCOUNT}:role/parcours-state-machine"
        env["PARCOURS_AUTOMATION_QUEUE_URL"] = (
            f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT}/parcours-automation")
        from chalicelib import config

        config.reload()

    def _route_lambda_to_handlers(self) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        stack = self
        self._original_invoke = LambdaSimpleBackend.invoke

        def invoke(backend, function_name, qualifier, body, headers, response_headers):  # noqa: ANN001
            name = function_name.rsplit(":", 1)[-1] if function_name.startswith("arn:") else function_name
            handler = stack.handlers.get(name)
            if handler is None:
                raise RuntimeError(f"no local handler registered for Lambda function {name}")
            event = json.loads(body) if body else {}
            try:
                result = handler(event, _Context(name))
            except Exception as error:  # what Lambda does with an unhandled exception
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps({
                    "errorType": type(error).__name__,
                    "errorMessage": str(error),
                    "stackTrace": traceback.format_exception(error)[-3:],
                }).encode()
            return json.dumps(result).encode()

        LambdaSimpleBackend.invoke = invoke

    def _create_resources(self) -> None:
        import boto3

        from chalicelib.store.audience import AUDIENCE_MODELS
        from chalicelib.store.models import MODELS

        for model in MODELS + AUDIENCE_MODELS:
            if not model.exists():
                model.create_table(wait=False)
        iam = boto3.client("iam", region_name=self.region)
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
            "Action": "sts:AssumeRole"}]}
        iam.create_role(RoleName="parcours-state-machine", AssumeRolePolicyDocument=json.dumps(trust))
        lam = boto3.client("lambda", region_name=self.region)
        for name in FUNCTIONS:
            lam.create_function(
                FunctionName=function_name(name), Runtime="python3.11",
                Role=f"arn:aws:iam::{ACCOUNT}:role/parcours-state-machine",
                Handler=f"app.{name}", Code={"ZipFile": _empty_zip()})
        # A short visibility timeout: a failed batch comes back quickly on a laptop.
        boto3.client("sqs", region_name=self.region).create_queue(
            QueueName="parcours-automation", Attributes={"VisibilityTimeout": "2"})
        from chalicelib.config import settings

        sender = settings().email_from.rsplit("<", 1)[-1].strip(">").strip()
        boto3.client("sesv2", region_name=self.region).create_email_identity(EmailIdentity=sender.split("@")[1])
