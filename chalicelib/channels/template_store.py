"""Email and SMS templates: checked at save time, stored, previewed.

A template body is `{"id", "channel": "email"|"sms", "name", "subject", "html", "text"}`:
an email needs a subject and html and/or text (the text part is generated from the rendered
HTML at send time when absent); an SMS needs a text and has no subject or html. Every part
is compiled in the sandbox (channels.templates) at save time: a syntax error, an unknown
filter or test, an include or an access to a `_` attribute is refused with its path and line
("html", "line 3: unknown filter 'shout'"). An SMS template reports its length (encoding
and segments) for the text as written; a preview reports it for the rendered text.
"""
from __future__ import annotations

import re
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib import clock, faults, limits
from chalicelib.channels import render, templates
from chalicelib.channels.sms_text import segments
from chalicelib.contacts import service as contacts
from chalicelib.problems import Problem
from chalicelib.scenarios import references
from chalicelib.scenarios import service as scenarios
from chalicelib.store.models import Template

ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")  # as scenario steps refer to templates
FIELDS = ("id", "channel", "name", "subject", "html", "text")
PARTS = {"email": ("subject", "html", "text"), "sms": ("text",)}
MAX_NAME = 200
MAX_SUBJECT = 998  # a header line
MAX_BYTES = 350 * 1024  # a DynamoDB item holds 400 KB
PREVIEW_UNSUBSCRIBE_URL = "https://unsubscribe.invalid/preview"


class Conflict(Exception):
    """A template with this id exists already."""


def body_schema() -> dict[str, Any]:
    """The JSON Schema of a template body, from the rules `validate` applies (for GET /openapi.json);
    the sandbox checks of the parts are the validator's alone."""
    text = {"type": "string", "maxLength": MAX_BYTES}
    return {"type": "object", "required": ["id", "channel"], "additionalProperties": False,
            "properties": {"id": {"type": "string", "pattern": f"^{ID.pattern}$"},
                           "channel": {"enum": sorted(PARTS)},
                           "name": {"type": "string", "maxLength": MAX_NAME},
                           "subject": {"type": "string", "maxLength": MAX_SUBJECT}, "html": text, "text": text}}


def validate(body: dict[str, Any], *, template_id: str | None = None) -> tuple[dict[str, Any], list[Problem]]:
    """The cleaned template and every problem found (each with its path)."""
    storable = limits.problems(body)
    if storable:  # nothing else can be read safely from a value DynamoDB would refuse
        return {}, storable
    problems = [Problem(key, f"unknown field '{key}'; expected {', '.join(FIELDS)}") for key in body
                if key not in FIELDS]
    if template_id is not None:
        if "id" in body and body["id"] != template_id:
            problems.append(Problem("id", "id must match the template id in the path"))
        identifier: Any = template_id
    else:
        identifier = body.get("id")
    if not isinstance(identifier, str) or not ID.fullmatch(identifier):
        problems.append(Problem("id", "id must be 1 to 128 letters, digits, '_', '.', ':' or '-', starting with a "
                                      "letter or digit"))
    channel = body.get("channel")
    if not isinstance(channel, str) or channel not in PARTS:
        problems.append(Problem("channel", 'channel must be "email" or "sms"'))
        channel = None
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME):
        problems.append(Problem("name", f"name must be a string of at most {MAX_NAME} characters"))
    cleaned: dict[str, Any] = {"id": identifier, "channel": channel, "name": name}
    for part in ("subject", "html", "text"):
        value = body.get(part)
        if value is None or (isinstance(value, str) and not value.strip() and part != "subject"):
            cleaned[part] = None
            continue
        if not isinstance(value, str):
            problems.append(Problem(part, f"{part} must be a string"))
            continue
        if channel in PARTS and part not in PARTS[channel]:
            problems.append(Problem(part, f"an SMS template has no {part}; put the message in text"))
            continue
        cleaned[part] = value
    if channel == "email":
        subject = cleaned.get("subject")
        if not isinstance(subject, str) or not subject.strip():
            if "subject" not in {p.path for p in problems}:
                problems.append(Problem("subject", "an email template needs a subject"))
        elif len(subject) > MAX_SUBJECT:
            problems.append(Problem("subject", f"subject is limited to {MAX_SUBJECT} characters"))
        if not cleaned.get("html") and not cleaned.get("text") and not {"html", "text"} & {p.path for p in problems}:
            problems.append(Problem("html", "an email template needs html and/or text"))
    elif channel == "sms" and not cleaned.get("text") and "text" not in {p.path for p in problems}:
        problems.append(Problem("text", "an SMS template needs a text"))
    size = sum(len(value.encode("utf-8")) for value in cleaned.values() if isinstance(value, str))
    if size > MAX_BYTES:
        problems.append(Problem("", f"the template is too large ({size} bytes; at most {MAX_BYTES})"))
    for part in ("subject", "html", "text"):
        if isinstance(cleaned.get(part), str) and part not in {p.path for p in problems}:
            try:
                templates.check(cleaned[part])
            except templates.TemplateError as error:
                problems.append(Problem(part, str(error)))
    return cleaned, problems


