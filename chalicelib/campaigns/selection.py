"""The audience of a campaign, frozen in parallel: a background job (audience.jobs) of kind
`campaign_selection`, whose parts are ranges of contact ids.

Part i of n takes the contact ids of range i (members.key_range) in every list and segment of
the audience, minus those of the exclusion lists in the same range: a contact found in several
lists is one recipient, because it falls in one range and a set holds it once. A part runs in
two checkpointed steps: it writes its recipients (BatchWriteItem, 25 to a request: who, the A/B
variant or `held` for the winner, state `pending`), then reads them back a page at a time and
queues them, 50 to an SQS message, 10 messages to a request. A step run twice after a crash
writes the same recipients again (before any is queued) or queues a page again (the sender's
claim per message makes the second copy send nothing).

The release of an A/B winner is the same job at stage `release`: its parts queue the held
recipients of their range with the winning variant.
"""
from __future__ import annotations

from typing import Any

from chalicelib.audience import jobs, members
from chalicelib.audience.jobs import Step
from chalicelib.campaigns import ab, definition
from chalicelib.campaigns import service as campaigns
from chalicelib.store import campaigns as store
from chalicelib.store.audience import FIRST_MEMBER, Job
from chalicelib.store.campaigns import SHARDS, Campaign, Recipient, recipients_key, shard_of

BATCH = 50  # recipients per SQS message
PAGE = 500  # recipients queued per step: ten messages, one SendMessageBatch
MEMBERS_PAGE = 1000


def _ids_in(kind: str, group_id: str, within: tuple[str, str | None]) -> set[str]:
    found: set[str] = set()
    cursor: dict | None = None
    while True:
        items, cursor = members.page(kind, group_id, MEMBERS_PAGE, cursor, within)
        found.update(item.member for item in items)
        if not cursor:
            return found


def _shards(within: tuple[str, str | None]) -> list[str]:
    """The recipients' shards a range of contact ids meets (shard: the id's first hex digit)."""
    first, last = within
    low = SHARDS[0] if first == FIRST_MEMBER else first[0]
    return [shard for shard in SHARDS if shard >= low and (last is None or shard <= last[0])]


def _recipients_page(campaign_id: str, within: tuple[str, str | None], state: str,
                     cursor: dict | None) -> tuple[list[Recipient], dict | None]:
    """A page of the range's recipients in `state`; the cursor names the shard and where in it."""
    first, last = within
    condition = Recipient.contact_id >= first if last is None else Recipient.contact_id.between(first, last)
    shards = _shards(within)
    shard = (cursor or {}).get("shard") or shards[0]
    result = Recipient.query(recipients_key(campaign_id, shard), condition, filter_condition=Recipient.state == state,
                             limit=PAGE, last_evaluated_key=(cursor or {}).get("key"))
    items = list(result)
    if result.last_evaluated_key:
        return items, {"shard": shard, "key": result.last_evaluated_key}
    following = shards.index(shard) + 1
    return items, ({"shard": shards[following], "key": None} if following < len(shards) else None)


class CampaignSelection:
    def parts(self, head: Job, phase: int) -> int:
        campaign = campaigns.get(head.params["campaign"])
        if campaign is None:
            return 1
        if head.params["stage"] == "release":
            return jobs.parts_for(int(campaign.held or 0))
        audience = campaign.definition["audience"]
        total = sum(members.count(kind, group_id) for kind, key in (("list", "lists"), ("segment", "segments"))
                    for group_id in audience.get(key) or [])
        return jobs.parts_for(total)

    def step(self, head: Job, part: Job, index: int) -> Step:
        campaign = campaigns.get(head.params["campaign"])
        if campaign is None or campaign.status != "sending":  # cancelled: nothing more is queued
            jobs.cancel(head.id, "the campaign is no longer sending")
            return Step(None)
        within = members.key_range(index, int(head.parts))
        if head.params["stage"] == "release":
            return self._queue(campaign, within, part.cursor, "held", head.params["winner"])
        if part.cursor is None:
            return self._freeze(campaign, within)
        return self._queue(campaign, within, part.cursor, "pending", None)

    def _freeze(self, campaign: Campaign, within: tuple[str, str | None]) -> Step:
        audience = campaign.definition["audience"]
        chosen: set[str] = set()
        for kind, key in (("list", "lists"), ("segment", "segments")):
            for group_id in audience.get(key) or []:
                chosen |= _ids_in(kind, group_id, within)
        excluded: set[str] = set()
        for list_id in audience.get("exclude_lists") or []:
            excluded |= _ids_in("list", list_id, within)
        selected = sorted(chosen - excluded)
        variants = definition.variant_names(campaign.definition)
        _, _, share = definition.winner_rule(campaign.definition)
        held = 0
        with Recipient.batch_write() as batch:
            for contact_id in selected:
                variant = ab.assignment(campaign.id, contact_id, variants, share)
                held += variant == ab.HELD
                batch.save(Recipient(recipients_key(campaign.id, shard_of(contact_id)), contact_id,
                                     variant=None if variant == ab.HELD else variant,
                                     state="held" if variant == ab.HELD else "pending"))
        return Step({"queued": None}, {"selected": len(selected), "held": held,
                                       "excluded": len(chosen & excluded)})

    def _queue(self, campaign: Campaign, within: tuple[str, str | None], cursor: Any, state: str,
               winner: str | None) -> Step:
        start = cursor.get("queued") if isinstance(cursor, dict) else None
        items, following = _recipients_page(campaign.id, within, state, start)
        pairs = [[item.contact_id, winner or item.variant] for item in items]
        store.enqueue({"campaign": campaign.id, "recipients": pairs[index:index + BATCH]}
                      for index in range(0, len(pairs), BATCH))
        return Step({"queued": following} if following else None, {"queued": len(pairs)})

    def phase_done(self, head: Job, phase: int, parts: list[Job]) -> tuple[int, dict | None]:
        return 0, None

    def finished(self, head: Job) -> None:
        summary = jobs.summary(head)
        campaigns.selection_over(head.params["campaign"], head.params["stage"], summary["progress"])

    def failed(self, head: Job, error: str) -> None:
        campaigns.failed(head.params["campaign"], error)
