"""infra/: the CloudFormation template lints clean, matches the PynamoDB models, and feeds the Chalice config."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"


@pytest.fixture(scope="module")
def template() -> dict:
    from cfnlint.decode import cfn_yaml

    return cfn_yaml.load(str(TEMPLATE))


@pytest.fixture(scope="module")
def config() -> dict:
    return json.loads(CHALICE_CONFIG.read_text())


def _cfn_lint() -> str:
    found = Path(sys.executable).with_name("cfn-lint")
    return str(found) if found.exists() else (shutil.which("cfn-lint") or "cfn-lint")


def test_cfn_lint_passes():
    result = subprocess.run([_cfn_lint(), str(TEMPLATE)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_committed_template_matches_the_generator():
    from infra.generate import render

    text = TEMPLATE.read_text()
    assert render(text) == text, "infra/template.yaml is stale: run `python -m infra.generate`"


def _models():
    from chalicelib.config import settings
    from chalicelib.store import models
    from chalicelib.store.audience import AUDIENCE_MODELS
    from infra.generate import models as discovered

    found = discovered()
    # Every registry the local stack creates tables from is covered by the discovery.
    assert set(models.MODELS) | set(AUDIENCE_MODELS) <= set(found)
    return found, settings().table_prefix


def _tables(template: dict) -> dict[str, tuple[str, dict]]:
    """Table name suffix -> (logical id, properties)."""
    found = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::DynamoDB::Table":
            name = resource["Properties"]["TableName"]["Fn::Sub"]
            assert name.startswith("${TablePrefix}")
            found[name[len("${TablePrefix}"):]] = (logical_id, resource["Properties"])
    return found


def _key_schema(items) -> list[tuple[str, str]]:
    return sorted((item["AttributeName"], item["KeyType"]) for item in items)


def test_every_model_has_its_table_with_exactly_its_keys_indexes_and_ttl(template):
    from pynamodb.attributes import TTLAttribute

    models, prefix = _models()
    tables = _tables(template)
    assert sorted(tables) == sorted(model.Meta.table_name[len(prefix):] for model in models)
    for model in models:
        _, props = tables[model.Meta.table_name[len(prefix):]]
        schema = model._get_schema()
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert _key_schema(props["KeySchema"]) == _key_schema(schema["key_schema"])
        expected_indexes = {index["index_name"]: index for index in schema["global_secondary_indexes"]}
        actual_indexes = {index["IndexName"]: index for index in props.get("GlobalSecondaryIndexes", [])}
        assert sorted(actual_indexes) == sorted(expected_indexes), model.__name__
        definitions = {item["AttributeName"]: item["AttributeType"] for item in schema["attribute_definitions"]}
        for name, index in expected_indexes.items():
            assert _key_schema(actual_indexes[name]["KeySchema"]) == _key_schema(index["key_schema"])
            assert actual_indexes[name]["Projection"]["ProjectionType"] == index["projection"]["ProjectionType"]
            definitions.update({item["AttributeName"]: item["AttributeType"]
                                for item in index["attribute_definitions"]})
        assert {item["AttributeName"]: item["AttributeType"] for item in props["AttributeDefinitions"]} == definitions
        ttl = [attr.attr_name for attr in model.get_attributes().values() if isinstance(attr, TTLAttribute)]
        if ttl:
            assert props["TimeToLiveSpecification"] == {"AttributeName": ttl[0], "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in props


def _statements(template: dict, role: str) -> list[dict]:
    """The statements of the role's own policies and of the managed policies attached to it."""
    properties = template["Resources"][role]["Properties"]
    found = [statement for policy in properties["Policies"] for statement in policy["PolicyDocument"]["Statement"]]
    for attached in properties.get("ManagedPolicyArns", []):
        found += template["Resources"][attached["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
    return found


def _actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _granted(template: dict, role: str) -> set[str]:
    return {action for statement in _statements(template, role) for action in _actions(statement)}


def test_every_function_has_its_own_role_reaching_every_table_and_index_by_arn(template):
    import app as app_module
    from infra import roles

    assert set(roles.FUNCTIONS) == _function_names(app_module.app)
    tables = _tables(template)
    indexed = {logical_id for logical_id, props in tables.values() if props.get("GlobalSecondaryIndexes")}
    for function in roles.FUNCTIONS:
        statements = {s["Sid"]: s for s in _statements(template, roles.logical_id(function))}
        on_tables = {item["Fn::GetAtt"][0] for item in statements["AppTables"]["Resource"]}
        assert on_tables == {logical_id for logical_id, _ in tables.values()}, function
        on_indexes = {item["Fn::Sub"].split(".Arn}")[0].lstrip("${") for item in statements["AppIndexes"]["Resource"]}
        assert on_indexes == indexed
        assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                "dynamodb:Query", "dynamodb:ConditionCheckItem"} <= set(_actions(statements["AppTables"]))
        logs = statements["OwnLogs"]["Resource"][0]["Fn::Sub"]
        assert logs.endswith(f"log-group:/aws/lambda/{roles.function_name(function)}:*")
        assert statements["StageSecrets"]["Resource"][0]["Fn::Sub"].endswith(":parameter/parcours/${Stage}/*")


def test_each_role_grants_only_what_its_function_calls_and_scopes_by_arn(template):
    from infra import roles

    def role(function):
        return _granted(template, roles.logical_id(function))

    # publishing is a route: only the API handler creates state machines and passes their role
    publishers = {function for function in roles.FUNCTIONS if "states:CreateStateMachine" in role(function)}
    assert publishers == {"api_handler"} and "iam:PassRole" in role("api_handler")
    assert {"states:StartExecution", "states:SendTaskSuccess", "states:StopExecution", "sqs:ReceiveMessage",
            "sqs:DeleteMessage"} <= role("automation")
    assert {function for function in roles.FUNCTIONS if "sqs:ReceiveMessage" in role(function)} == {
        "automation", "campaign_sender"}
    assert {"ses:SendEmail", "sns:Publish", "sns:CheckIfPhoneNumberIsOptedOut"} <= role("step_runner")
    assert {"ses:SendEmail", "sns:Publish"} <= role("automation")  # double opt-in confirmations
    senders = {function for function in roles.FUNCTIONS if "ses:SendEmail" in role(function)}
    assert senders == {"step_runner", "automation", "campaign_sender"}  # the API handler sends nothing
    assert {"s3:PutObject", "s3:GetObject"} <= role("api_handler") & role("audience_jobs")
    for function in roles.FUNCTIONS:
        statements = _statements(template, roles.logical_id(function))
        granted = role(function)
        assert "sqs:SendMessage" in granted and "ssm:GetParameter" in granted
        # "*" only where AWS has no resource-level permission for the action
        unscoped = {action for statement in statements if statement["Resource"] == "*"
                    for action in _actions(statement)}
        from infra.generate import LOG_DELIVERY

        assert unscoped <= {"states:SendTaskSuccess", "ses:GetSuppressedDestination", "sns:Publish",
                            "sns:CheckIfPhoneNumberIsOptedOut", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
                            *(LOG_DELIVERY if function == "api_handler" else [])}
        assert not any(action.endswith(":*") or action == "*" for action in granted)
    passrole = next(s for s in _statements(template, "ApiHandlerRole") if "iam:PassRole" in _actions(s))
    assert passrole["Resource"] == [{"Fn::GetAtt": ["StateMachineRole", "Arn"]}]


def test_state_machine_role_invokes_the_step_runner_and_delivers_its_logs(template):
    statements = {statement["Sid"]: statement for statement in _statements(template, "StateMachineRole")}
    assert set(statements) == {"StepRunner", "LogDelivery"}
    assert _actions(statements["StepRunner"]) == ["lambda:InvokeFunction"]
    assert all("function:parcours-${Stage}-step_runner" in item["Fn::Sub"]
               for item in statements["StepRunner"]["Resource"])
    assert all(action.startswith("logs:") for action in _actions(statements["LogDelivery"]))


def test_alarms_notify_the_alarms_topic(template):
    resources = template["Resources"]
    alarms = {name: resource["Properties"] for name, resource in resources.items()
              if resource["Type"] == "AWS::CloudWatch::Alarm"}
    assert set(alarms) == {"AutomationDeadLetterAlarm", "FeedbackDeadLetterAlarm", "StepFailuresAlarm",
                           "SesBounceRateAlarm", "SesComplaintRateAlarm"}
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmsTopic"}]
    # below the rates at which SES puts an account under review (5% bounces, 0.1% complaints)
    assert alarms["SesBounceRateAlarm"]["Threshold"] < 0.05
    assert alarms["SesComplaintRateAlarm"]["Threshold"] < 0.001
    body, names = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]  # valid JSON once substituted
    shown = {metric[1] for widget in widgets for metric in widget["properties"]["metrics"] if metric[1] != "."}
    assert {"JourneysEntered", "EmailsSent", "SendsSkipped", "StepFailures", "Throttles"} <= shown
    assert set(re.findall(r"\$\{([^}:]+)\}", body)) <= set(names) | {"AWS::Region"}
    assert {"AlarmsTopicArn", "DkimRecord1", "DkimRecord2", "DkimRecord3"} <= set(template["Outputs"])
    assert resources["DomainIdentity"]["Properties"]["DkimSigningAttributes"]


