"""`make deploy`, a journey on the deployed stage, and `make destroy`, against an emulated AWS.

moto runs in server mode in this process and `make` reaches it through AWS_ENDPOINT_URL, as it
would reach AWS. The emulator stores functions but cannot run them (no Docker here): the journey
runs the deployed package on the Lambda runtime's Python with each function's deployed
environment (infra/invoke.py), and this test plays Step Functions' part for the one Task.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from email import message_from_string, policy
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import links, one_email

ROOT = Path(__file__).resolve().parent.parent
STAGE = "e2e"
SENDER = "hello@example.com"
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _swagger_as_openapi3(document: dict) -> dict:
    """moto imports OpenAPI 3 documents only, and Chalice writes Swagger 2.0; the two agree on
    what moto reads of them (paths, methods, integrations), so the header is all that changes."""
    document = {key: value for key, value in document.items() if key != "swagger"}
    document["openapi"] = "3.0.1"
    document["info"] = {"description": "", **document.get("info", {})}
    for methods in document.get("paths", {}).values():
        for method in methods.values():
            integration = method.get("x-amazon-apigateway-integration")
            if integration is not None:  # a CORS preflight is a mock integration: no URI
                integration.setdefault("uri", "")
                integration.setdefault("httpMethod", "POST")
    return document


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """An emulated AWS endpoint, and the environment that points boto3 (and make) at it."""
    from moto.apigateway.models import APIGatewayBackend
    from moto.server import ThreadedMotoServer

    from chalicelib.local.stack import _start_executions_on_aliases

    _start_executions_on_aliases()  # the local stack's fix for moto: AWS starts executions on an alias
    importing, putting = APIGatewayBackend.import_rest_api, APIGatewayBackend.put_rest_api
    APIGatewayBackend.import_rest_api = (  # type: ignore[method-assign]
        lambda self, api_doc, fail_on_warnings: importing(self, _swagger_as_openapi3(api_doc), False))
    APIGatewayBackend.put_rest_api = (  # type: ignore[method-assign]
        lambda self, function_id, api_doc, fail_on_warnings, mode="merge":
        putting(self, function_id, _swagger_as_openapi3(api_doc), False, mode))
    port = _free_port()
    home = tmp_path_factory.mktemp("aws")  # no profile of this machine's: only the emulator's keys
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-3", "AWS_REGION": "eu-west-3",
           "AWS_CONFIG_FILE": str(home / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials")}
    try:
        yield env
    finally:
        server.stop()
        APIGatewayBackend.import_rest_api, APIGatewayBackend.put_rest_api = importing, putting  # type: ignore


def _session(env: dict[str, str]) -> Any:
    import boto3

    return boto3.session.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                                 aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                                 region_name=env["AWS_DEFAULT_REGION"])


def _client(env: dict[str, str], service: str) -> Any:
    return _session(env).client(service, endpoint_url=env["AWS_ENDPOINT_URL"])


def _make(env: dict[str, str], *arguments: str) -> str:
    done = subprocess.run(["make", *arguments, f"STAGE={STAGE}"], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return done.stdout


def _invoke(env: dict[str, str], function: str, event: dict) -> tuple[Any, list[dict]]:
    """Run the deployed `function` on `event`: its answer and its structured log lines."""
    done = subprocess.run([str(ROOT / ".venv-deploy" / "bin" / "python"), "-m", "infra.invoke", "--stage", STAGE,
                           "--function", function], cwd=ROOT, env={**os.environ, **env}, input=json.dumps(event),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    *logged, answer = done.stdout.rstrip("\n").split("\n")
    lines = []
    for line in logged:
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return json.loads(answer), lines


def _api_event(method: str, resource: str, path: str, key: str, body: Any = None,
               parameters: dict | None = None) -> dict:
    """A request as API Gateway hands it to the API handler (REST API, Lambda proxy)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Host": "api.example"}
    return {"resource": resource, "path": path, "httpMethod": method, "headers": headers,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "queryStringParameters": None, "multiValueQueryStringParameters": None,
            "pathParameters": parameters, "stageVariables": None, "isBase64Encoded": False,
            "body": json.dumps(body) if body is not None else None,
            "requestContext": {"resourcePath": resource, "httpMethod": method, "stage": "api",
                               "path": f"/api{path}", "requestId": "e2e-request",
                               "identity": {"sourceIp": "192.0.2.1"}}}


