"""Who reads which events: the facts of the routing record (events.routing), derived from what
marketers define, so that ingestion and automation skip the work no reader can need.

Facts are plain strings:
- `event:PATTERN`: something reads stored events of this type (`prefix.*` and `*` as webhooks
  subscribe); ingestion queues an event for automation only when a pattern takes its type;
- `trigger:TYPE`, `wait:TYPE`, `goal:TYPE`: a scenario starts on, waits for, or converts on it;
- `score:TYPE` (a score rule on it) and `score:*` (a criteria rule: every event re-scores the
  profile);
- `segment-dep:KEY`: a segment is indexed under KEY of the segment-deps table ("event:TYPE",
  "field:PATH", "list:ID", "any": a new contact), so its Query can find something;
- `field:PATH`: a segment or a rule reads this contact field (`last_activity_at` moves with
  every event a contact does).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.criteria.deps import dependencies
from chalicelib.scenarios.references import steps
from chalicelib.scoring.rules import DEFAULT_SETTINGS
from chalicelib.vocabulary import is_system_type

# Read in every account, whatever it defines: SES/SNS feedback posted as events, the double
# opt-in, the account's contact totals, contact changes (segments and webhooks on fields).
ALWAYS = frozenset({"email.bounced", "email.complained", "email.delivered", "sms.opted_out",
                    "contact.consent_requested", "contact.consent_confirmed",
                    "contact.created", "contact.updated", "contact.deleted"})
COMPLETE = "complete"  # the record holds every reader (built once from what exists): it may be trusted
ACTIVITY_FIELD = "last_activity_at"


def scenario_facts(definition: Mapping[str, Any]) -> set[str]:
    """What a scenario reads: its trigger, goals, the events its wait_for steps await and
    those its exit_when names."""
    found: set[str] = set()
    trigger = definition.get("trigger")
    if isinstance(trigger, Mapping) and isinstance(trigger.get("event"), str):
        found |= {f"trigger:{trigger['event']}", f"event:{trigger['event']}"}
    for goal in definition.get("goals") or []:
        if isinstance(goal, Mapping) and isinstance(goal.get("event"), str):
            found |= {f"goal:{goal['event']}", f"event:{goal['event']}"}
    for _, step in steps(definition):
        if step.get("type") == "wait_for" and isinstance(step.get("event"), str):
            found |= {f"wait:{step['event']}", f"event:{step['event']}"}
    exit_when = definition.get("exit_when")
    if isinstance(exit_when, Mapping):
        found |= {f"event:{name}" for name in dependencies(exit_when).event_types}
    return found


def segment_facts(criteria: Mapping[str, Any], dep_keys: Iterable[str]) -> set[str]:
    """What a segment indexed under `dep_keys` reads."""
    deps = dependencies(criteria)
    found = {f"segment-dep:{key}" for key in dep_keys}
    found |= {f"event:{name}" for name in deps.event_types}
    found |= {f"field:{name}" for name in deps.fields}
    if deps.lists:
        found |= {"event:list.joined", "event:list.left"}
    if deps.segments:
        found |= {"event:segment.entered", "event:segment.left"}
    return found


def scoring_facts(settings: Mapping[str, Any] | None) -> set[str]:
    """What scoring settings read (the defaults when none are stored)."""
    rules = (settings if settings is not None else DEFAULT_SETTINGS).get("rules") or []
    found = {"score:none"}  # never empty: DynamoDB stores no empty set
    for rule in rules:
        if not isinstance(rule, Mapping):
            continue
        if isinstance(rule.get("event"), str):
            found |= {f"score:{rule['event']}", f"event:{rule['event']}"}
        elif "criteria" in rule:
            found |= {"score:*", "event:*"}
    return found


def webhook_facts(patterns: Iterable[str]) -> set[str]:
    return {f"event:{pattern}" for pattern in patterns}


def _pattern_takes(pattern: str, event_type: str) -> bool:
    return pattern == "*" or pattern == event_type or (pattern.endswith(".*") and event_type.startswith(pattern[:-1]))


def queued(facts: frozenset[str], event_type: str) -> bool:
    """Whether automation has anything to do with a stored event of this type. An event a
    contact does (not a system event) also moves its last_activity_at."""
    if COMPLETE not in facts or event_type in ALWAYS:
        return True
    if not is_system_type(event_type) and f"field:{ACTIVITY_FIELD}" in facts:
        return True
    return any(_pattern_takes(fact[len("event:"):], event_type) for fact in facts if fact.startswith("event:"))


def reads(facts: frozenset[str], reader: str, subject: str) -> bool:
    """Whether `reader` (trigger, wait, goal, score, segment-dep) can have anything for `subject`
    (an event type, a segment-deps key)."""
    return COMPLETE not in facts or f"{reader}:{subject}" in facts or f"{reader}:*" in facts