def test_queue_topics_and_ses_configuration(template):
    resources = template["Resources"]
    queue = resources["AutomationQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["AutomationDeadLetterQueue", "Arn"]}
    # Lambda's SQS event source wants the visibility timeout >= the consumer's timeout (6x advised).
    consumer_timeout = max(stage["lambda_functions"]["automation"]["lambda_timeout"]
                           for stage in json.loads(CHALICE_CONFIG.read_text())["stages"].values())
    assert queue["VisibilityTimeout"] >= 6 * consumer_timeout
    destination = resources["ConfigurationSetEventDestination"]["Properties"]["EventDestination"]
    assert set(destination["MatchingEventTypes"]) == {"bounce", "complaint", "delivery", "open", "click", "reject"}
    assert destination["SnsDestination"]["TopicARN"] == {"Ref": "SesEventsTopic"}


def test_the_stage_names_app_py_event_sources_as_the_template_names_its_queue_and_topics(template):
    from chalice.app import SNSEventConfig, SQSEventConfig

    import app as app_module
    from infra.stage import stage_name

    resources = template["Resources"]
    queues = {source.queue for source in app_module.app.event_sources if isinstance(source, SQSEventConfig)}
    topics = {source.topic for source in app_module.app.event_sources if isinstance(source, SNSEventConfig)}
    assert queues == {"parcours-automation", "parcours-campaign-sends"}
    assert topics == {"parcours-ses-events", "parcours-sms-inbound"}
    named = {resources["AutomationQueue"]["Properties"]["QueueName"]["Fn::Sub"],
             resources["CampaignQueue"]["Properties"]["QueueName"]["Fn::Sub"],
             resources["SesEventsTopic"]["Properties"]["TopicName"]["Fn::Sub"],
             resources["SmsInboundTopic"]["Properties"]["TopicName"]["Fn::Sub"]}
    assert named == {stage_name(name, "${Stage}") for name in queues | topics}


# -- .chalice/config.json --------------------------------------------------------------------


def _env_outputs(template: dict) -> dict[str, str]:
    """Environment variable -> output key, from the outputs described as PARCOURS_..."""
    return {output["Description"].split()[0]: key for key, output in template["Outputs"].items()
            if output.get("Description", "").startswith("PARCOURS_")}


def test_every_stage_takes_its_environment_from_the_stack_outputs(template, config):
    from infra.deploy import placeholders

    wanted = _env_outputs(template)
    assert {"PARCOURS_TABLE_PREFIX", "PARCOURS_STATE_MACHINE_ROLE_ARN", "PARCOURS_AUTOMATION_QUEUE_URL",
            "PARCOURS_SES_CONFIGURATION_SET", "PARCOURS_STEP_RUNNER_ARN"} <= set(wanted)
    for name, stage in config["stages"].items():
        env = stage["environment_variables"]
        for variable, output in wanted.items():
            assert env[variable] == f"${{{output}}}", (name, variable)
        for placeholder in placeholders(config, name):
            assert (placeholder in template["Outputs"] or placeholder == "api:url"
                    or placeholder.startswith(("ssm:", "tracing:"))), placeholder
        # secrets reach the functions as the names of SecureStrings, never as values
        assert not {"PARCOURS_TOKEN_SECRET", "PARCOURS_WEBHOOK_SECRET"} & set(env)
        assert env["PARCOURS_TOKEN_SECRET_PARAMETER"] == "${ssm:token-secret}"
        assert env["PARCOURS_WEBHOOK_SECRET_PARAMETER"] == "${ssm:webhook-secret}"
        assert "iam_role_arn" not in stage
    assert config["manage_iam_role"] is False and config["app_name"] == "parcours"


def _function_names(chalice_app) -> set[str]:
    return ({"api_handler"} | {function.name for function in chalice_app.pure_lambda_functions}
            | {source.name for source in chalice_app.event_sources})


def test_chalice_accepts_the_config_of_every_stage(config, tmp_path, monkeypatch):
    from chalice.cli.factory import CLIFactory
    from chalice.deploy import validate

    import app as app_module
    from infra.deploy import fill

    # The routes' own checks are the next test's; this one is about the configuration.
    monkeypatch.setattr(validate, "validate_route_content_types", lambda *args: None)
    from infra import roles
    from infra.package import example_values

    for stage in [*config["stages"], "e2e"]:  # a stage the file does not name takes dev's settings
        filled = fill(config, stage, example_values(config, stage))
        assert "${" not in json.dumps(filled["stages"][stage])
        project = tmp_path / stage
        (project / ".chalice").mkdir(parents=True)
        (project / ".chalice" / "config.json").write_text(json.dumps(filled))
        factory = CLIFactory(str(project))
        factory.load_chalice_app = lambda *args, **kwargs: app_module.app
        chalice_config = factory.create_config_obj(chalice_stage_name=stage)
        validate.validate_configuration(chalice_config)
        settings = filled["stages"][stage]["lambda_functions"]
        assert set(settings) == _function_names(app_module.app), "a function without settings, or a typo"
        assert not chalice_config.manage_iam_role
        for function in roles.FUNCTIONS:
            function_config = factory.create_config_obj(chalice_stage_name=stage).scope(stage, function)
            assert function_config.iam_role_arn == f"arn:aws:iam::123456789012:role/parcours-{stage}-{function}"
            assert function_config.xray_enabled is False  # a boolean: Chalice takes any string as true


def test_chalice_accepts_the_routes_of_the_app():
    """What `chalice deploy` checks of the routes before it deploys anything."""
    from chalice.deploy.validate import validate_route_content_types

    import app as app_module

    validate_route_content_types(app_module.app.routes, app_module.app.api.binary_types)


def test_fill_touches_only_the_chosen_stage(config):
    from infra.deploy import fill, placeholders

    values = {name: f"value-of-{name}" for name in placeholders(config, "dev")}
    values.update({"TablePrefix": "parcours-dev-", "tracing:enabled": True, "tracing:flag": "1"})
    filled = fill(config, "dev", values)
    env = filled["stages"]["dev"]["environment_variables"]
    assert env["PARCOURS_TABLE_PREFIX"] == "parcours-dev-"
    assert env["PARCOURS_TOKEN_SECRET_PARAMETER"] == "value-of-ssm:token-secret"
    assert env["POWERTOOLS_SERVICE_NAME"] == "parcours-dev"
    assert filled["stages"]["dev"]["xray"] is True and env["PARCOURS_TRACING"] == "1"
    assert filled["stages"]["prod"] == config["stages"]["prod"]
    with pytest.raises(KeyError):
        fill(config, "dev", {})


def test_the_deployed_url_is_read_where_chalice_records_it(tmp_path, monkeypatch):
    from infra import deploy

    monkeypatch.setattr(deploy, "ROOT", tmp_path)
    assert deploy.deployed_url("dev") is None
    (tmp_path / ".chalice" / "deployed").mkdir(parents=True)
    (tmp_path / ".chalice" / "deployed" / "dev.json").write_text(json.dumps({"schema_version": "2.0", "resources": [
        {"name": "rest_api", "resource_type": "rest_api", "rest_api_id": "abc123",
         "rest_api_url": "https://abc123.execute-api.eu-west-3.amazonaws.com/api/"}]}))
    assert deploy.deployed_url("dev") == "https://abc123.execute-api.eu-west-3.amazonaws.com/api"
    assert deploy.deployed_api_id("dev") == "abc123"


def test_the_packaged_template_is_fixed_where_chalice_gets_it_wrong():
    from infra.package import fix_template

    template = {"Resources": {
        "ApiHandlerLogGroup": {"Type": "AWS::Logs::LogGroup",
                               "Properties": {"LogGroupName": {"Fn::Sub": "/aws/lambda/${ApiHandler}"}}},
        "Automation": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {"Queue": {
            "Type": "SQS", "Properties": {"Queue": "arn", "BatchSize": 10}}}}}}}
    fixed = fix_template(template)["Resources"]
    assert fixed["ApiHandlerLogGroup"]["Properties"]["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${APIHandler}"}
    assert fixed["Automation"]["Properties"]["Events"]["Queue"]["Properties"]["FunctionResponseTypes"] == [
        "ReportBatchItemFailures"]


