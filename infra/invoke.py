"""Run a deployed function's handler here, as Lambda would run it: `python -m infra.invoke`.

    python -m infra.invoke --stage dev --function step_runner < event.json

The code is the stage's package (build/STAGE/deployment.zip, what `make deploy` uploaded),
unzipped and run alone on this interpreter (no site-packages: only what the package holds); the
environment is the function's own, read from Lambda (GetFunctionConfiguration), with this
machine's AWS credentials, region and endpoint. The handler's answer is printed as JSON on the
last line of stdout, after the function's own log lines.

It is how the test suite runs the deployed app on an emulated AWS, which stores functions but
cannot run them; against AWS it reproduces an invocation with the operator's permissions.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from infra.package import BUILD

# Runs in the child: the package first on the path, then the handler, as Lambda's bootstrap does.
BOOTSTRAP = """
import json, sys, uuid
sys.path.insert(0, sys.argv[1])
module_name, handler_name = sys.argv[2].rsplit(".", 1)
module = __import__(module_name)

class Context:
    function_name = sys.argv[3]
    aws_request_id = str(uuid.uuid4())
    memory_limit_in_mb = 512
    invoked_function_arn = sys.argv[4]
    def get_remaining_time_in_millis(self):
        return 60000

result = getattr(module, handler_name)(json.load(sys.stdin), Context())
print(json.dumps(result, default=str))
"""
PASSED_THROUGH = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                  "AWS_CA_BUNDLE", "HOME", "PATH", "TZ")


def function_name(stage: str, function: str) -> str:
    """Chalice's name for a function of the stage (the API handler is named after the app)."""
    return f"parcours-{stage}" if function == "api_handler" else f"parcours-{stage}-{function}"


def unpacked(stage: str) -> Path:
    """The stage's package, unzipped next to it (again whenever the zip changed)."""
    package = BUILD / stage / "deployment.zip"
    target = BUILD / stage / "unzipped"
    stamp = target / ".from"
    signature = f"{package.stat().st_mtime_ns}:{package.stat().st_size}"
    if not stamp.exists() or stamp.read_text() != signature:
        with zipfile.ZipFile(package) as archive:
            archive.extractall(target)
        stamp.write_text(signature)
    return target


def invoke(stage: str, function: str, event: Any, session: Any) -> tuple[Any, str]:
    """Run the deployed function on `event`: (its answer, what it logged)."""
    configuration = session.client("lambda").get_function_configuration(FunctionName=function_name(stage, function))
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    env.update(configuration.get("Environment", {}).get("Variables", {}))
    env.update({"AWS_REGION": session.region_name, "AWS_DEFAULT_REGION": session.region_name,
                "AWS_LAMBDA_FUNCTION_NAME": configuration["FunctionName"]})
    done = subprocess.run(
        [sys.executable, "-S", "-c", BOOTSTRAP, str(unpacked(stage)), configuration["Handler"],
         configuration["FunctionName"], configuration["FunctionArn"]],
        input=json.dumps(event), capture_output=True, text=True, env=env, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{function} failed:\n{done.stdout}\n{done.stderr}")
    *logged, answer = done.stdout.rstrip("\n").split("\n")
    return json.loads(answer), "\n".join(logged) + done.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.invoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--function", required=True, help="api_handler, step_runner, automation, ...")
    args = parser.parse_args(argv)

    import boto3

    answer, logged = invoke(args.stage, args.function, json.load(sys.stdin), boto3.session.Session())
    print(logged)
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
