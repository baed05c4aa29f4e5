"""GET /campaigns/{id}/report: the campaign's counters, read as they are (one Query).

The counters move where things happen (reports.counters, once per fact, marked on the message):
sent, skipped by reason, failed, delivered, opened, clicked (unique: a message counts once),
unsubscribed, bounced, complained, for the campaign and for each A/B variant; the totals of
opens and clicks count every hit, and each tracked link has its unique and total clicks.
`selected` is the selection job's progress while it runs, then the number it froze.
"""
from __future__ import annotations

from typing import Any

from chalicelib.audience import jobs
from chalicelib.campaigns import definition
from chalicelib.reports import counters
from chalicelib.store import reports as store
from chalicelib.store.campaigns import Campaign

FACTS = ("sent", "failed", "delivered", "unsubscribed", "bounced", "complained")


def counts(campaign_id: str, slots: list[str]) -> dict[str, dict[str, int]]:
    """Each slot's counters (`all`, `variant#A`...), their shards added up: one Query."""
    found = dict(store.read(counters.campaign_scope(campaign_id), min(slots), max(slots)))
    return {slot: found.get(slot, {}) for slot in slots}


def report(campaign: Campaign) -> dict[str, Any]:
    variants = definition.variant_names(campaign.definition)
    found = counts(campaign.id, [counters.CAMPAIGN_TOTALS, *(f"variant#{name}" for name in variants)])
    body: dict[str, Any] = {"campaign": campaign.id, "status": campaign.status, **_selection(campaign),
                            **numbers(found[counters.CAMPAIGN_TOTALS])}
    if variants:
        body["winner"] = campaign.winner
        body["variants"] = [{"variant": name, **numbers(found[f"variant#{name}"])} for name in variants]
    return body


def _selection(campaign: Campaign) -> dict[str, Any]:
    if campaign.selected is not None:
        selecting = False
        selected, held = int(campaign.selected), int(campaign.held or 0)
    else:
        head = jobs.get(campaign.job_id) if campaign.job_id else None
        progress = jobs.summary(head)["progress"] if head is not None else {}
        selecting = head is not None
        selected, held = int(progress.get("selected", 0)), int(progress.get("held", 0))
    return {"selected": selected, "selecting": selecting,
            "held_for_winner": held if campaign.winner is None else 0}


def numbers(counts: dict[str, int]) -> dict[str, Any]:
    """One set of counters as the report shows it."""
    body: dict[str, Any] = {name: int(counts.get(name, 0)) for name in FACTS}
    body["skipped"] = {name.split(":", 1)[1]: value for name, value in sorted(counts.items())
                       if name.startswith("skipped:")}
    body["opened"] = {"unique": int(counts.get("opened", 0)), "total": int(counts.get("opened_total", 0))}
    links: dict[int, dict[str, int]] = {}
    for name, value in counts.items():
        parts = name.split(":")
        if parts[0] == "link" and len(parts) in (2, 3) and parts[1].isdigit():
            entry = links.setdefault(int(parts[1]), {"link": int(parts[1]), "unique": 0, "total": 0})
            entry["total" if len(parts) == 3 else "unique"] = int(value)
    body["clicked"] = {"unique": int(counts.get("clicked", 0)), "total": int(counts.get("clicked_total", 0)),
                       "links": [links[index] for index in sorted(links)]}
    sent = body["sent"]
    body["rates"] = {name: round(value / sent, 4) if sent else 0 for name, value in (
        ("delivered", body["delivered"]), ("opened", body["opened"]["unique"]),
        ("clicked", body["clicked"]["unique"]), ("unsubscribed", body["unsubscribed"]),
        ("bounced", body["bounced"]), ("complained", body["complained"]))}
    return body