def test_unknown_routes_and_gateway_refusals_answer_in_the_error_format(template):
    parameter = template["Parameters"]["RestApiId"]
    assert parameter["Default"] == ""  # a stack exists before the API Chalice creates
    responses = {name: resource for name, resource in template["Resources"].items()
                 if resource["Type"] == "AWS::ApiGateway::GatewayResponse"}
    by_type = {resource["Properties"]["ResponseType"]: resource for resource in responses.values()}
    assert set(by_type) == {"MISSING_AUTHENTICATION_TOKEN", "DEFAULT_4XX", "DEFAULT_5XX"}
    assert by_type["MISSING_AUTHENTICATION_TOKEN"]["Properties"]["StatusCode"] == "404"
    for response_type, resource in by_type.items():
        assert resource["Condition"] == "HasRestApi"
        body = resource["Properties"]["ResponseTemplates"]["application/json"]
        # API Gateway puts the message in as a quoted JSON string.
        error = json.loads(body.replace("$context.error.messageString", '"Missing Authentication Token"'))["error"]
        assert set(error) == {"code", "message"}, response_type
    not_found = json.loads(by_type["MISSING_AUTHENTICATION_TOKEN"]["Properties"]["ResponseTemplates"]
                           ["application/json"])
    from chalicelib.local.gateway import NOT_FOUND

    assert not_found == NOT_FOUND  # the local stack answers an unknown route as the deployed API does


