"""Report counters, moved where things happen and never twice for one fact.

The step runner, automation and feedback call in here at the moment a journey enters, reaches
or finishes a step, ends, or a message is sent, skipped, delivered, opened, clicked,
unsubscribed, bounced or complained about. Each fact is counted once: it is added to its
holder's `counted` set (enrollment or message) in the same transaction as the counters
(store.reports.count_once), so a retried Task, a duplicate SES notification or a second open
adds nothing. Days are the domain clock's UTC days.

Every counter in a transaction costs two write units (four past 1 KB), on every journey: a
fact moves its day's counter only (what is running or waiting now is the sum over all days, read
by the report), a scenario's message numbers live on its steps' counters only (its totals are
their sum), a send is counted with its step's journey facts, and a step runner Task counts its
journey once at its end (scenarios.journeys.counted_once).
"""
from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from typing import Any

from chalicelib import clock
from chalicelib.logs import logger
from chalicelib.reports import flow
from chalicelib.store import reports as store
from chalicelib.store.models import Contact, Enrollment, Message, Scenario

ATTEMPTS = 5
FACTS_PER_WRITE = 20  # a transaction takes 100 items: each fact moves at most two counters
# What a message's history counts (its first of each kind); opened and clicked are so unique.
MESSAGE_FACTS = ("sent", "skipped", "failed", "delivered", "opened", "clicked", "unsubscribed", "bounced",
                 "complained")
CONTACT_EVENTS = ("contact.created", "contact.updated", "contact.deleted", "contact.consent_confirmed")
# A contact.updated that changed none of these leaves the totals as they are.
COUNTED_FIELDS = frozenset({"consent.email", "consent.sms", "sms_opt_out"})


def today() -> str:
    return clock.now().date().isoformat()


def scenario_scope(scenario_id: str) -> str:
    return f"scenario#{scenario_id}"


def slot(day: str, version: int, step: str = "") -> str:
    return f"{day}#{version}#{step}"


# -- journeys -------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _definition(scenario_id: str, version: int) -> dict[str, Any]:
    """A version's definition; versions never change once stored."""
    return dict(Scenario.get(scenario_id, version, consistent_read=True).definition)


def forget_definitions() -> None:
    """A new local stack holds new scenarios under the same ids and versions."""
    _definition.cache_clear()


def journey(enrollment: Enrollment) -> None:
    """Count what the journey has done since it was last counted (its facts, see reports.flow).

    A failure is logged, never raised: a report never stops a journey, and the next record of
    the journey counts what this one missed (its facts are recomputed from the whole path)."""
    try:
        _count_journey(enrollment)
    except Exception:
        logger.exception("journey not counted", extra={"enrollment": enrollment.id})


def journey_and_set(enrollment: Enrollment, values: dict[str, str | None], *,
                    path: list[dict[str, Any]] | None = None) -> bool:
    """Count the journey's new facts and, in that one write, set `values` on its enrollment (None
    removes one) and add `path` entries to its path; False (nothing written) when there is
    nothing new to count or the write lost a race: the caller writes the values itself and counts
    as usual. Other failures are raised."""
    if enrollment.id is None or enrollment.scenario_id is None:
        return False
    version = int(enrollment.version or 0)
    try:
        new = sorted(_new_facts(enrollment, version, starting="execution_arn" in values))
    except Exception:  # a report never stops a journey: the caller's own write goes ahead
        logger.exception("journey not counted", extra={"enrollment": enrollment.id})
        return False
    if not new or len(new) > FACTS_PER_WRITE:
        return False
    holder = {"contact_id": enrollment.contact_id, "key": enrollment.key}
    if not store.count_once(store.table_of(Enrollment), holder, new,
                            _journey_adds(enrollment.scenario_id, version, set(new)), sets=values,
                            append=("path", path) if path else None):
        return False
    enrollment.counted = set(enrollment.counted or ()) | set(new)
    return True


