"""Deploy a stage to AWS: `make deploy STAGE=dev` runs `python -m infra.deploy --stage dev`.

In order: the infra stack (infra/template.yaml, through CloudFormation), the stage's secrets in
SSM Parameter Store (SecureStrings, created at random when missing), an admin key when the stage
has none (printed once), the package (infra/package.py), `chalice deploy` of that package, then
what Chalice cannot do: partial batch failures on the queue's event source, the feedback
functions' on-failure destination, and the stack's gateway responses on the API Chalice created.

.chalice/config.json is committed with placeholders, never with account values or secrets:

    ${OutputKey}          an output of the CloudFormation stack
    ${ssm:NAME}           the SecureString /parcours/STAGE/NAME: its name (the functions read it at run time)
    ${service}            parcours-STAGE, the service name of logs and metrics
    ${api:url}            the public base URL: --public-base-url (a custom domain), else the URL of
                          the stage's API (on the very first deploy the app is deployed twice to learn it)
    ${tracing:enabled}    X-Ray tracing of the functions (--tracing), and ${tracing:flag} the same as 1 or 0

A stage that .chalice/config.json does not name (a test stage, a second account) gets the
settings of `dev`.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import sys
from typing import Any

from infra.stage import CONFIG, ROOT, chalice

TEMPLATE = ROOT / "infra" / "template.yaml"
PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
PENDING_URL = "https://pending.invalid"


def with_stage(config: dict, stage: str) -> dict:
    """The config, with `stage` given dev's settings when it has none of its own."""
    if stage in config["stages"]:
        return config
    return {**config, "stages": {**config["stages"], stage: json.loads(json.dumps(config["stages"]["dev"]))}}


def fill(config: dict, stage: str, values: dict[str, Any]) -> dict:
    """The config with the placeholders of `stage` replaced; KeyError names a missing value.
    A setting that is one placeholder takes the value as it is (a boolean stays a boolean)."""
    config = with_stage(config, stage)
    values = {**values, "service": f"parcours-{stage}"}

    def resolve(node: Any) -> Any:
        if isinstance(node, str):
            whole = PLACEHOLDER.fullmatch(node)
            if whole:
                return values[whole.group(1)]
            return PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), node)
        if isinstance(node, dict):
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    filled = json.loads(json.dumps(config))
    filled["stages"] = {name: (resolve(body) if name == stage else body) for name, body in config["stages"].items()}
    return filled


def placeholders(config: dict, stage: str) -> set[str]:
    """The placeholder names a stage's settings use."""
    return set(PLACEHOLDER.findall(json.dumps(with_stage(config, stage)["stages"][stage]))) - {"service"}


# -- the infra stack --------------------------------------------------------------------------


def stack_parameters(stage: str, sender_email: str | None, sender_domain: str | None,
                     alarm_email: str | None, existing: dict[str, str],
                     create_sender_identity: str | None = None) -> list[dict]:
    """The stack's parameters: the given ones, else those of the deployed stack, else the defaults."""
    given = {"Stage": stage, "TablePrefix": f"parcours-{stage}-", "SesConfigurationSetName": f"parcours-{stage}",
             "SenderEmail": sender_email, "SenderDomain": sender_domain, "AlarmEmail": alarm_email,
             "CreateSenderIdentity": create_sender_identity}
    if not given["SenderEmail"] and "SenderEmail" not in existing:
        raise SystemExit("SENDER_EMAIL is required on the first deploy of a stage (make deploy SENDER_EMAIL=...)")
    parameters = [{"ParameterKey": key, "ParameterValue": value} for key, value in given.items() if value is not None]
    named = {key for key, value in given.items() if value is not None}
    # the deployed values, spelled out (no parameter of the template is NoEcho)
    parameters += [{"ParameterKey": key, "ParameterValue": value} for key, value in existing.items()
                   if key not in named]
    return parameters


def stack_template() -> str:
    """infra/template.yaml as compact JSON: the same template in fewer bytes."""
    from cfn_flip import to_json

    return json.dumps(json.loads(to_json(TEMPLATE.read_text())), separators=(",", ":"))


def templates_bucket(stage: str, session: Any) -> str:
    """The stage's bucket of stack templates (bucket names are global: account and region in it)."""
    account = session.client("sts").get_caller_identity()["Account"]
    return f"parcours-{stage}-templates-{account}-{session.region_name}"


def upload_template(stage: str, session: Any) -> str:
    """The stack's template, uploaded to the stage's templates bucket (created when missing); its URL.
    CloudFormation takes at most 51,200 bytes inline, about the template's size: it always goes through S3."""
    s3 = session.client("s3")
    bucket = templates_bucket(stage, session)
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        where = {} if session.region_name == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": session.region_name}}
        s3.create_bucket(Bucket=bucket, **where)
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
        print(f"created the bucket {bucket} for the stack's template")
    body = stack_template().encode()
    key = f"infra/{hashlib.sha256(body).hexdigest()}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return f"https://{bucket}.s3.{session.region_name}.amazonaws.com/{key}"


