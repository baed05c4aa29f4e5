"""infra/: the CloudFormation template lints clean, matches the PynamoDB models, and feeds the Chalice config."""
from __future__ import annotations

import json
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
    return [statement for policy in template["Resources"][role]["Properties"]["Policies"]
            for statement in policy["PolicyDocument"]["Statement"]]


def _actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_app_role_reaches_every_table_and_index_by_arn(template):
    tables = _tables(template)
    statements = {s["Sid"]: s for s in _statements(template, "AppRole")}
    on_tables = {item["Fn::GetAtt"][0] if isinstance(item["Fn::GetAtt"], list) else item["Fn::GetAtt"].split(".")[0]
                 for item in statements["AppTables"]["Resource"]}
    assert on_tables == {logical_id for logical_id, _ in tables.values()}
    indexed = {logical_id for logical_id, props in tables.values() if props.get("GlobalSecondaryIndexes")}
    on_indexes = {item["Fn::Sub"].split(".Arn}")[0].lstrip("${") for item in statements["AppIndexes"]["Resource"]}
    assert on_indexes == indexed
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query",
            "dynamodb:ConditionCheckItem"} <= set(_actions(statements["AppTables"]))


def test_app_role_grants_what_the_app_calls_and_scopes_by_arn(template):
    statements = _statements(template, "AppRole")
    granted = {action for statement in statements for action in _actions(statement)}
    assert {
        "states:StartExecution", "states:StopExecution", "states:SendTaskSuccess", "states:CreateStateMachine",
        "states:UpdateStateMachine", "states:CreateStateMachineAlias", "states:UpdateStateMachineAlias",
        "states:PublishStateMachineVersion", "states:DescribeExecution", "states:ListExecutions", "iam:PassRole",
        "ses:SendEmail", "ses:SendRawEmail", "ses:GetSuppressedDestination", "sns:Publish", "sqs:SendMessage",
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "s3:PutObject", "s3:GetObject",
    } <= granted
    # "*" only where AWS has no resource-level permission for the action.
    unscoped = {action for statement in statements if statement["Resource"] == "*" for action in _actions(statement)}
    assert unscoped == {"states:SendTaskSuccess", "ses:GetSuppressedDestination", "sns:Publish"}
    assert not any(action.endswith(":*") or action == "*" for action in granted)
    passrole = next(s for s in statements if "iam:PassRole" in _actions(s))
    assert passrole["Resource"] == {"Fn::GetAtt": ["StateMachineRole", "Arn"]}


def test_state_machine_role_only_invokes_the_step_runner(template):
    statements = _statements(template, "StateMachineRole")
    assert [_actions(s) for s in statements] == [["lambda:InvokeFunction"]]
    assert all("function:parcours-${Stage}-step_runner" in item["Fn::Sub"] for item in statements[0]["Resource"])


def test_queue_topics_and_ses_configuration(template):
    resources = template["Resources"]
    queue = resources["AutomationQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["AutomationDeadLetterQueue", "Arn"]}
    # Lambda's SQS event source wants the visibility timeout >= the consumer's timeout (6x advised).
    consumer_timeout = max(stage["lambda_functions"]["automation"]["lambda_timeout"]
                           for stage in json.loads(CHALICE_CONFIG.read_text())["stages"].values())
    assert queue["VisibilityTimeout"] >= 6 * consumer_timeout
    parameters = template["Parameters"]
    assert parameters["AutomationQueueName"]["Default"] == "parcours-automation"
    assert parameters["SesEventsTopicName"]["Default"] == "parcours-ses-events"
    assert parameters["SmsInboundTopicName"]["Default"] == "parcours-sms-inbound"
    destination = resources["ConfigurationSetEventDestination"]["Properties"]["EventDestination"]
    assert set(destination["MatchingEventTypes"]) == {"bounce", "complaint", "delivery", "open", "click", "reject"}
    assert destination["SnsDestination"]["TopicARN"] == {"Ref": "SesEventsTopic"}


def test_app_py_event_sources_use_the_template_names():
    source = (ROOT / "app.py").read_text()
    assert 'queue="parcours-automation"' in source
    for topic in ("parcours-ses-events", "parcours-sms-inbound"):
        assert f'topic="{topic}"' in source


# -- .chalice/config.json --------------------------------------------------------------------


def _env_outputs(template: dict) -> dict[str, str]:
    """Environment variable -> output key, from the outputs described as PARCOURS_..."""
    return {output["Description"].split()[0]: key for key, output in template["Outputs"].items()
            if output["Description"].startswith("PARCOURS_")}


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
                    or placeholder.startswith(f"ssm:/parcours/{name}/")), placeholder
        assert stage["iam_role_arn"] == "${AppRoleArn}"
    assert config["manage_iam_role"] is False and config["app_name"] == "parcours"


def _function_names(chalice_app) -> set[str]:
    return ({"api_handler"} | {function.name for function in chalice_app.pure_lambda_functions}
            | {source.name for source in chalice_app.event_sources})


def test_chalice_accepts_the_config_of_every_stage(config, tmp_path, monkeypatch):
    from chalice.cli.factory import CLIFactory
    from chalice.deploy import validate

    import app as app_module
    from infra.deploy import fill, placeholders

    # The routes' own checks are the next test's; this one is about the configuration.
    monkeypatch.setattr(validate, "validate_route_content_types", lambda *args: None)
    for stage in config["stages"]:
        values = {name: "x" for name in placeholders(config, stage)}
        values["AppRoleArn"] = "arn:aws:iam::123456789012:role/parcours-test-app"
        filled = fill(config, stage, values)
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
        assert chalice_config.iam_role_arn.endswith("parcours-test-app") and not chalice_config.manage_iam_role


def test_chalice_accepts_the_routes_of_the_app():
    """What `chalice deploy` checks of the routes before it deploys anything."""
    from chalice.deploy.validate import validate_route_content_types

    import app as app_module

    validate_route_content_types(app_module.app.routes, app_module.app.api.binary_types)


def test_fill_touches_only_the_chosen_stage(config):
    from infra.deploy import fill

    values = {"AppRoleArn": "arn:role", "TablePrefix": "parcours-dev-", "StateMachineRoleArn": "a",
              "StepRunnerArn": "b", "AutomationQueueUrl": "c", "SesConfigurationSet": "d", "EmailFrom": "e",
              "ImportsBucket": "f", "JobWorkerFunction": "g",
              "api:url": "https://api", "ssm:/parcours/dev/token-secret": "s3cret",
              "ssm:/parcours/dev/webhook-secret": "hook-s3cret"}
    filled = fill(config, "dev", values)
    assert filled["stages"]["dev"]["environment_variables"]["PARCOURS_TABLE_PREFIX"] == "parcours-dev-"
    assert filled["stages"]["dev"]["environment_variables"]["PARCOURS_TOKEN_SECRET"] == "s3cret"
    assert filled["stages"]["dev"]["environment_variables"]["PARCOURS_WEBHOOK_SECRET"] == "hook-s3cret"
    assert filled["stages"]["prod"] == config["stages"]["prod"]
    with pytest.raises(KeyError):
        fill(config, "dev", {})


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