def _answer(response: dict, status: int) -> Any:
    assert response["statusCode"] == status, response
    return json.loads(response["body"]) if response.get("body") else None


@pytest.fixture(scope="module")
def deployed(aws: dict[str, str]) -> Iterator[dict[str, Any]]:
    output = _make(aws, "deploy", f"SENDER_EMAIL={SENDER}")
    key = re.search(r"admin key \(shown once[^)]*\): (\S+)", output)
    assert key, output
    outputs = {item["OutputKey"]: item["OutputValue"] for item in
               _client(aws, "cloudformation").describe_stacks(StackName=f"parcours-{STAGE}")["Stacks"][0]["Outputs"]}
    state = json.loads((ROOT / ".chalice" / "deployed" / f"{STAGE}.json").read_text())
    url = next(item["rest_api_url"] for item in state["resources"] if item["resource_type"] == "rest_api")
    try:
        yield {"output": output, "admin_key": key.group(1), "outputs": outputs, "url": url.rstrip("/")}
    finally:  # the emulator goes with this module: so does Chalice's record of the stage
        (ROOT / ".chalice" / "deployed" / f"{STAGE}.json").unlink(missing_ok=True)


def _cfn_lint(template: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), str(template)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def test_make_package_builds_a_package_under_40_mb_and_a_template_that_lints_clean():
    from infra.package import LIMIT_BYTES, unzipped_bytes

    done = subprocess.run(["make", "package", "STAGE=packaged"], cwd=ROOT, capture_output=True, text=True,
                          timeout=900, env={key: value for key, value in os.environ.items()
                                            if not key.startswith("AWS_")})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    package, template = ROOT / "build" / "packaged" / "deployment.zip", ROOT / "build" / "packaged" / "sam.json"
    size = unzipped_bytes(package)
    assert size < LIMIT_BYTES
    assert f"{size / 1e6:.1f} MB unzipped" in done.stdout
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
    assert "chalice/app.py" in names and "app.py" in names  # Chalice's runtime, not its CLI
    assert not any(name.startswith(("chalice/cli/", "click/", "phonenumbers/geodata/")) for name in names)
    linted = _cfn_lint(template)
    assert linted.returncode == 0 and not linted.stdout.strip(), linted.stdout + linted.stderr
    runtimes = {resource["Properties"]["Runtime"] for resource in json.loads(template.read_text())["Resources"].values()
                if resource["Type"] == "AWS::Serverless::Function"}
    assert runtimes <= {"python3.12", "python3.13"} and runtimes


def _schedules() -> set[str]:
    """The app's @app.schedule handlers, by name."""
    from chalice.app import ScheduledEventConfig

    from app import app

    return {source.name for source in app.event_sources if isinstance(source, ScheduledEventConfig)}


def _functions(env: dict[str, str]) -> dict[str, dict]:
    listed = _client(env, "lambda").list_functions()["Functions"]
    return {item["FunctionName"]: item for item in listed if item["FunctionName"].startswith(f"parcours-{STAGE}")}