def deploy_stack(session: Any, stack: str, stage: str, sender_email: str | None = None,
                 sender_domain: str | None = None, alarm_email: str | None = None,
                 create_sender_identity: str | None = None) -> dict[str, str]:
    """Create or update the infra stack; its outputs."""
    cloudformation = session.client("cloudformation")
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except cloudformation.exceptions.ClientError as error:
        if "does not exist" not in str(error):
            raise
        described = None
    existing = {item["ParameterKey"]: item["ParameterValue"] for item in (described or {}).get("Parameters", [])}
    arguments = {"StackName": stack, "TemplateURL": upload_template(stage, session),
                 "Capabilities": ["CAPABILITY_NAMED_IAM"],
                 "Parameters": stack_parameters(stage, sender_email, sender_domain, alarm_email, existing,
                                                create_sender_identity),
                 "Tags": [{"Key": "parcours:stage", "Value": stage}]}
    if described is None:
        print(f"creating the stack {stack}")
        cloudformation.create_stack(**arguments)
        cloudformation.get_waiter("stack_create_complete").wait(StackName=stack)
    else:
        try:
            cloudformation.update_stack(**arguments)
            print(f"updating the stack {stack}")
            cloudformation.get_waiter("stack_update_complete").wait(StackName=stack)
        except cloudformation.exceptions.ClientError as error:
            if "No updates are to be performed" not in str(error):
                raise
    return stack_outputs(stack, session)


def stack_outputs(stack: str, session: Any) -> dict[str, str]:
    described = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {item["OutputKey"]: item["OutputValue"] for item in described.get("Outputs", [])}


def ensure_secret(name: str, session: Any) -> str:
    """The SecureString `name`, created at random when missing; its name (never its value) goes on."""
    ssm = session.client("ssm")
    try:
        ssm.get_parameter(Name=name)
    except ssm.exceptions.ParameterNotFound:
        ssm.put_parameter(Name=name, Value=secrets.token_urlsafe(48), Type="SecureString", Overwrite=False,
                          Description=f"Parcours: {name} (a signing key, random)")
        print(f"created the SecureString {name}")
    return name


# -- what Chalice recorded --------------------------------------------------------------------


def _deployed_resources(stage: str) -> list[dict]:
    """What `chalice deploy` recorded for the stage (.chalice/deployed/STAGE.json)."""
    state = ROOT / ".chalice" / "deployed" / f"{stage}.json"
    if not state.exists():
        return []
    return list(json.loads(state.read_text()).get("resources", []))


def deployed_url(stage: str) -> str | None:
    """The REST API URL Chalice recorded for the stage at its last deploy."""
    for resource in _deployed_resources(stage):
        if resource.get("resource_type") == "rest_api" and resource.get("rest_api_url"):
            return str(resource["rest_api_url"]).rstrip("/")
    return None


def deployed_api_id(stage: str) -> str | None:
    """The id of the REST API Chalice created for the stage."""
    for resource in _deployed_resources(stage):
        if resource.get("resource_type") == "rest_api" and resource.get("rest_api_id"):
            return str(resource["rest_api_id"])
    return None


def report_batch_item_failures(stage: str, session: Any) -> int:
    """Turn on partial batch responses on the stage's SQS event sources (Chalice has no setting
    for it): a handler that returns batchItemFailures gives back only the failed messages."""
    client = session.client("lambda")
    changed = 0
    for resource in _deployed_resources(stage):
        if resource.get("resource_type") == "sqs_event" and resource.get("event_uuid"):
            mapping = client.get_event_source_mapping(UUID=resource["event_uuid"])
            if "ReportBatchItemFailures" not in (mapping.get("FunctionResponseTypes") or []):
                client.update_event_source_mapping(UUID=resource["event_uuid"],
                                                   FunctionResponseTypes=["ReportBatchItemFailures"])
                changed += 1
    return changed


ASYNC_FUNCTIONS = ("ses_events", "sms_inbound")  # invoked by SNS, asynchronously


def route_async_failures(stage: str, outputs: dict[str, str], session: Any) -> None:
    """Send what the SNS-invoked functions failed three times to the feedback dead-letter queue
    (a Lambda on-failure destination; Chalice has no setting for it) instead of dropping it."""
    client = session.client("lambda")
    for function in ASYNC_FUNCTIONS:
        client.put_function_event_invoke_config(
            FunctionName=f"parcours-{stage}-{function}", MaximumRetryAttempts=2,
            DestinationConfig={"OnFailure": {"Destination": outputs["FeedbackDeadLetterQueueArn"]}})