def get(template_id: str) -> Template | None:
    try:
        return Template.get(template_id, consistent_read=True)
    except DoesNotExist:
        return None


def create(cleaned: dict[str, Any]) -> Template:
    now = clock.iso(clock.now())
    item = Template(cleaned["id"], created_at=now, updated_at=now, **_content(cleaned))
    try:
        item.save(condition=Template.id.does_not_exist())
    except PutError as error:
        if faults.lost_to_condition(error):
            raise Conflict(cleaned["id"]) from None
        raise
    return item


def replace(cleaned: dict[str, Any]) -> tuple[Template, bool]:
    """Create or replace; answers the template and whether it was created."""
    existing = get(cleaned["id"])
    if existing is None:
        try:
            return create(cleaned), True
        except Conflict:
            existing = get(cleaned["id"])
    now = clock.iso(clock.now())
    item = Template(cleaned["id"], created_at=existing.created_at if existing else now, updated_at=now,
                    **_content(cleaned))
    item.save()
    return item, False


def delete(template_id: str) -> bool:
    item = get(template_id)
    if item is None:
        return False
    item.delete()
    return True


def list_page(limit: int, cursor: dict | None) -> tuple[list[Template], dict | None]:
    result = Template.scan(limit=limit, last_evaluated_key=cursor)
    return list(result), result.last_evaluated_key


def _content(cleaned: dict[str, Any]) -> dict[str, Any]:
    return {"channel": cleaned["channel"], "name": cleaned.get("name"), "subject": cleaned.get("subject"),
            "html": cleaned.get("html"), "text": cleaned.get("text")}


def to_api(item: Template) -> dict[str, Any]:
    data: dict[str, Any] = {"id": item.id, "channel": item.channel, "name": item.name, "subject": item.subject,
                            "html": item.html, "text": item.text, "created_at": item.created_at,
                            "updated_at": item.updated_at}
    if item.channel == "sms":
        data["length"] = segments(item.text or "").as_dict()
    else:
        data["text_generated"] = not item.text
    return data


# --------------------------------------------------------------------------- preview


def preview_variables(body: dict[str, Any]) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The variables of a preview body: `{"contact_id"}` or `{"contact": {...}}`, with optional
    `event` (the trigger's properties) and `scenario` ({"id", "name"})."""
    allowed = ("contact_id", "contact", "event", "scenario")
    problems = [Problem(key, f"unknown field '{key}'; expected {', '.join(allowed)}") for key in body
                if key not in allowed]
    contact: dict[str, Any] | None = None
    if "contact_id" in body and "contact" in body:
        problems.append(Problem("", "give contact_id or contact, not both"))
    elif "contact_id" in body:
        if not isinstance(body["contact_id"], str) or not body["contact_id"]:
            problems.append(Problem("contact_id", "contact_id must be a string"))
        else:
            found = contacts.get(body["contact_id"])
            if found is None:
                problems.append(Problem("contact_id", "no contact has this id"))
            else:
                contact = contacts.to_api(found)
    elif "contact" in body:
        if not isinstance(body["contact"], dict):
            problems.append(Problem("contact", "contact must be an object of contact fields"))
        else:
            contact = body["contact"]
    else:
        problems.append(Problem("", 'a preview needs {"contact_id": ID} or {"contact": {...}}'))
    for key in ("event", "scenario"):
        if key in body and not isinstance(body[key], dict):
            problems.append(Problem(key, f"{key} must be an object"))
    if problems:
        return None, problems
    return templates.template_variables(contact=contact or {}, event=body.get("event") or {},
                                        scenario=body.get("scenario") or {},
                                        unsubscribe_url=PREVIEW_UNSUBSCRIBE_URL), []


def preview(item: Template, variables: dict[str, Any]) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The rendered template as the sender renders it (minus link tracking and the open pixel,
    with a placeholder unsubscribe URL); problems carry the part and line that failed."""
    rendered: dict[str, Any] = {"channel": item.channel}
    content = {"subject": item.subject, "html": item.html, "text": item.text}
    errors: list[render.PartError] = []
    if item.channel == "sms":
        try:
            rendered["text"] = render.sms(content, variables)
        except render.PartError as error:
            errors.append(error)
        else:
            rendered["length"] = segments(rendered["text"]).as_dict()
    else:
        rendered.update(render.email(content, variables, render.Links(PREVIEW_UNSUBSCRIBE_URL),
                                     transactional=False, errors=errors))
    if errors:
        return None, [Problem(error.part, str(error)) for error in errors]
    return rendered, []


def used_by(template_id: str) -> list[str]:
    """The live or paused scenarios whose running version sends this template."""
    found = []
    for head in scenarios.list_heads():
        if head.status not in ("live", "paused") or not head.live_version:
            continue
        named = references.references(scenarios.definition(head.id, int(head.live_version)))
        if any(reference.kind == "template" and reference.id == template_id for reference in named):
            found.append(head.id)
    return sorted(found)
