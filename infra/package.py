"""Build the Lambda package and the SAM template of a stage: `make package STAGE=dev`.

    python -m infra.package --stage dev     -> build/dev/deployment.zip and build/dev/sam.json

`make deploy` builds through the same function before `chalice deploy`, which then reuses that
very zip (Chalice caches a package by the hash of the requirements and the app's files). Without a
deployed stack, the stage's placeholders are filled with example values, so the template shows
the shape of a deployment and lints; the package does not depend on them.

The template is fixed where Chalice cannot express what the app needs:
- the API handler's log group refers to the function `${APIHandler}` (Chalice writes
  `${ApiHandler}`, a resource that does not exist, when log_retention_in_days is set: cfn-lint E1019);
- the SQS event source reports partial batch failures (only the failed messages come back).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import zipfile
from pathlib import Path

from infra import roles
from infra.stage import ROOT, chalice

BUILD = ROOT / "build"
LIMIT_BYTES = 40 * 1000 * 1000  # what the package may weigh unzipped (Lambda allows 250 MB with layers)


def example_values(config: dict, stage: str) -> dict[str, object]:
    """Placeholder values of the shape a deployment gives them, for a package built without AWS."""
    from infra.deploy import placeholders

    account, region = "123456789012", "eu-west-3"
    values: dict[str, object] = {name: f"example-{name}" for name in placeholders(config, stage)}
    values.update({
        f"{roles.logical_id(function)}Arn": f"arn:aws:iam::{account}:role/parcours-{stage}-{function}"
        for function in roles.FUNCTIONS})
    values.update({"TablePrefix": f"parcours-{stage}-", "api:url": f"https://example.execute-api.{region}.amazonaws.com/api",
                   "tracing:enabled": False, "tracing:flag": "0"})
    for name in placeholders(config, stage):
        if name.startswith("ssm:"):
            values[name] = f"/parcours/{stage}/{name[len('ssm:'):]}"
    return values


def fix_template(template: dict) -> dict:
    """The SAM template of `chalice package` with what Chalice gets wrong or cannot say put right."""
    resources = template["Resources"]
    for resource in resources.values():
        if resource["Type"] == "AWS::Logs::LogGroup":
            name = resource["Properties"]["LogGroupName"]
            if name == {"Fn::Sub": "/aws/lambda/${ApiHandler}"}:
                resource["Properties"]["LogGroupName"] = {"Fn::Sub": "/aws/lambda/${APIHandler}"}
        if resource["Type"] == "AWS::Serverless::Function":
            for event in resource["Properties"].get("Events", {}).values():
                if event["Type"] == "SQS":
                    event["Properties"]["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    return template


def unzipped_bytes(package: Path) -> int:
    with zipfile.ZipFile(package) as archive:
        return sum(item.file_size for item in archive.infolist())


def build(stage: str, filled_config: dict, out: Path | None = None) -> tuple[Path, Path]:
    """Package the stage into `out` (build/STAGE): (deployment.zip, sam.json)."""
    out = out or BUILD / stage
    out.mkdir(parents=True, exist_ok=True)
    chalice(["package", "--stage", stage, str(out)], stage, filled_config)
    template_path = out / "sam.json"
    template_path.write_text(json.dumps(fix_template(json.loads(template_path.read_text())), indent=2) + "\n")
    return out / "deployment.zip", template_path


def report(package: Path) -> int:
    size = unzipped_bytes(package)
    print(f"{package.relative_to(ROOT) if package.is_relative_to(ROOT) else package}: "
          f"{size / 1e6:.1f} MB unzipped ({package.stat().st_size / 1e6:.1f} MB zipped), "
          f"limit {LIMIT_BYTES / 1e6:.0f} MB")
    return size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.package", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args(argv)
    from infra.deploy import CONFIG, fill

    # Chalice wants a region to package, though the template names none (it says ${AWS::Region})
    if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        os.environ["AWS_DEFAULT_REGION"] = "eu-west-3"
    config = json.loads(CONFIG.read_text())
    package, template = build(args.stage, fill(config, args.stage, example_values(config, args.stage)))
    size = report(package)
    print(f"{template.relative_to(ROOT)}: the SAM template")
    if size > LIMIT_BYTES:
        print("the package is over the limit: check requirements.txt", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