def _new_facts(enrollment: Enrollment, version: int, *, starting: bool = False) -> set[str]:
    found = flow.facts(_definition(str(enrollment.scenario_id), version), list(enrollment.path or []),
                       int(enrollment.bucket or 0), enrollment.status or "running")
    if enrollment.status == "running" and enrollment.execution_arn is None and not starting:
        # The consumer that starts a journey counts its entry as it notes the execution
        # (journeys.started, retried until it does). A step that reads the journey before that
        # leaves the entry to it rather than race it: the loser's transaction is refused and paid.
        found.discard("entered")
    return found - set(enrollment.counted or ())


def _count_journey(enrollment: Enrollment) -> None:
    current: Enrollment | None = enrollment
    for _ in range(ATTEMPTS):
        if current is None or current.id is None or current.scenario_id is None:
            return
        version = int(current.version or 0)
        new = sorted(_new_facts(current, version))
        if not new:
            return
        holder = {"contact_id": current.contact_id, "key": current.key}
        if all(store.count_once(store.table_of(Enrollment), holder, part,
                                _journey_adds(current.scenario_id, version, set(part)))
               for part in (new[index:index + FACTS_PER_WRITE] for index in range(0, len(new), FACTS_PER_WRITE))):
            current.counted = set(current.counted or ()) | set(new)  # a later count of this copy starts here
            return
        try:
            current = Enrollment.get(current.contact_id, current.key, consistent_read=True)
        except Enrollment.DoesNotExist:
            return


def _journey_adds(scenario_id: str, version: int, facts: set[str]) -> dict[tuple[str, str], dict[str, int]]:
    scope, day = scenario_scope(scenario_id), today()
    adds: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for fact in facts:
        kind, _, rest = fact.partition(":")
        if kind == "entered":
            adds[(scope, slot(day, version))]["entered"] += 1
        elif kind == "ended":
            adds[(scope, slot(day, version))][rest] += 1
        elif kind == "branch":
            step, _, branch = rest.rpartition(":")
            adds[(scope, slot(day, version, step))][f"branch:{branch}"] += 1
        elif kind == "left":  # the journey ended at this step: how (converted, exited...) counts there too
            status, _, step = rest.partition(":")
            adds[(scope, slot(day, version, step))]["left"] += 1
            adds[(scope, slot(day, version, step))][status] += 1
        elif kind == "sent":  # the step's message went out: the step's and the account's day count it
            adds[(scope, slot(day, version, rest))]["sent"] += 1
            adds[(store.ACCOUNT, day)]["sent"] += 1
        elif kind == "skipped":
            step, _, reason = rest.partition(":")
            adds[(scope, slot(day, version, step))][f"skipped:{reason}"] += 1
        else:  # reached, completed
            adds[(scope, slot(day, version, rest))][kind] += 1
    return {key: dict(value) for key, value in adds.items()}


# -- messages -------------------------------------------------------------------------------


def message(item: Message, kind: str, *, reason: str | None = None) -> None:
    """Count a message's first `kind` (delivered, opened, clicked, ...; a scenario's sends and
    skips are counted with the journey's step, see flow): for its step (a scenario's totals are
    the sum of its steps'), and for the account's day (sends and engagement)."""
    if kind not in MESSAGE_FACTS:
        return
    try:
        store.count_once(store.table_of(Message), {"contact_id": item.contact_id, "id": item.id}, [kind],
                         message_adds(item, kind, reason=reason))
    except Exception:  # a report never stops a send or a notification
        logger.exception("message not counted", extra={"message": item.id, "kind": kind})


def message_adds(item: Message, kind: str, *, reason: str | None = None) -> dict[tuple[str, str], dict[str, int]]:
    """The counters a message's first `kind` moves."""
    day, name = today(), f"skipped:{reason or 'unknown'}" if kind == "skipped" else kind
    adds: dict[tuple[str, str], dict[str, int]] = {}
    if item.scenario and item.step and item.version:
        adds[(scenario_scope(item.scenario), slot(day, int(item.version), item.step))] = {name: 1}
    if kind != "skipped":
        adds[(store.ACCOUNT, day)] = {kind: 1}
    adds.update(_campaign_slots(item, {name: 1}))
    return adds