def test_deploying_refuses_clearly_without_python_3_12_or_3_13(tmp_path):
    # no pyenv under HOME and only the system's python3.11 on PATH
    done = subprocess.run(["make", "package", f"DEPLOY_VENV={tmp_path / 'venv'}"], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=120)
    assert done.returncode != 0
    assert "Deploying needs python3.12 or python3.13" in done.stderr
    assert not (tmp_path / "venv").exists()


def test_redrive_moves_every_dead_letter_back_to_the_queue_with_its_attributes():
    import boto3
    from moto import mock_aws

    from infra.redrive import redrive

    with mock_aws():
        session = boto3.session.Session(region_name="eu-west-3")
        sqs = session.client("sqs")
        queue = sqs.create_queue(QueueName="parcours-t-automation")["QueueUrl"]
        dead = sqs.create_queue(QueueName="parcours-t-automation-dlq")["QueueUrl"]
        for number in range(13):
            sqs.send_message(QueueUrl=dead, MessageBody=json.dumps({"event": number}),
                             MessageAttributes={"postponed": {"DataType": "Number", "StringValue": "2"}})
        assert redrive(dead, queue, session) == 13
        moved = []
        while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                           MessageAttributeNames=["All"]).get("Messages", []):
            moved += batch
            for message in batch:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        assert sorted(json.loads(message["Body"])["event"] for message in moved) == list(range(13))
        assert all(message["MessageAttributes"]["postponed"]["StringValue"] == "2" for message in moved)
        assert not sqs.receive_message(QueueUrl=dead).get("Messages")