def test_make_deploy_builds_the_stack_the_functions_and_their_event_sources(aws, deployed):
    from infra import roles
    from infra.invoke import function_name
    from infra.package import LIMIT_BYTES, unzipped_bytes

    outputs = deployed["outputs"]
    functions = _functions(aws)
    assert set(functions) == {function_name(STAGE, function) for function in roles.FUNCTIONS}
    package = ROOT / "build" / STAGE / "deployment.zip"
    digest = base64.b64encode(hashlib.sha256(package.read_bytes()).digest()).decode()
    assert unzipped_bytes(package) < LIMIT_BYTES
    assert "MB unzipped" in deployed["output"]
    for function in roles.FUNCTIONS:
        configuration = functions[function_name(STAGE, function)]
        assert configuration["Runtime"] in ("python3.12", "python3.13")
        assert configuration["CodeSha256"] == digest  # the very package `make package` built
        assert configuration["TracingConfig"]["Mode"] == "PassThrough"  # X-Ray only with TRACING=1
        assert configuration["Role"] == outputs[f"{roles.logical_id(function)}Arn"]  # its own role
        variables = configuration["Environment"]["Variables"]
        assert variables["PARCOURS_PUBLIC_BASE_URL"] == deployed["url"]
        assert variables["PARCOURS_TOKEN_SECRET_PARAMETER"] == f"/parcours/{STAGE}/token-secret"
        assert not any("SECRET" in name and not name.endswith("_PARAMETER") for name in variables)
    parameters = _client(aws, "ssm").get_parameters_by_path(Path=f"/parcours/{STAGE}/")["Parameters"]
    assert {(item["Name"], item["Type"]) for item in parameters} == {
        (f"/parcours/{STAGE}/token-secret", "SecureString"), (f"/parcours/{STAGE}/webhook-secret", "SecureString")}

    mappings = [mapping for mapping in _client(aws, "lambda").list_event_source_mappings()["EventSourceMappings"]
                if mapping["FunctionArn"].endswith(f":function:{function_name(STAGE, 'automation')}")]
    assert [mapping["EventSourceArn"].rsplit(":", 1)[1] for mapping in mappings] == [f"parcours-{STAGE}-automation"]
    assert mappings[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    subscriptions = _client(aws, "sns").list_subscriptions()["Subscriptions"]
    subscribed = {item["TopicArn"].rsplit(":", 1)[1]: item["Endpoint"].rsplit(":", 1)[1] for item in subscriptions
                  if item["Protocol"] == "lambda"}
    assert subscribed == {f"parcours-{STAGE}-ses-events": function_name(STAGE, "ses_events"),
                          f"parcours-{STAGE}-sms-inbound": function_name(STAGE, "sms_inbound")}
    for function in ("ses_events", "sms_inbound"):  # what SNS hands them and they fail is kept
        invoked = _client(aws, "lambda").get_function_event_invoke_config(FunctionName=function_name(STAGE, function))
        assert invoked["DestinationConfig"]["OnFailure"]["Destination"] == outputs["FeedbackDeadLetterQueueArn"]
    events = _client(aws, "events")
    scheduled = {target["Arn"].rsplit(":", 1)[1] for rule in events.list_rules()["Rules"]
                 for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]}
    assert scheduled == {function_name(STAGE, name) for name in _schedules()}
    api_id = deployed["url"].split("//")[1].split(".")[0]
    paths = {item["path"] for item in _client(aws, "apigateway").get_resources(restApiId=api_id, limit=500)["items"]}
    assert {"/events", "/scenarios/{scenario_id}/publish", "/u/{token}", "/health"} <= paths
    tables = _client(aws, "dynamodb").list_tables()["TableNames"]
    assert f"parcours-{STAGE}-contacts" in tables and f"parcours-{STAGE}-enrollments" in tables
    linted = _cfn_lint(ROOT / "build" / STAGE / "sam.json")  # the template of what was deployed
    assert linted.returncode == 0 and not linted.stdout.strip(), linted.stdout + linted.stderr


