"""Remove a stage from AWS: `make destroy STAGE=dev CONFIRM=dev`.

Everything `make deploy` made goes, data included: the scenarios' state machines (created at
publish time, they belong to no stack), the Chalice app (functions, API, event sources,
schedules, log groups), the infra stack, the tables and the imports bucket it keeps on a plain
stack deletion (DeletionPolicy Retain), and the stage's SecureStrings.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from infra.stage import CONFIG, ROOT, chalice


def delete_state_machines(prefix: str, session: Any) -> list[str]:
    """The stage's state machines (named PREFIX + scenario id), with their versions and aliases."""
    client = session.client("stepfunctions")
    deleted = []
    for page in client.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"].startswith(prefix):
                client.delete_state_machine(stateMachineArn=machine["stateMachineArn"])
                deleted.append(machine["name"])
    return deleted


def delete_tables(prefix: str, session: Any) -> list[str]:
    client = session.client("dynamodb")
    names = [name for page in client.get_paginator("list_tables").paginate() for name in page["TableNames"]
             if name.startswith(prefix)]
    for name in names:
        client.delete_table(TableName=name)
    return names


def delete_bucket(name: str, session: Any) -> None:
    bucket = session.resource("s3").Bucket(name)
    try:
        bucket.object_versions.delete()
        bucket.delete()
    except bucket.meta.client.exceptions.NoSuchBucket:
        pass


def delete_secrets(stage: str, session: Any) -> list[str]:
    client = session.client("ssm")
    names = [item["Name"] for page in client.get_paginator("get_parameters_by_path").paginate(
        Path=f"/parcours/{stage}/", Recursive=True) for item in page["Parameters"]]
    for name in names:
        client.delete_parameter(Name=name)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.destroy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--stack", help="the infra stack (default parcours-STAGE)")
    parser.add_argument("--confirm", default="", help="the stage's name again: its data is deleted")
    args = parser.parse_args(argv)
    if args.confirm != args.stage:
        print(f"this deletes the stage {args.stage!r} and all its data: repeat its name (CONFIRM={args.stage})",
              file=sys.stderr)
        return 2

    import boto3

    from infra.deploy import fill, placeholders, stack_outputs, templates_bucket
    from infra.package import example_values

    session = boto3.session.Session()
    stack = args.stack or f"parcours-{args.stage}"
    try:
        outputs = stack_outputs(stack, session)
    except session.client("cloudformation").exceptions.ClientError:
        outputs = {}
    prefix = outputs.get("TablePrefix", f"parcours-{args.stage}-")
    for name in delete_state_machines(prefix, session):
        print(f"deleted the state machine {name}")
    record = ROOT / ".chalice" / "deployed" / f"{args.stage}.json"
    if record.exists():
        config = json.loads(CONFIG.read_text())
        values = {**example_values(config, args.stage), **outputs}
        assert placeholders(config, args.stage) <= set(values)
        chalice(["delete", "--stage", args.stage], args.stage, fill(config, args.stage, values))
        record.unlink(missing_ok=True)  # Chalice leaves an empty record: the stage is gone
    if outputs:
        cloudformation = session.client("cloudformation")
        cloudformation.delete_stack(StackName=stack)
        cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack)
        print(f"deleted the stack {stack}")
        if outputs.get("ImportsBucket"):
            delete_bucket(outputs["ImportsBucket"], session)
    delete_bucket(templates_bucket(args.stage, session), session)
    for name in delete_tables(prefix, session):
        print(f"deleted the table {name}")
    for name in delete_secrets(args.stage, session):
        print(f"deleted the SecureString {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
