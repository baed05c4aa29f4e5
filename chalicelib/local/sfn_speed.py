"""moto's Step Functions, parsing each state machine once rather than once per execution, and
invoking Lambda through one client rather than a new one per Task.

moto's interpreter turns the ASL text into its tree of states with an ANTLR parser at the
start of every execution: about 0.1 s of CPU for a reference scenario, so a burst of 5,000
signups spent minutes parsing the same few definitions. The tree holds no state of an
execution (each one evaluates it against its own environment), so the tree built for a
definition is kept and shared by the executions of that definition. A definition that does
not parse raises as before (nothing is kept for it).

Each JSONPath of a state (its Parameters, InputPath, ResultPath...) was parsed anew at every
step of every execution, and jsonpath_ng builds its parser tables again at each parse: the
parsed paths are kept by text (finding or updating through one only reads it).

Each Lambda Task state also built a new boto3 client (a tenth of a burst's CPU: loading the
service model, copying the event hooks); botocore clients are safe to share between threads,
so one is kept per region and mode.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

DEFINITIONS_KEPT = 256
PATHS_KEPT = 1024


def install() -> None:
    """Patch moto's ASL parser once per process (executions run as before)."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    if getattr(AmazonStateLanguageParser.parse, "cache_info", None) is not None:
        return
    AmazonStateLanguageParser.parse = staticmethod(
        lru_cache(maxsize=DEFINITIONS_KEPT)(AmazonStateLanguageParser.parse))

    from moto.core.models import botocore_stubber
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.utils import json_path

    json_path.parse = lru_cache(maxsize=PATHS_KEPT)(json_path.parse)
    result_path.parse = lru_cache(maxsize=PATHS_KEPT)(result_path.parse)

    new_client = lambda_eval_utils.boto_client_for

    @lru_cache(maxsize=16)
    def kept_client(region: str, service: str, intercepted: bool) -> Any:
        return new_client(region=region, service=service)

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # moto's own builds the same client whatever the credentials (fixed test keys)
        return kept_client(region, service, bool(botocore_stubber.enabled))

    lambda_eval_utils.boto_client_for = boto_client_for