def test_a_journey_on_the_deployed_stage_sends_an_email_whose_links_point_at_the_deployed_api(aws, deployed):
    key, url = deployed["admin_key"], deployed["url"]
    # What the operator does by hand: the click in SES's verification email. The emulator's
    # CloudFormation creates no SES resources, so the configuration set is made here too.
    _client(aws, "ses").verify_email_identity(EmailAddress=SENDER)
    _client(aws, "sesv2").create_configuration_set(ConfigurationSetName=deployed["outputs"]["SesConfigurationSet"])

    definition = one_email("welcome", subject="Welcome",
                           html='<p>Hi <a href="https://shop.example.com/offer">offer</a></p>')
    answer, _ = _invoke(aws, "api_handler", _api_event("POST", "/scenarios", "/scenarios", key, definition))
    _answer(answer, 201)
    answer, _ = _invoke(aws, "api_handler", _api_event(
        "POST", "/scenarios/{scenario_id}/publish", "/scenarios/welcome/publish", key,
        parameters={"scenario_id": "welcome"}))
    _answer(answer, 200)
    sfn = _client(aws, "stepfunctions")
    machine = next(item for item in sfn.list_state_machines()["stateMachines"]
                   if item["name"] == f"parcours-{STAGE}-welcome")
    logging = sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["loggingConfiguration"]
    assert logging["level"] == "ERROR" and logging["includeExecutionData"] is False
    assert logging["destinations"][0]["cloudWatchLogsLogGroup"]["logGroupArn"] == \
        deployed["outputs"]["StateMachineLogGroupArn"]

    event = {"type": "signup", "contact": {"email": "ana@example.com"}, "consent": {"email": True, "source": "e2e"}}
    answer, _ = _invoke(aws, "api_handler", _api_event("POST", "/events", "/events", key, event))
    assert _answer(answer, 202)["accepted"] == 1
    # Lambda's SQS event source: the queue's messages to the automation function
    received = _client(aws, "sqs").receive_message(QueueUrl=deployed["outputs"]["AutomationQueueUrl"],
                                                   MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    records = [{"messageId": item["MessageId"], "receiptHandle": item["ReceiptHandle"], "body": item["Body"],
                "eventSource": "aws:sqs", "attributes": {}, "messageAttributes": {},
                "eventSourceARN": f"arn:aws:sqs:eu-west-3:123456789012:parcours-{STAGE}-automation"}
               for item in received]
    _invoke(aws, "automation", {"Records": records})
    executions = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
    assert len(executions) == 1
    started = json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"])
    # Step Functions' part: the state machine's one Task, as its Parameters build the payload
    definition_asl = json.loads(sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["definition"])
    payload = {key: value for key, value in definition_asl["States"]["mail"]["Parameters"]["Payload"].items()
               if not key.endswith(".$")}
    _, logged = _invoke(aws, "step_runner", {**payload, "enrollment": started["enrollment"]})

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    sent = [message for message in ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-3"].sent_messages
            if "ana@example.com" in str(getattr(message, "destinations", ""))]
    assert len(sent) == 1
    message = message_from_string(sent[0].raw_data, policy=policy.default)
    html = message.get_body(preferencelist=("html",)).get_content()
    found = links(html.replace(url, "https://deployed.example"))  # paths under the API's stage
    assert found["click"] and found["open"] and found["unsubscribe"]
    absolute = re.findall(r'(?:href|src)="(https?://[^"]+)"', html)
    assert absolute and all(link.startswith(url + "/") for link in absolute), absolute
    assert f"<{url}/u/" in message["List-Unsubscribe"]  # one click (RFC 8058), at the deployed API
    sends = [line for line in logged if line.get("message") == "email sent"]
    assert len(sends) == 1 and sends[0]["scenario"] == "welcome" and sends[0]["step"] == "mail"
    assert "ana@example.com" not in json.dumps(logged)


def test_make_destroy_removes_everything_it_made(aws, deployed):
    _make(aws, "destroy", f"CONFIRM={STAGE}")
    assert not _functions(aws)
    assert not [item for item in _client(aws, "stepfunctions").list_state_machines()["stateMachines"]
                if item["name"].startswith(f"parcours-{STAGE}-")]
    stacks = _client(aws, "cloudformation").list_stacks()["StackSummaries"]
    assert all(item["StackStatus"] == "DELETE_COMPLETE" for item in stacks if item["StackName"] == f"parcours-{STAGE}")
    assert not [name for name in _client(aws, "dynamodb").list_tables()["TableNames"]
                if name.startswith(f"parcours-{STAGE}-")]
    assert not _client(aws, "ssm").get_parameters_by_path(Path=f"/parcours/{STAGE}/")["Parameters"]
    assert not _client(aws, "apigateway").get_rest_apis()["items"]
    assert not [url for url in _client(aws, "sqs").list_queues().get("QueueUrls", []) if f"parcours-{STAGE}-" in url]
    assert not [bucket for bucket in _client(aws, "s3").list_buckets()["Buckets"]
                if bucket["Name"].startswith(f"parcours-{STAGE}-")]
    assert not (ROOT / ".chalice" / "deployed" / f"{STAGE}.json").exists()