def test_redrive_publishes_failed_feedback_again_to_its_topic():
    import boto3
    from moto import mock_aws

    from infra.redrive import republish

    with mock_aws():
        session = boto3.session.Session(region_name="eu-west-3")
        sqs, sns = session.client("sqs"), session.client("sns")
        topic = sns.create_topic(Name="parcours-t-ses-events")["TopicArn"]
        listener = sqs.create_queue(QueueName="listener")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=listener, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        dead = sqs.create_queue(QueueName="parcours-t-feedback-dlq")["QueueUrl"]
        for number in range(3):  # what Lambda sends to an on-failure destination
            notification = {"TopicArn": topic, "Message": json.dumps({"eventType": "Bounce", "n": number}),
                            "MessageAttributes": {"kind": {"Type": "String", "Value": "ses"}}}
            sqs.send_message(QueueUrl=dead, MessageBody=json.dumps({
                "version": "1.0", "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
                "requestPayload": {"Records": [{"EventSource": "aws:sns", "Sns": notification}]},
                "responseContext": {"statusCode": 200, "functionError": "Unhandled"}}))
        assert republish(dead, session) == 3
        received = sqs.receive_message(QueueUrl=listener, MaxNumberOfMessages=10)["Messages"]
        assert sorted(json.loads(item["Body"])["n"] for item in received) == [0, 1, 2]
        assert not sqs.receive_message(QueueUrl=dead).get("Messages")


