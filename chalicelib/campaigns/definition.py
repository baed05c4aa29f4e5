"""What a campaign is, and what is wrong with one: plain Python, no AWS.

A campaign (DESIGN.md section 7) is `{"id", "name", "channel": "email" | "sms", "template": ID`
or inline `"subject", "html", "text"` (SMS: `"text"`), `"audience": {"lists", "segments",
"exclude_lists"}, "ab_test"?, "settings"?}`. The content is checked as a scenario's email and
sms steps are; `settings` (quiet_hours, timezone) as a scenario's.

`ab_test`: `{"variants": [{"subject": ...}, {"subject": ...}], "share": 20, "winner": {"by":
"opens" | "clicks", "after": "PT4H"}}`: two to five variants, each overriding parts of the
content (or naming its own template), tried on `share` percent of the audience; after `after`
the variant with the best rate of unique opens (or clicks) goes to the rest.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from chalicelib import durations
from chalicelib.problems import Problem, join
from chalicelib.scenarios.schema import content_problems, settings_problems, time_of_day_problems

KEYS = ("id", "name", "channel", "template", "subject", "html", "text", "audience", "ab_test", "settings")
CONTENT = ("template", "subject", "html", "text")
AUDIENCE = ("lists", "segments", "exclude_lists")
CHANNELS = ("email", "sms")
MAX_GROUPS = 20  # lists or segments of one audience part
MAX_VARIANTS = 5
WINNER_BY = ("opens", "clicks")
DEFAULT_SHARE = 20
DEFAULT_AFTER = "PT4H"
MAX_AFTER_SECONDS = 30 * 86400
MAX_NAME = 200
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")
REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
VARIANT_NAMES = "ABCDE"


def problems(body: Any, *, path_id: str | None = None) -> list[Problem]:
    """Every problem of a campaign body; empty when it is valid. `path_id` is the id in the URL
    of a PUT (the body may repeat it, not change it)."""
    if not isinstance(body, dict):
        return [Problem("", 'a campaign is an object {"id", "name", "channel", "template" or content, "audience"}')]
    found = [Problem(str(key), f"unknown field {str(key)!r}; expected {', '.join(KEYS)}")
             for key in body if key not in KEYS]
    campaign_id = body.get("id", path_id)
    if not isinstance(campaign_id, str) or not ID.fullmatch(campaign_id):
        found.append(Problem("id", "id is required: letters, digits, _ . : - (at most 100), starting with a letter "
                                   "or digit"))
    elif path_id is not None and campaign_id != path_id:
        found.append(Problem("id", "the id cannot change (it is the one in the URL)"))
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        found.append(Problem("name", f"name is required: text of at most {MAX_NAME} characters"))
    channel = body.get("channel")
    if channel not in CHANNELS:
        found.append(Problem("channel", 'channel is required: "email" or "sms"'))
    else:
        found += _content(body, channel)
    found += _audience(body.get("audience"))
    if "ab_test" in body and body["ab_test"] is not None:
        found += _ab_test(body["ab_test"], channel if channel in CHANNELS else "email",
                          whole=not any(key in body for key in CONTENT))
    if "settings" in body:
        found += settings_problems(body["settings"], "settings")
    return found


def _content(body: dict[str, Any], channel: str) -> list[Problem]:
    content = {key: body[key] for key in CONTENT if key in body}
    if channel == "sms" and ("subject" in content or "html" in content):
        return [Problem("subject" if "subject" in content else "html", "an sms has a text (or a template) only")]
    if not content and body.get("ab_test"):
        return []  # every variant brings its own content (checked there)
    return content_problems(content, channel, "")


def _audience(audience: Any) -> list[Problem]:
    if not isinstance(audience, dict):
        return [Problem("audience",
                        'audience is required: {"lists": [...], "segments": [...], "exclude_lists": [...]}')]
    found = [Problem(join("audience", str(key)), f"unknown field {str(key)!r}; expected {', '.join(AUDIENCE)}")
             for key in audience if key not in AUDIENCE]
    for key in AUDIENCE:
        value = audience.get(key, [])
        if not isinstance(value, list) or len(value) > MAX_GROUPS:
            found.append(Problem(join("audience", key), f"{key} is a list of at most {MAX_GROUPS} ids"))
            continue
        for index, item in enumerate(value):
            if not isinstance(item, str) or not REFERENCE.fullmatch(item):
                found.append(Problem(join(join("audience", key), index),
                                     "an id (letters, digits, _ . : -, at most 128)"))
    if not found and not audience.get("lists") and not audience.get("segments"):
        found.append(Problem("audience", "an audience needs at least one list or segment"))
    return found


def _ab_test(ab: Any, channel: str, *, whole: bool) -> list[Problem]:
    """`whole`: the campaign has no content of its own, so each variant is a whole message."""
    if not isinstance(ab, dict):
        return [Problem("ab_test", 'ab_test is an object {"variants": [...], "share": 20, "winner": {"by", "after"}}')]
    found = [Problem(join("ab_test", str(key)), f"unknown field {str(key)!r}; expected variants, share, winner")
             for key in ab if key not in ("variants", "share", "winner")]
    variants = ab.get("variants")
    if not isinstance(variants, list) or not 2 <= len(variants) <= MAX_VARIANTS:
        found.append(Problem("ab_test.variants", f"variants is a list of 2 to {MAX_VARIANTS} contents to compare"))
    else:
        for index, variant in enumerate(variants):
            where = join("ab_test.variants", index)
            if not isinstance(variant, dict) or not variant:
                found.append(Problem(where, "a variant is an object with the parts it changes (subject, html, text) "
                                            "or a template"))
                continue
            found += [Problem(join(where, str(key)), f"unknown field {str(key)!r}; expected {', '.join(CONTENT)}")
                      for key in variant if key not in CONTENT]
            known = {key: value for key, value in variant.items() if key in CONTENT}
            if "template" in known or channel == "sms" or whole:
                found += content_problems(known, channel, where)
            else:  # parts over the campaign's content: each part is checked on its own
                found += content_problems({"subject": "-", "text": "-", **known}, channel, where)
    share = ab.get("share", DEFAULT_SHARE)
    if isinstance(share, bool) or not isinstance(share, int) or not 1 <= share <= 100:
        found.append(Problem("ab_test.share", "share is the percentage of the audience tested, 1 to 100"))
    winner = ab.get("winner", {})
    if not isinstance(winner, dict):
        found.append(Problem("ab_test.winner", 'winner is an object {"by": "opens" | "clicks", "after": "PT4H"}'))
    else:
        found += [Problem(join("ab_test.winner", str(key)), f"unknown field {str(key)!r}; expected by, after")
                  for key in winner if key not in ("by", "after")]
        if winner.get("by", "opens") not in WINNER_BY:
            found.append(Problem("ab_test.winner.by", 'by is "opens" or "clicks" (unique, per message sent)'))
        if channel == "sms" and winner.get("by", "opens") == "opens":
            found.append(Problem("ab_test.winner.by", 'an SMS cannot be seen opened: choose "clicks"'))
        after = winner.get("after", DEFAULT_AFTER)
        try:
            seconds = durations.seconds(after) if isinstance(after, str) else -1
        except (ValueError, TypeError, ArithmeticError):
            seconds = -1
        if not 0 < seconds <= MAX_AFTER_SECONDS:
            found.append(Problem("ab_test.winner.after", "after is an ISO 8601 duration up to 30 days, such as PT4H"))
    return found


def variant_names(definition: dict[str, Any]) -> list[str]:
    """The variants' names (A, B, ...), or [] without an A/B test."""
    ab = definition.get("ab_test") or {}
    return list(VARIANT_NAMES[:len(ab.get("variants") or [])])


