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
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moto.core.config import DefaultConfig
    from moto.core.models import MockAWS

MOTO_CONFIG: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
ACCOUNT = "123456789012"
APP_NAME = "parcours"
STAGE = "local"
FUNCTIONS = ("step_runner", "audience_worker")  # the app's @app.lambda_function handlers
TOPICS = ("parcours-ses-events", "parcours-sms-inbound")  # the app's @app.on_sns_message topics
ASYNC_RETRIES = 2  # Lambda retries a failed asynchronous invocation (SNS delivers so) twice

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


def sns_event(topic_arn: str, message_id: str, message: str, subject: str | None = None,
              attributes: dict[str, Any] | None = None) -> dict:
    """The event SNS sends a subscribed Lambda function (documented shape, one record)."""
    from chalicelib import clock

    return {"Records": [{
        "EventVersion": "1.0", "EventSource": "aws:sns",
        "EventSubscriptionArn": f"{topic_arn}:{secrets.token_hex(8)}",
        "Sns": {
            "Type": "Notification", "MessageId": message_id, "TopicArn": topic_arn, "Subject": subject,
            "Message": message, "Timestamp": clock.iso(clock.now()), "SignatureVersion": "1",
            "Signature": "local", "SigningCertUrl": "https://sns.local/cert.pem",
            "UnsubscribeUrl": "https://sns.local/unsubscribe",
            "MessageAttributes": {name: {"Type": value.get("Type", "String"), "Value": value.get("Value")}
                                  for name, value in (attributes or {}).items()},
        }}]}


def _start_executions_on_aliases() -> None:
    """moto cannot start an execution on an alias or a version; AWS can.

    Resolve `...:stateMachine:NAME:live` (or `:NAME:3`) to the state machine carrying that
    version's definition, so executions run the version they entered with, as on AWS."""
    import copy

    from moto.stepfunctions.models import StepFunctionBackend

    if getattr(StepFunctionBackend.describe_state_machine, "resolves_aliases", False):
        return
    original = StepFunctionBackend.describe_state_machine

    def describe_state_machine(backend, arn):
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


def _one_line_state_failures() -> None:
    """moto logs every failure inside a state machine, a caught wait_for timeout included, as an
    ERROR carrying the whole state's repr (kilobytes), once per component it goes through. Log
    it once, for the state, on one line; a timeout, which a scenario expects, at INFO."""
    import logging

    from moto.stepfunctions.parser.asl.component import eval_component

    component = eval_component.EvalComponent
    if getattr(component._log_failure_event_exception, "one_line", False):
        return
    log = logging.getLogger(eval_component.__name__)

    def log_failure(self, failure_event_exception):
        if getattr(self, "state_type", None) is None:
            return  # a part of a state: the state itself logs it
        error = failure_event_exception.failure_event.error_name
        name = error.error_name if error else "unknown"
        if name == "States.Timeout":
            log.info("state %r timed out", self.name)
        else:
            log.warning("state %r failed: %s", self.name, name)

    def log_exception(self, exception):
        if getattr(self, "state_type", None) is not None:
            log.warning("state %r failed: %s: %s", self.name, type(exception).__name__, str(exception)[:300])

    log_failure.one_line = True
    component._log_failure_event_exception = log_failure
    component._log_exception = log_exception


def _serialize_dynamodb() -> None:
    """DynamoDB applies each request atomically; moto does not when threads call it at once
    (Step Functions runs executions, hence the step runner, on threads). One request at a time."""
    import threading

    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.call_action, "serialized", False):
        return
    original = DynamoHandler.call_action
    lock = threading.RLock()

    def call_action(handler):
        with lock:
            return original(handler)

    call_action.serialized = True
    call_action.lock = lock  # taken by moto_direct too
    DynamoHandler.call_action = call_action