def test_on_aws_the_secrets_are_read_from_ssm_never_from_the_environment(monkeypatch):
    import boto3
    from moto import mock_aws

    from chalicelib import config

    with mock_aws():
        ssm = boto3.client("ssm", region_name="eu-west-3")
        ssm.put_parameter(Name="/parcours/t/token-secret", Value="from-ssm-token", Type="SecureString")
        ssm.put_parameter(Name="/parcours/t/webhook-secret", Value="from-ssm-hook", Type="SecureString")
        monkeypatch.delenv("PARCOURS_TOKEN_SECRET", raising=False)
        monkeypatch.delenv("PARCOURS_WEBHOOK_SECRET", raising=False)
        monkeypatch.setenv("PARCOURS_TOKEN_SECRET_PARAMETER", "/parcours/t/token-secret")
        monkeypatch.setenv("PARCOURS_WEBHOOK_SECRET_PARAMETER", "/parcours/t/webhook-secret")
        try:
            settings = config.reload()
            assert settings.token_secret == "from-ssm-token" and settings.webhook_secret == "from-ssm-hook"
        finally:
            monkeypatch.undo()
            config.reload()


def test_the_stack_template_goes_to_cloudformation_through_the_stages_private_bucket(template):
    import boto3
    from moto import mock_aws

    from infra.deploy import templates_bucket, upload_template

    with mock_aws():
        session = boto3.session.Session(region_name="eu-west-3")
        url = upload_template("t", session)
        again = upload_template("t", session)  # a second deploy reuses the bucket
        bucket = templates_bucket("t", session)
        assert url == again and url.startswith(f"https://{bucket}.s3.eu-west-3.amazonaws.com/infra/")
        s3 = session.client("s3")
        body = s3.get_object(Bucket=bucket, Key=url.split(".amazonaws.com/", 1)[1])["Body"].read()
        assert json.loads(body) == json.loads(json.dumps(template))  # the same template, compact
        blocked = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(blocked.values())
        checked = session.client("cloudformation").validate_template(TemplateURL=url)  # CloudFormation reads it
        assert checked["Description"] == template["Description"]


def test_stack_parameters_need_a_sender_first_then_keep_the_deployed_values():
    from infra.deploy import stack_parameters

    with pytest.raises(SystemExit, match="SENDER_EMAIL is required"):
        stack_parameters("dev", None, None, None, {})
    existing = {"Stage": "dev", "SenderEmail": "hello@example.com", "SenderName": "Shop", "RestApiId": "abc123"}
    parameters = {item["ParameterKey"]: item["ParameterValue"]
                  for item in stack_parameters("dev", None, "example.com", None, existing, "false")}
    assert parameters == {"Stage": "dev", "TablePrefix": "parcours-dev-", "SesConfigurationSetName": "parcours-dev",
                          "SenderEmail": "hello@example.com", "SenderName": "Shop", "RestApiId": "abc123",
                          "SenderDomain": "example.com", "CreateSenderIdentity": "false"}
