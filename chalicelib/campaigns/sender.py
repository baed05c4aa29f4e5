"""The sender: the campaign-sends queue's consumer. Each SQS message is a batch of up to 50
recipients of one campaign (contact id and A/B variant).

For each recipient due now (its local time come, out of quiet hours):
1. claim the message, whose id is fixed by campaign and contact, with a conditional put (the
   scenarios' pattern, channels.messages): a batch delivered twice, or queued twice by a
   selection step run again, sends nothing twice;
2. the send gate of scenarios (channels.messages.refusal: consent, unsubscribed, suppressed,
   SES's suppression list and SNS's opt-out list, frequency caps): a refusal is recorded on the
   message and the recipient, with its reason, and as a `campaign.skipped` event;
3. slots of the account's send rate for the whole batch in one write (channels.pace.take_many);
4. render (channels.render: tracked links, open pixel, unsubscribe link and one-click header),
   send through SES or SNS, record: the message, its counters, `email.sent` / `sms.sent` with
   `campaign` and `variant`, the recipient's state.
A recipient not due yet goes back on the queue with a delay (SQS's 15 minutes at most: a longer
wait is a chain). A send AWS refused for now gives its claim back and goes back on the queue
with a growing delay, never failed and never doubled; so do the sends the rate had no slot for.
A cancelled campaign's batches are dropped. A crash leaves the batch on the queue: its next
delivery finds the claims of what went, and does the rest.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib import clock, faults, logs
from chalicelib.campaigns import definition, moments
from chalicelib.campaigns import service as campaigns
from chalicelib.channels import caps, messages, pace, providers, render, templates, tracking
from chalicelib.channels.headers import format_address, list_unsubscribe_headers
from chalicelib.config import settings
from chalicelib.contacts import service as contacts
from chalicelib.events import service as events
from chalicelib.faults import Throttled
from chalicelib.logs import logger
from chalicelib.reports import counters
from chalicelib.scenarios.semantics import zone_of
from chalicelib.store import campaigns as queue
from chalicelib.store import queue as automation_queue
from chalicelib.store.campaigns import Campaign, Recipient, recipients_key, shard_of
from chalicelib.store.models import Contact, Message

CLAIMED = "claimed"  # a message claimed for this campaign and contact, not handed to SES or SNS yet
BUDGET_SECONDS = 20.0  # of one batch, waiting for rate slots included; the rest goes back on the queue
RATE_WAIT_SECONDS = 1.0  # the delay of sends the rate had no slot for


def message_id(campaign_id: str, contact_id: str) -> str:
    return f"cmp.{campaign_id}.{contact_id}"


def consume(records: Iterable[dict[str, Any]]) -> list[str]:
    """Handle each record on its own; the ids of those that failed (SQS gives them again)."""
    failed: list[str] = []
    for record in records:
        postponed = queue.postponements(record)
        batch: dict[str, Any] | None = None
        try:
            batch = json.loads(record["body"])
            send_batch(batch, postponed)
        except Exception as error:
            if batch is not None and faults.is_transient(error) and queue.later(
                    batch, automation_queue.backoff(postponed), postponed=postponed + 1):
                logger.warning("campaign batch postponed", extra={"error": type(error).__name__})
                continue
            logger.exception("campaign batch failed", extra={"sqs_message": record.get("messageId")})
            failed.append(record["messageId"])
    return failed


@dataclass
class _Batch:
    campaign: Campaign
    postponed: int
    later: list[list[Any]] = field(default_factory=list)  # [contact id, variant] to try again soon
    retry: list[list[Any]] = field(default_factory=list)  # refused for now by AWS: with backoff


def send_batch(batch: dict[str, Any], postponed: int = 0) -> None:
    campaign = campaigns.get(batch["campaign"])
    if campaign is None or campaign.status != "sending":
        return  # cancelled (or deleted): what has not gone stays unsent
    state = _Batch(campaign, postponed)
    pairs = [(str(contact_id), variant) for contact_id, variant in batch["recipients"]]
    found = {item.id: item for item in Contact.batch_get([contact_id for contact_id, _ in pairs])}
    now = clock.now()
    start = campaigns.started_at(campaign)
    waiting: list[list[Any]] = []
    earliest = None
    due: list[tuple[Contact | None, str, str | None]] = []
    for contact_id, variant in pairs:
        contact = found.get(contact_id)
        if contact is not None:
            zone = zone_of({"timezone": contact.timezone}, campaign.definition, settings().default_timezone)
            moment = moments.send_moment(campaign.definition, campaign.schedule or {}, start, zone, now)
            if moment is not None:
                waiting.append([contact_id, variant])
                earliest = moment if earliest is None or moment < earliest else earliest
                continue
        due.append((contact, contact_id, variant))
    if waiting and earliest is not None:
        # SQS counts whole seconds: rounded down, a batch comes back early and waits the rest
        queue.later({"campaign": campaign.id, "recipients": waiting},
                    clock.wall_seconds((earliest - now).total_seconds()))
    _send_due(state, due)
    if state.later:
        queue.later({"campaign": campaign.id, "recipients": state.later}, RATE_WAIT_SECONDS, postponed=postponed)
    if state.retry and not queue.later({"campaign": campaign.id, "recipients": state.retry},
                                       automation_queue.backoff(postponed), postponed=postponed + 1):
        raise Throttled("sends refused for two days")  # the batch goes to the dead-letter queue
    campaigns.check_done(campaign.id)


def _send_due(state: _Batch, due: list[tuple[Contact | None, str, str | None]]) -> None:
    campaign = state.campaign
    claimed: list[tuple[Contact, Message]] = []
    try:
        for contact, contact_id, variant in due:
            record = Message(contact_id, message_id(campaign.id, contact_id), channel=campaign.channel,
                             campaign=campaign.id, variant=variant, status=CLAIMED)
            try:
                record.save(condition=Message.id.does_not_exist())
            except PutError as error:
                if not faults.lost_to_condition(error):
                    raise
                earlier = Message.get(contact_id, record.id, consistent_read=True)
                if earlier.status != CLAIMED:
                    _resume(campaign, earlier)
                    continue
                record = earlier  # claimed by a delivery that stopped before sending: this one sends
            if contact is None:  # erased since the selection
                _skipped(campaign, record, "no_contact")
                continue
            reason = messages.refusal(campaign.channel, contacts.to_api(contact), transactional=False,
                                      message_id=record.id)
            if reason:
                _skipped(campaign, record, reason)
                continue
            claimed.append((contact, record))
        deadline = time.monotonic() + BUDGET_SECONDS
        while claimed and time.monotonic() < deadline:
            if _cancelled(campaign.id):  # cancel stops what has not gone, within a batch too
                break
            granted = pace.take_many(campaign.channel, len(claimed))
            if not granted:
                break
            now_sending, claimed = claimed[:granted], claimed[granted:]
            with ThreadPoolExecutor(max_workers=settings().campaign_threads,
                                    thread_name_prefix="campaign-send") as pool:
                outcomes = list(pool.map(lambda pair: _send_one(campaign, *pair), now_sending))
            state.retry += [[record.contact_id, record.variant] for (_, record), outcome
                            in zip(now_sending, outcomes, strict=True) if outcome == "throttled"]
    except BaseException:
        for _, record in claimed:  # nothing went out for these: the batch's next delivery sends them
            _give_back(record)
        raise
    for _, record in claimed:  # no slot within the budget: soon, in a new message (dropped if cancelled)
        _give_back(record)
        state.later.append([record.contact_id, record.variant])


def _cancelled(campaign_id: str) -> bool:
    found = campaigns.get(campaign_id)
    return found is None or found.status != "sending"


def _send_one(campaign: Campaign, contact: Contact, record: Message) -> str:
    """sent, throttled (claim given back), failed (recorded), or taken (another delivery of the
    batch is sending it)."""
    try:  # the last mark before the send: a delivery that stops after it never sends again
        record.update(actions=[Message.status.set("sending")], condition=Message.status == CLAIMED)
    except UpdateError as error:
        if faults.lost_to_condition(error):
            return "taken"
        _give_back(record)
        return "throttled"
    content = definition.content(campaign.definition, record.variant)
    try:
        content = render.content_of(content, messages.template_content)
        links, order = _links(contact, record)
        values = render.variables(contacts.to_api(contact), {}, None, links)
        if campaign.channel == "email":
            rendered = render.email(content, values, links, transactional=False)
            name = " ".join(part for part in (contact.first_name, contact.last_name) if part)
            built = providers.build_email(format_address(name, contact.email or ""), rendered["subject"],
                                          rendered["html"], rendered["text"],
                                          list_unsubscribe_headers(links.unsubscribe_url))
            to, subject = contact.email, rendered["subject"]
            provider_id = providers.send_email(built, to=contact.email, paced=True)
        else:
            to, subject = contact.phone, None
            provider_id = providers.send_sms(contact.phone or "", render.sms(content, values), transactional=False,
                                             paced=True)
    except templates.TemplateError as error:
        _failed(campaign, record, f"template: {error}")
        return "failed"
    except Exception as error:
        if faults.is_transient(error):
            _give_back(record)
            return "throttled"
        _failed(campaign, record, f"{type(error).__name__}: {error}")
        return "failed"
    now = clock.iso(clock.now())
    details = [Message.to.set(to), Message.provider_id.set(provider_id), Message.sent_at.set(now),
               Message.events.set((Message.events | []).prepend([{"type": "sent", "at": now}]))]
    details += [Message.subject.set(subject)] if subject else []
    details += [Message.links.set(order)] if order else []
    record.links = order or None
    faults.through(lambda: _mark_sent(record, details))  # it went out: recorded through a throttle
    faults.through(lambda: _announce_sent(campaign, record))
    logs.sent(campaign.channel, record.id)
    return "sent"


def _links(contact: Contact, record: Message) -> tuple[render.Links, list[str]]:
    """The message's unsubscribe link, tracked clicks and open pixel; and the tracked URLs in their
    order of first appearance (a click's `link` is its place there)."""
    secret, base = settings().token_secret, settings().public_base_url
    order: list[str] = []

    def click(url: str) -> str:
        if url not in order:
            order.append(url)
        return f"{base}/t/c/" + tracking.make_click_token(secret, record.id, url, contact.id)

    unsubscribe = tracking.make_unsubscribe_token(secret, contact.id, record.id, channel=record.channel)
    return render.Links(unsubscribe_url=f"{base}/u/{unsubscribe}", click=click,
                        open_pixel=f"{base}/t/o/" + tracking.make_open_token(secret, record.id, contact.id)), order


def _mark_sent(record: Message, details: list[Any]) -> None:
    try:
        record.update(actions=[Message.status.set("sent"), *details], condition=Message.status == "sending")
    except UpdateError as error:  # feedback came first and moved the status on: keep it
        if not faults.lost_to_condition(error):
            raise
        record.update(actions=details)
    counters.message(record, "sent")


def _announce_sent(campaign: Campaign, record: Message) -> None:
    events.record_and_dispatch(record.contact_id, f"{campaign.channel}.sent", _properties(campaign, record),
                               event_id=f"{record.id}/sent")
    _recipient(campaign, record, "sent")


def _properties(campaign: Campaign, record: Message) -> dict[str, Any]:
    return {"campaign": campaign.id, "message_id": record.id, **({"variant": record.variant} if record.variant else {})}


def _skipped(campaign: Campaign, record: Message, reason: str) -> None:
    record.update(actions=[Message.status.set("skipped"), Message.reason.set(reason),
                           Message.sent_at.set(clock.iso(clock.now()))])
    _skip_recorded(campaign, record, reason)
    logs.skipped(campaign.channel, record.id, reason)


def _skip_recorded(campaign: Campaign, record: Message, reason: str) -> None:
    counters.message(record, "skipped", reason=reason)
    if reason != "no_contact":
        events.record_and_dispatch(record.contact_id, "campaign.skipped",
                                   {**_properties(campaign, record), "reason": reason},
                                   event_id=f"{record.id}/skipped")
    _recipient(campaign, record, "skipped", reason)


def _failed(campaign: Campaign, record: Message, reason: str) -> None:
    def undo() -> None:
        caps.release(record.contact_id, record.id)
        record.update(actions=[Message.status.set("failed"), Message.reason.set(reason[:500]),
                               Message.sent_at.set(clock.iso(clock.now()))])
        counters.message(record, "failed")
        _recipient(campaign, record, "failed", reason[:500])

    faults.through(undo)


def _give_back(record: Message) -> None:
    """Nothing went out: release the cap reservation and drop the claim, so that a later try sends."""
    def undo() -> None:
        caps.release(record.contact_id, record.id)
        record.delete(condition=Message.status.is_in(CLAIMED, "sending"))

    try:
        faults.through(undo)
    except Exception:  # the original error is the one to report
        logger.exception("could not give back a campaign claim", extra={"message_id": record.id})


def _recipient(campaign: Campaign, record: Message, state: str, reason: str | None = None) -> None:
    actions: list[Action] = [Recipient.state.set(state)]
    actions += [Recipient.reason.set(reason)] if reason else []
    actions += [Recipient.variant.set(record.variant)] if record.variant else []
    Recipient(recipients_key(campaign.id, shard_of(record.contact_id)), record.contact_id).update(actions=actions)


def _resume(campaign: Campaign, done: Message) -> None:
    """The message was handled by an earlier delivery of this batch: finish what that one recorded
    (counting and the event are once per message, whoever does them). A message still `sending`
    is one whose delivery stopped between the mark made just before the send and its record:
    taken as sent, as scenarios do, rather than risk a second message."""
    if done.status == "skipped":
        _skip_recorded(campaign, done, done.reason or "unknown")
    elif done.status == "failed":
        counters.message(done, "failed")
        _recipient(campaign, done, "failed", done.reason)
    else:
        counters.message(done, "sent")
        _announce_sent(campaign, done)