def content(definition: dict[str, Any], variant: str | None) -> dict[str, Any]:
    """The content a recipient of `variant` gets: the campaign's, with the variant's parts over it
    (a variant naming a template takes that template whole)."""
    base = {key: definition[key] for key in CONTENT if key in definition}
    if not variant:
        return base
    override = dict((definition.get("ab_test") or {})["variants"][VARIANT_NAMES.index(variant)])
    if "template" in override:
        return override
    return {**base, **override}


def winner_rule(definition: dict[str, Any]) -> tuple[str, str, int]:
    """(by, after, share) of the A/B test, defaults applied."""
    ab = definition.get("ab_test") or {}
    winner = ab.get("winner") or {}
    return winner.get("by", "opens"), winner.get("after", DEFAULT_AFTER), int(ab.get("share", DEFAULT_SHARE))


def schedule_problems(body: Any, now: datetime) -> list[Problem]:
    """What is wrong with `{"at": "now" | ISO date-time, "local_time"?: "HH:MM"}`."""
    if not isinstance(body, dict):
        return [Problem("", 'a schedule is {"at": "now" | ISO date-time, "local_time"?: "HH:MM"}')]
    found = [Problem(str(key), f"unknown field {str(key)!r}; expected at, local_time")
             for key in body if key not in ("at", "local_time")]
    at = body.get("at")
    if at != "now":
        moment = parse_moment(at)
        if moment is None:
            found.append(Problem("at", '"now", or a date-time with its offset such as 2026-12-01T09:00:00+01:00'))
        elif (moment - now).total_seconds() > 366 * 86400:
            found.append(Problem("at", "at most a year ahead"))
    if "local_time" in body:
        found += time_of_day_problems(body["local_time"], "local_time")
    return found


def parse_moment(value: Any) -> datetime | None:
    """An ISO date-time with an offset (or Z), as an aware datetime; None otherwise."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def body_schema() -> dict[str, Any]:
    """The JSON Schema of a campaign body (for GET /openapi.json); `problems` has the last word."""
    ids = {"type": "array", "maxItems": MAX_GROUPS, "items": {"type": "string", "pattern": REFERENCE.pattern}}
    part = {"type": "string", "minLength": 1}
    return {"type": "object", "required": ["id", "name", "channel", "audience"],
            "properties": {"id": {"type": "string", "pattern": ID.pattern},
                           "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
                           "channel": {"enum": list(CHANNELS)},
                           "template": {"type": "string", "pattern": REFERENCE.pattern},
                           "subject": part, "html": part, "text": part,
                           "audience": {"type": "object", "additionalProperties": False,
                                        "properties": {key: ids for key in AUDIENCE}},
                           "ab_test": {"type": ["object", "null"]},
                           "settings": {"type": "object"}}}


def schedule_schema() -> dict[str, Any]:
    return {"type": "object", "required": ["at"], "additionalProperties": False,
            "properties": {"at": {"anyOf": [{"const": "now"}, {"type": "string", "format": "date-time"}]},
                           "local_time": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}}}