def _fast_transactions() -> None:
    """moto snapshots every table a transaction touches (a deep copy, once per item) to roll
    back: each transaction costs as much as the tables are large. Check every condition
    first, then write, restoring only the touched items if a write fails: same outcome.
    """
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
    )
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend.transact_write_items, "fast", False):
        return

    def transact_write_items(self, transact_items):
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        seen, planned, errors, failed = set(), [], [], False
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = self.get_table(op["TableName"])
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            unique = (op["TableName"], str(sorted(key.items())))
            if unique in seen:
                raise MultipleTransactionsException()
            seen.add(unique)
            current = self.get_item(op["TableName"], key)
            condition = op.get("ConditionExpression")
            if condition is not None and not get_filter_expression(
                    condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")).expr(current):
                item = current.to_json()["Attributes"] if current is not None and op.get(
                    "ReturnValuesOnConditionCheckFailure") == "ALL_OLD" else None
                errors.append(("ConditionalCheckFailed", "The conditional request failed", item))
                failed = True
                continue
            errors.append((None, None, None))
            planned.append((op_type, op, key, None if current is None else current.to_json()["Attributes"]))
        if failed:
            raise TransactionCanceledException(errors)
        done = []
        try:
            for op_type, op, key, before in planned:
                names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    self.put_item(op["TableName"], op["Item"])
                elif op_type == "Delete":
                    self.delete_item(op["TableName"], key)
                elif op_type == "Update":
                    self.update_item(op["TableName"], key, update_expression=op["UpdateExpression"],
                                     expression_attribute_names=names, expression_attribute_values=values)
                done.append((op["TableName"], key, before))
        except Exception:
            for table_name, key, before in reversed(done):
                if before is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, before)
            raise

    transact_write_items.fast = True
    DynamoDBBackend.transact_write_items = transact_write_items


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
        self.topic_handlers: dict[str, Handler] = {}
        self._mock: MockAWS | None = None
        self._original_invoke = None
        self._original_topic_publish = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> LocalStack:
        self._configure_environment()
        from moto import mock_aws

        mock = mock_aws(config=MOTO_CONFIG)
        mock.start()
        self._mock = mock
        self._route_lambda_to_handlers()
        self._route_topics_to_handlers()
        _start_executions_on_aliases()
        _one_line_state_failures()
        _serialize_dynamodb()
        _fast_transactions()
        from chalicelib.local import dynamodb_speed, ids, moto_direct, moto_routing, sfn_speed, sqs_speed

        # moto's costs that grow with the data or repeat for nothing (see each module)
        dynamodb_speed.install()
        sqs_speed.install()
        moto_routing.install()
        moto_direct.install()
        sfn_speed.install()
        ids.install()  # one process for everything: an id's system call lets another thread in
        from chalicelib import clock
        from chalicelib.config import settings
        from chalicelib.local import outbox, steptime

        outbox.install()
        steptime.install()
        clock.run_scaled(settings().time_scale)
        self._create_resources()
        return self

    def stop(self) -> None:
        self._stop_executions()
        if self._original_invoke is not None:
            from moto.awslambda_simple.models import LambdaSimpleBackend

            LambdaSimpleBackend.invoke = self._original_invoke
            self._original_invoke = None
        if self._original_topic_publish is not None:
            from moto.sns.models import Topic

            Topic.publish = self._original_topic_publish
            self._original_topic_publish = None
        from chalicelib import clock
        from chalicelib.local import outbox, steptime

        outbox.uninstall()
        steptime.uninstall()
        clock.reset()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    def _stop_executions(self) -> None:
        """End the running executions, whose threads would otherwise outlive this stack."""
        if self._mock is None:
            return
        import boto3

        sfn = boto3.client("stepfunctions", region_name=self.region)
        try:
            for machine in sfn.list_state_machines()["stateMachines"]:
                for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"],
                                                     statusFilter="RUNNING")["executions"]:
                    sfn.stop_execution(executionArn=execution["executionArn"], cause="local stack stopping")
        except Exception:  # best effort: moto is going away anyway
            pass

    @property
    def running(self) -> bool:
        return self._mock is not None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def register(self, name: str, handler: Handler) -> None:
        """Route invocations of the Lambda function `name` (short Chalice name) to `handler`."""
        self.handlers[function_name(name)] = handler

    def register_topic(self, topic: str, handler: Handler) -> None:
        """Deliver what is published to SNS topic `topic` to `handler`, as SNS calls a Lambda."""
        self.topic_handlers[topic] = handler

    def register_sns_handlers(self, app: Any) -> None:
        """Subscribe each `@app.on_sns_message(topic=...)` handler of a Chalice app to its topic."""
        from chalice.app import SNSEventConfig

        for source in app.event_sources:
            if isinstance(source, SNSEventConfig):
                self.register_topic(source.topic, app.handler_map[source.name])

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
        env.setdefault("PARCOURS_WEBHOOK_SECRET", secrets.token_urlsafe(32))
        # moto's TransactWriteItems is not safe under concurrent callers; DynamoDB is.
        env["PARCOURS_INGEST_WORKERS"] = "1"
        env.setdefault("PARCOURS_JOB_MAX_WORKERS", "2")  # job parts run transactions too
        env["PARCOURS_STEP_RUNNER_ARN"] = (
            f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{function_name('step_runner')}")
        env["PARCOURS_STATE_MACHINE_ROLE_ARN"] = f"arn:aws:iam::{ACCOUNT}:role/parcours-state-machine"
        env["PARCOURS_AUTOMATION_QUEUE_URL"] = (
            f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT}/parcours-automation")
        env["PARCOURS_CAMPAIGN_QUEUE_URL"] = (
            f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT}/parcours-campaign-sends")
        from chalicelib import config

        config.reload()

    def _route_lambda_to_handlers(self) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        stack = self
        self._original_invoke = LambdaSimpleBackend.invoke

        def invoke(backend, function_name, qualifier, body, headers, response_headers):
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

    def _route_topics_to_handlers(self) -> None:
        """SNS -> Lambda, in-process: a publish to a topic with a registered handler calls it with
        the event SNS sends a subscribed Lambda function (one record), synchronously. As with
        Lambda's asynchronous invocation, a failing handler does not fail the publisher."""
        from moto.sns.models import Topic

        from chalicelib.logs import logger

        stack = self
        original = self._original_topic_publish = Topic.publish

        def publish(topic, message, subject=None, message_attributes=None, *args, **kwargs):
            message_id = original(topic, message, subject, message_attributes, *args, **kwargs)
            handler = stack.topic_handlers.get(topic.name)
            if handler is not None:
                body = message
                if kwargs.get("message_structure") == "json":
                    parsed = json.loads(message)
                    body = parsed.get("lambda", parsed.get("default", message))
                event = sns_event(topic.arn, message_id, body, subject, message_attributes)
                deliver(handler, event, topic.name, attempt=0)
            return message_id

        def deliver(handler: Handler, event: dict, topic: str, *, attempt: int) -> None:
            """As Lambda's asynchronous invocation: a failed call is made again twice, later
            (after one, then two minutes on AWS; seconds here)."""
            try:
                handler(event, _Context(f"{APP_NAME}-{STAGE}-{topic}"))
            except Exception:
                if attempt >= ASYNC_RETRIES or not stack.running:
                    logger.exception("local SNS handler failed", extra={"topic": topic})
                    return
                retry = threading.Timer(attempt + 1.0, deliver, (handler, event, topic), {"attempt": attempt + 1})
                retry.daemon = True
                retry.start()

        Topic.publish = publish

    def _create_resources(self) -> None:
        import boto3

        from chalicelib.store.audience import AUDIENCE_MODELS
        from chalicelib.store.campaigns import CAMPAIGN_MODELS
        from chalicelib.store.channels import CHANNEL_MODELS
        from chalicelib.store.models import MODELS
        from chalicelib.store.reports import REPORT_MODELS
        from chalicelib.store.webhooks import WEBHOOK_MODELS

        for model in MODELS + AUDIENCE_MODELS + CHANNEL_MODELS + REPORT_MODELS + WEBHOOK_MODELS + CAMPAIGN_MODELS:
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
        for queue in ("parcours-automation", "parcours-campaign-sends"):
            boto3.client("sqs", region_name=self.region).create_queue(
                QueueName=queue, Attributes={"VisibilityTimeout": "2"})
        sns = boto3.client("sns", region_name=self.region)
        for topic in TOPICS:
            sns.create_topic(Name=topic)
        from chalicelib.config import settings

        sender = settings().email_from.rsplit("<", 1)[-1].strip(">").strip()
        boto3.client("sesv2", region_name=self.region).create_email_identity(EmailIdentity=sender.split("@")[1])
