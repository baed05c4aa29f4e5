"""moto's Step Functions, parsing each state machine once rather than once per execution.

moto's interpreter turns the ASL text into its tree of states with an ANTLR parser at the
start of every execution: about 0.1 s of CPU for a reference scenario, so a burst of 5,000
signups spent minutes parsing the same few definitions. The tree holds no state of an
execution (each one evaluates it against its own environment), so the tree built for a
definition is kept and shared by the executions of that definition. A definition that does
not parse raises as before (nothing is kept for it).
"""
from __future__ import annotations

from functools import lru_cache

DEFINITIONS_KEPT = 256


def install() -> None:
    """Patch moto's ASL parser once per process (executions run as before)."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    if getattr(AmazonStateLanguageParser.parse, "cache_info", None) is not None:
        return
    AmazonStateLanguageParser.parse = staticmethod(
        lru_cache(maxsize=DEFINITIONS_KEPT)(AmazonStateLanguageParser.parse))
