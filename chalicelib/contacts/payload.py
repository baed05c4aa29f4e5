"""The contact bodies of POST and PATCH /contacts, checked and turned into an identity and a change."""
from __future__ import annotations

from typing import Any

from chalicelib import limits
from chalicelib.config import settings
from chalicelib.contacts import service
from chalicelib.contacts.fields import FieldError, clean_traits
from chalicelib.events import service as events
from chalicelib.events.validate import normalize_identifier
from chalicelib.problems import Problem

CONSENT_KEYS = ("email", "sms", "source")
MAX_SOURCE = 200  # as in events: a form's or a campaign's name, not a document


def parse_upsert(body: dict[str, Any], *, public: bool = False
                 ) -> tuple[service.Identity, service.Change, list[Problem]]:
    """`public`: the ingest key's body (fill-only, consent by double opt-in, no withdrawal)."""
    change, problems = parse_patch(body)
    if public:
        change.public, change.overwrite = True, settings().ingest_overwrites
        problems += public_refusals(change)
    identity = service.Identity(**{name: change.traits[name] for name in service.IDENTIFIERS
                                   if change.traits.get(name)})
    if not any(p.path in service.IDENTIFIERS for p in problems) and not any(
            (identity.email, identity.phone, identity.external_id)):
        problems.append(Problem("", "a contact needs at least one of email, phone or external_id"))
    return identity, change, problems


def parse_patch(body: dict[str, Any]) -> tuple[service.Change, list[Problem]]:
    raw_consent = body.get("consent")
    traits = {key: value for key, value in body.items() if key != "consent"}
    cleaned, problems = clean_traits(traits, "")
    problems = [Problem(p.path.lstrip("."), p.message) for p in problems]
    problems.extend(limits.problems(body) or limits.size_problem(body, ""))
    attributes = cleaned.pop("attributes", None) or {}
    consent, source = {}, None
    if raw_consent is not None:
        if not isinstance(raw_consent, dict):
            problems.append(Problem("consent", 'consent must be an object such as {"email": true}'))
        else:
            for key, value in raw_consent.items():
                if key not in CONSENT_KEYS:
                    problems.append(Problem(f"consent.{key}", f"unknown field '{key}'; expected email, sms or source"))
                elif key == "source":
                    source = value if isinstance(value, str) and len(value) <= MAX_SOURCE else None
                    if source is None:
                        problems.append(Problem("consent.source",
                                                f"source must be a string of at most {MAX_SOURCE} characters"))
                elif isinstance(value, bool):
                    consent[key] = value
                else:
                    problems.append(Problem(f"consent.{key}", f"{key} must be true or false"))
    return service.Change(traits=cleaned, attributes=attributes, consent=consent, consent_source=source), problems


def find_one(lookup: dict[str, str]) -> tuple[service.Contact | None, list[Problem]]:
    name, value = next(iter(lookup.items()))
    try:
        value = normalize_identifier(name, value)
    except FieldError as error:
        return None, [Problem(name, str(error))]
    return service.find_by(name, value), []


def announce(upserted: service.Upserted) -> None:
    """Record contact.created / contact.updated (and a double opt-in's contact.consent_requested)
    and hand them to automation."""
    import uuid

    origin = f"api-{uuid.uuid4()}"
    stored = events.contact_events(upserted, origin=origin)
    for channel in service.pending_channels(upserted.contact, upserted.changed, created=upserted.created):
        requested = events.record(upserted.contact.id, "contact.consent_requested", {"channel": channel},
                                  event_id=f"{origin}/consent.{channel}")
        stored += [requested] if requested else []
    events.queue.enqueue(stored)


def public_refusals(change: service.Change) -> list[Problem]:
    """What the public ingest key may not ask of POST /contacts, whether or not the contact exists."""
    return [Problem(f"consent.{channel}", "an ingest key cannot withdraw consent: the unsubscribe link in every "
                                          "message does, or a server-side key")
            for channel, granted in change.consent.items() if not granted]
