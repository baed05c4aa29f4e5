"""The words scenarios, events and criteria share: step types, event types, built-in fields.

Defined once so that what a scenario may name is exactly what ingestion accepts, what
criteria may test and what activity may count. Plain Python.
"""
from __future__ import annotations

import re
from typing import TypeGuard

# -- steps of a scenario (DESIGN.md section 6) ---------------------------------------------

# Fields of each step type besides `id` and `type`.
STEP_FIELDS: dict[str, frozenset[str]] = {
    "email": frozenset({"template", "subject", "html", "text", "transactional"}),
    "sms": frozenset({"template", "text", "transactional"}),
    "wait": frozenset({"duration", "until"}),
    "wait_for": frozenset({"event", "where", "timeout", "then", "else"}),
    "if": frozenset({"condition", "then", "else"}),
    "split": frozenset({"branches"}),
    "add_to_list": frozenset({"list"}),
    "remove_from_list": frozenset({"list"}),
    "score": frozenset({"points"}),
    "update_contact": frozenset({"set"}),
    "webhook": frozenset({"url", "body"}),
    "delete_contact": frozenset(),
    "exit": frozenset(),
}
STEP_TYPES: tuple[str, ...] = tuple(STEP_FIELDS)
# Steps that become one Task calling the step runner with action "step".
ACTION_TYPES: frozenset[str] = frozenset({
    "email", "sms", "add_to_list", "remove_from_list", "score", "update_contact", "webhook",
    "delete_contact", "exit"})
# Steps that end the journey: nothing may follow them in their list.
TERMINAL_TYPES: frozenset[str] = frozenset({"exit", "delete_contact"})

# -- event types (DESIGN.md section 4) -----------------------------------------------------

# The one grammar of an event type: a letter first, then letters, digits and _ . : -
EVENT_TYPE_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,99}")
EVENT_TYPE_RULE = "a letter, then letters, digits or _ . : -, at most 100 characters"

# Dotted names the system itself records; only admin and marketer keys may post them
# (to import history), never a web frontend's ingest key.
SYSTEM_PREFIXES: tuple[str, ...] = (
    "contact.", "list.", "segment.", "score.", "stage.", "email.", "sms.", "journey.", "campaign.")


def is_event_type(value: object) -> TypeGuard[str]:
    """Whether `value` is an event type ingestion accepts (system types included)."""
    return isinstance(value, str) and EVENT_TYPE_PATTERN.fullmatch(value) is not None


def is_system_type(event_type: str) -> bool:
    return event_type.startswith(SYSTEM_PREFIXES)


# -- event ids -----------------------------------------------------------------------------

# Posted ids and the ids the system derives (`<enrollment>/entered`, `<message>/sent`, ...)
# share the idempotency table, so they live in separate namespaces: otherwise a posted id
# could claim a system id in advance and suppress what it stands for.
CLIENT_EVENT_ID = "c:"
SYSTEM_EVENT_ID = "s:"


def client_event_id(posted: str) -> str:
    """The stored id of an event posted to POST /events."""
    return CLIENT_EVENT_ID + posted


def system_event_id(derived: str) -> str:
    """The stored id of an event the system records (an id derived from a system id keeps its
    namespace; one derived from a posted id, `c:evt-1/contact.created`, enters the system's)."""
    return derived if derived.startswith(SYSTEM_EVENT_ID) else SYSTEM_EVENT_ID + derived


# -- contact fields (DESIGN.md section 5) --------------------------------------------------

# Contact fields a condition may name directly. `consent.email` and `consent.sms` resolve to
# the boolean `granted` of the consent record.
BUILTIN_FIELDS: frozenset[str] = frozenset({
    "email", "phone", "external_id", "first_name", "last_name", "birthday", "timezone",
    "language", "score", "stage", "activity_rank", "created_at", "last_activity_at",
    "email_status", "consent.email", "consent.sms",
})
# The names of the contact's own fields: a custom field of one of these names must be
# written attributes.NAME.
BUILTIN_NAMES: frozenset[str] = frozenset(name.partition(".")[0] for name in BUILTIN_FIELDS)
# Built-in contact fields holding a date (trigger dates, waits until a date).
DATE_FIELDS: tuple[str, ...] = ("birthday", "created_at", "last_activity_at")
# The dates a date trigger can run on: the daily job finds the contacts whose day comes through
# an index on month-day, which only birthday has (scenarios/dates.py).
TRIGGER_DATE_FIELDS: tuple[str, ...] = ("birthday",)