def attach_gateway_responses(stack: str, config: dict, stage: str, session: Any) -> None:
    """Give the stack the API's id, so its gateway responses (404 in the error format for unknown
    routes) apply to the API Chalice created, then redeploy the stage for them to take effect."""
    api_id = deployed_api_id(stage)
    if api_id is None:
        return
    cloudformation = session.client("cloudformation")
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    parameters = {item["ParameterKey"]: item["ParameterValue"] for item in described.get("Parameters", [])}
    if parameters.get("RestApiId") == api_id:
        return
    cloudformation.update_stack(
        StackName=stack, UsePreviousTemplate=True, Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()
                    if key != "RestApiId"] + [{"ParameterKey": "RestApiId", "ParameterValue": api_id}])
    cloudformation.get_waiter("stack_update_complete").wait(StackName=stack)
    api_stage = with_stage(config, stage)["stages"][stage].get("api_gateway_stage", "api")
    session.client("apigateway").create_deployment(restApiId=api_id, stageName=api_stage,
                                                   description="gateway responses in the error format")
    print(f"gateway responses attached to API {api_id}")


def bootstrap_admin(outputs: dict[str, str], region: str) -> None:
    """Create an admin key when the stage has none (keys are only ever created through an admin)."""
    os.environ["PARCOURS_TABLE_PREFIX"] = outputs["TablePrefix"]
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region
    from chalicelib import config as app_config

    app_config.reload()
    from chalicelib import keys
    from chalicelib.store.models import ApiKey

    if any(True for _ in ApiKey.scan(ApiKey.role == "admin", limit=1000)):
        return
    _, key = keys.create("admin", "bootstrap admin")
    print(f"\nadmin key (shown once; create other keys with it, then keep it safe): {key}\n")


def values_for(config: dict, stage: str, outputs: dict[str, str], session: Any, *, url: str | None,
               tracing: bool) -> dict[str, Any]:
    values: dict[str, Any] = dict(outputs)
    for name in placeholders(config, stage):
        if name.startswith("ssm:"):
            values[name] = ensure_secret(f"/parcours/{stage}/{name[len('ssm:'):]}", session)
    values["api:url"] = url or PENDING_URL
    values["tracing:enabled"] = tracing
    values["tracing:flag"] = "1" if tracing else "0"
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--stack", help="the infra stack (default parcours-STAGE)")
    parser.add_argument("--sender-email", help="the From address (required on a stage's first deploy)")
    parser.add_argument("--sender-domain", help="a domain to send from, with DKIM (SES domain identity)")
    parser.add_argument("--alarm-email", help="an address the alarms topic mails")
    parser.add_argument("--create-sender-identity", choices=["true", "false"],
                        help="false when the sender address or its domain is verified in SES outside the stack")
    parser.add_argument("--public-base-url", help="PARCOURS_PUBLIC_BASE_URL (a custom domain); default the API URL")
    parser.add_argument("--tracing", action="store_true", help="X-Ray tracing of the functions")
    args = parser.parse_args(argv)

    import boto3

    from infra import package

    session = boto3.session.Session()
    if not session.region_name:
        print("no AWS region: set AWS_DEFAULT_REGION (e.g. eu-west-3) or a profile with one", file=sys.stderr)
        return 2
    stack = args.stack or f"parcours-{args.stage}"
    config = json.loads(CONFIG.read_text())
    outputs = deploy_stack(session, stack, args.stage, args.sender_email, args.sender_domain, args.alarm_email,
                           args.create_sender_identity)
    url = args.public_base_url or deployed_url(args.stage)
    values = values_for(config, args.stage, outputs, session, url=url, tracing=args.tracing)
    missing = sorted(placeholders(config, args.stage) - set(values))
    if missing:
        print(f"stack {stack} has no output for {', '.join(missing)}: is infra/template.yaml current?",
              file=sys.stderr)
        return 2
    bootstrap_admin(outputs, session.region_name)

    def ship() -> None:
        filled = fill(config, args.stage, values)
        zipped, _ = package.build(args.stage, filled)
        package.report(zipped)
        chalice(["deploy", "--stage", args.stage], args.stage, filled)

    ship()
    if url is None:  # first deploy: the API URL exists now; tracking links need it
        values["api:url"] = deployed_url(args.stage) or PENDING_URL
        print(f"redeploying with PARCOURS_PUBLIC_BASE_URL={values['api:url']}")
        ship()
    if report_batch_item_failures(args.stage, session):
        print("the automation queue's event source reports partial batch failures")
    route_async_failures(args.stage, outputs, session)
    attach_gateway_responses(stack, config, args.stage, session)
    print(f"deployed: {values['api:url']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