def noted(item: Message, kind: str, entry: dict[str, Any], status: str | None) -> bool:
    """A message's first `kind`, in one write: the entry added to its history, its status raised
    to `status` (None: kept) on the condition that it is still `item.status`, and counted. False
    when `kind` is counted already or the message changed or went meanwhile: nothing was written."""
    if kind not in MESSAGE_FACTS:
        return False
    return store.count_once(store.table_of(Message), {"contact_id": item.contact_id, "id": item.id}, [kind],
                            message_adds(item, kind), append=("events", [entry]),
                            sets={"status": status} if status else None,
                            expect={"status": item.status} if status else None)


# -- campaigns ------------------------------------------------------------------------------


def campaign_scope(campaign_id: str) -> str:
    """A campaign's counters (each spread over the store's shards, as every counter: a campaign
    sends up to the account's rate, far more than one item takes)."""
    return f"campaign#{campaign_id}"


def _campaign_slots(item: Message, counts: dict[str, int]) -> dict[tuple[str, str], dict[str, int]]:
    """A campaign message's counters: the campaign's totals and its A/B variant's."""
    if not item.campaign:
        return {}
    scope = campaign_scope(item.campaign)
    slots = {(scope, CAMPAIGN_TOTALS): dict(counts)}
    if item.variant:
        slots[(scope, f"variant#{item.variant}")] = dict(counts)
    return slots


CAMPAIGN_TOTALS = "all"


def campaign_hit(item: Message, kind: str, url: str | None) -> None:
    """Every open and click of a campaign's message (the totals: a second open counts here, not in
    the unique `opened`), and each tracked link's clicks: unique (once per message and link,
    marked on the message) and total. Best effort, as every count."""
    if not item.campaign or kind not in ("opened", "clicked"):
        return
    link = link_of(item, url) if kind == "clicked" else None
    total = {f"{kind}_total": 1, **({f"link:{link}:total": 1} if link else {})}
    try:
        store.add(_campaign_slots(item, total), owner=item.contact_id)
        if link:
            store.count_once(store.table_of(Message), {"contact_id": item.contact_id, "id": item.id},
                             [f"link:{link}"], _campaign_slots(item, {f"link:{link}": 1}))
    except Exception:  # a report never stops a redirect or a notification
        logger.exception("campaign hit not counted", extra={"message_id": item.id, "kind": kind})


def link_of(item: Message | None, url: str | None) -> int | None:
    """The 1-based place of a tracked link among a campaign message's links (None elsewhere)."""
    if item is None or not item.campaign or not url or url not in (item.links or []):
        return None
    return list(item.links or []).index(url) + 1


# -- the account's contacts -----------------------------------------------------------------


def contact_event(event: dict[str, Any]) -> None:
    """Keep the account's contact and consent totals equal to the contacts' state.

    Each contact has a tally (is it counted, does it count as consented by email, by SMS); a
    contact event brings the tally and the totals to the contact as it is now, in one
    transaction conditional on the tally read. Late, repeated or reordered events converge."""
    if event.get("type") not in CONTACT_EVENTS:
        return
    changed = (event.get("properties") or {}).get("changed")
    if event["type"] == "contact.updated" and isinstance(changed, list) and not COUNTED_FIELDS & set(changed):
        return
    contact_id = event["contact_id"]
    scope = f"contact#{contact_id}"
    for _ in range(ATTEMPTS):
        before = store.tally(scope)
        try:
            contact: Contact | None = Contact.get(contact_id, consistent_read=True)
        except Contact.DoesNotExist:
            contact = None
        after = _tally_of(contact) if contact is not None else {}
        if before == after or (before is None and not after):
            return
        old = before or {}
        delta = {name: after.get(name, 0) - old.get(name, 0) for name in ("contacts", "email", "sms")}
        adds: dict[tuple[str, str], dict[str, int]] = {
            (store.ACCOUNT, store.TOTALS): {name: value for name, value in delta.items() if value}}
        if before is None and contact is not None:
            adds[(store.ACCOUNT, contact.created_at[:10])] = {"contacts_created": 1}
        if store.add(adds, owner=contact_id, tally=(scope, after, before)):
            return


def _tally_of(contact: Contact) -> dict[str, int]:
    email = contact.consent_email.granted if contact.consent_email else False
    sms = (contact.consent_sms.granted if contact.consent_sms else False) and not contact.sms_opt_out
    return {"contacts": 1, "email": int(bool(email)), "sms": int(bool(sms))}
