"""Deploy the Chalice app on top of the infra stack: `make deploy STAGE=dev` runs this last.

.chalice/config.json is committed with placeholders, never with account values or secrets:

    ${OutputKey}        an output of the CloudFormation stack (infra/template.yaml)
    ${ssm:/NAME}        a SecureString of SSM Parameter Store, created (random) when missing
    ${api:url}          the stage's API URL (--public-base-url, else the URL of the last deploy;
                        on the very first deploy the app is deployed twice to learn it)

For the duration of `chalice deploy --stage STAGE` the placeholders of that stage are filled
in; the committed file is put back afterwards, whatever happens. When the stage's api-keys
table holds no admin key yet, one is created and printed once (there is no other way in).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".chalice" / "config.json"
PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
PENDING_URL = "https://pending.invalid"


def fill(config: dict, stage: str, values: dict[str, str]) -> dict:
    """The config with the placeholders of `stage` replaced; KeyError names a missing value."""
    if stage not in config.get("stages", {}):
        raise KeyError(f"stage {stage!r} is not in .chalice/config.json")

    def resolve(node: Any) -> Any:
        if isinstance(node, str):
            return PLACEHOLDER.sub(lambda match: values[match.group(1)], node)
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
    return set(PLACEHOLDER.findall(json.dumps(config["stages"][stage])))


def stack_outputs(stack: str, session: Any) -> dict[str, str]:
    described = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {item["OutputKey"]: item["OutputValue"] for item in described.get("Outputs", [])}


def ssm_secret(name: str, session: Any) -> str:
    ssm = session.client("ssm")
    try:
        return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        value = secrets.token_urlsafe(48)
        ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=False,
                          Description=f"Parcours: {name} (a signing key, random)")
        print(f"created the SecureString {name}")
        return value


def deployed_url(stage: str) -> str | None:
    """The REST API URL Chalice recorded for the stage at its last deploy."""
    state = ROOT / ".chalice" / "deployments" / f"{stage}.json"
    if not state.exists():
        return None
    for resource in json.loads(state.read_text()).get("resources", []):
        if resource.get("resource_type") == "rest_api" and resource.get("rest_api_url"):
            return resource["rest_api_url"].rstrip("/")
    return None


def deployed_api_id(stage: str) -> str | None:
    """The id of the REST API Chalice created for the stage."""
    state = ROOT / ".chalice" / "deployments" / f"{stage}.json"
    if not state.exists():
        return None
    for resource in json.loads(state.read_text()).get("resources", []):
        if resource.get("resource_type") == "rest_api" and resource.get("rest_api_id"):
            return str(resource["rest_api_id"])
    return None


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
        Parameters=[{"ParameterKey": key, "UsePreviousValue": True} for key in parameters if key != "RestApiId"]
        + [{"ParameterKey": "RestApiId", "ParameterValue": api_id}])
    cloudformation.get_waiter("stack_update_complete").wait(StackName=stack)
    api_stage = config["stages"][stage].get("api_gateway_stage", "api")
    session.client("apigateway").create_deployment(restApiId=api_id, stageName=api_stage,
                                                   description="gateway responses in the error format")
    print(f"gateway responses attached to API {api_id}")


def chalice_deploy(config: dict, stage: str, chalice: str) -> None:
    original = CONFIG.read_text()
    try:
        CONFIG.write_text(json.dumps(config, indent=2) + "\n")
        subprocess.run([chalice, "deploy", "--stage", stage], cwd=ROOT, check=True)
    finally:
        CONFIG.write_text(original)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--stack", help="the infra stack (default parcours-STAGE)")
    parser.add_argument("--public-base-url", help="PARCOURS_PUBLIC_BASE_URL (a custom domain); default the API URL")
    parser.add_argument("--chalice", default=str(Path(sys.executable).with_name("chalice")))
    parser.add_argument("--dry-run", action="store_true", help="print the filled config instead of deploying")
    args = parser.parse_args(argv)

    import boto3

    session = boto3.session.Session()
    if not session.region_name:
        print("no AWS region: set AWS_DEFAULT_REGION (e.g. eu-west-3) or a profile with one", file=sys.stderr)
        return 2
    stack = args.stack or f"parcours-{args.stage}"
    config = json.loads(CONFIG.read_text())
    values = stack_outputs(stack, session)
    for name in placeholders(config, args.stage):
        if name.startswith("ssm:"):
            values[name] = ssm_secret(name[len("ssm:"):], session)
    url = args.public_base_url or deployed_url(args.stage)
    values["api:url"] = url or PENDING_URL
    missing = sorted(placeholders(config, args.stage) - set(values))
    if missing:
        print(f"stack {stack} has no output for {', '.join(missing)}: deploy infra/template.yaml first",
              file=sys.stderr)
        return 2
    filled = fill(config, args.stage, values)
    if args.dry_run:
        redacted = {key: ("***" if key.startswith("ssm:") else value) for key, value in values.items()}
        print(json.dumps(fill(config, args.stage, redacted)["stages"][args.stage], indent=2))
        return 0
    bootstrap_admin(values, session.region_name)
    chalice_deploy(filled, args.stage, args.chalice)
    if url is None:  # first deploy: the API URL exists now; tracking links need it
        values["api:url"] = deployed_url(args.stage) or PENDING_URL
        print(f"redeploying with PARCOURS_PUBLIC_BASE_URL={values['api:url']}")
        chalice_deploy(fill(config, args.stage, values), args.stage, args.chalice)
    attach_gateway_responses(stack, config, args.stage, session)
    return 0


if __name__ == "__main__":
    sys.exit(main())
