"""Outbound webhooks: subscriptions to events and scenario `webhook` steps, one delivery path.

Every delivery is a record (store.webhooks.WebhookDelivery) with a fixed webhook-id and body,
signed the Standard Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature`:
`v1,` + base64 HMAC-SHA256 over `id.timestamp.body`) and POSTed through channels.webhooks
(https on port 443 to a checked public address, no redirect followed). The first attempt is
made at once; a failure is retried after RETRY_DELAYS (5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
10 h: 27 hours and more), then the delivery is dead, kept with its last error.

Retries: a delivery still to retry carries `due` and `next_attempt_at` in the sparse `by-due`
index, which the `webhook_deliveries` schedule reads every minute (`deliver_due`). Chosen over
SQS with DelaySeconds because SQS delays stop at 15 minutes (a 10-hour backoff would be a chain
of re-enqueues), because the record must exist anyway for GET /webhooks/{id}/deliveries and the
dead letters, and because the same sweep runs on the local stack's scaled clock. Before each
attempt the delivery is claimed with a condition on its attempt count (and leased for
LEASE_SECONDS), so two sweeps never send one attempt twice and a crashed attempt is retried.

Idempotent: the webhook-id is derived from the subscription and the event (a redelivered queue
message creates nothing), or from the enrollment and the step (a retried Task finds the
delivery and answers its first outcome without posting again).
"""
from __future__ import annotations

import hashlib
import http.client
import json
import secrets
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib import clock, faults
from chalicelib.channels import webhooks
from chalicelib.contacts import service as contacts
from chalicelib.events import readers, routing
from chalicelib.logs import logger
from chalicelib.problems import Invalid, Problem, join
from chalicelib.scenarios.schema import webhook_url_problem
from chalicelib.store.models import Contact, Enrollment
from chalicelib.store.webhooks import DUE_SHARDS, WebhookDelivery, WebhookSubscription
from chalicelib.vocabulary import is_event_type

RETRY_DELAYS = (5, 300, 1800, 7200, 18000, 36000, 36000)  # seconds after failed attempt 1, 2, ...
LEASE_SECONDS = 120  # an attempt under way holds its delivery this long
DELIVERY_TTL_DAYS = 30  # delivered and dead deliveries are kept this long
CACHE_SECONDS = 10.0  # how long a consumer trusts its copy of the subscriptions
MAX_EVENTS = 50
MAX_DESCRIPTION = 500
KEYS = ("url", "events", "description")
CONTACT_EVENTS = ("contact.created", "contact.updated")

_cache: tuple[float, list[WebhookSubscription]] | None = None


# -- subscriptions ---------------------------------------------------------------------------


def matches(patterns: list[str], event_type: str) -> bool:
    """Whether a subscription's event types take this event: exact, `prefix.*`, or `*`."""
    return any(pattern == "*" or pattern == event_type
               or (pattern.endswith(".*") and event_type.startswith(pattern[:-1])) for pattern in patterns)


def validate(body: Any, *, partial: bool = False) -> list[Problem]:
    if not isinstance(body, Mapping):
        return [Problem("", 'a webhook is an object {"url", "events"}')]
    problems = [Problem(key, f"unknown field '{key}'") for key in body if key not in KEYS]
    for key in ("url", "events"):
        if key not in body and not partial:
            problems.append(Problem(key, f"{key} is required"))
    if "url" in body:
        why = webhook_url_problem(body["url"]) if isinstance(body["url"], str) else "url must be a string"
        if why:
            problems.append(Problem("url", why))
    if "events" in body:
        events = body["events"]
        if not isinstance(events, list) or not events or len(events) > MAX_EVENTS:
            problems.append(Problem("events", f"events is a list of 1 to {MAX_EVENTS} event types"))
        else:
            for index, pattern in enumerate(events):
                if not _pattern_ok(pattern):
                    problems.append(Problem(join("events", index),
                                            "an event type (a letter, then letters, digits or _ . : -), "
                                            "a prefix and .* such as email.*, or *"))
    if "description" in body and body["description"] is not None and (
            not isinstance(body["description"], str) or len(body["description"]) > MAX_DESCRIPTION):
        problems.append(Problem("description", f"description is text of at most {MAX_DESCRIPTION} characters"))
    return problems


def _pattern_ok(pattern: Any) -> bool:
    if not isinstance(pattern, str):
        return False
    if pattern == "*":
        return True
    return is_event_type(pattern[:-2] if pattern.endswith(".*") else pattern)


def create(body: Any) -> tuple[WebhookSubscription, str]:
    """A new subscription and its signing secret (shown once: it is derived, never stored)."""
    problems = validate(body)
    if problems:
        raise Invalid(problems)
    now = clock.iso(clock.now())
    subscription = WebhookSubscription(f"wh_{secrets.token_hex(8)}", url=body["url"], events=list(body["events"]),
                                       description=body.get("description"), created_at=now, updated_at=now)
    secret = webhooks.subscription_secret(subscription.id)
    routing.extend(readers.webhook_facts(subscription.events))  # before deliveries are due
    subscription.save(condition=WebhookSubscription.id.does_not_exist())
    forget_subscriptions()
    return subscription, secret


def get(subscription_id: str) -> WebhookSubscription | None:
    try:
        return WebhookSubscription.get(subscription_id, consistent_read=True)
    except DoesNotExist:
        return None


def all_subscriptions() -> list[WebhookSubscription]:
    # Subscriptions number in the tens: reading them is reading the small table.
    return sorted(WebhookSubscription.scan(consistent_read=True), key=lambda item: item.created_at)


def update(subscription: WebhookSubscription, body: Any) -> WebhookSubscription:
    problems = validate(body, partial=True)
    if problems:
        raise Invalid(problems)
    if isinstance(body.get("events"), list):
        routing.extend(readers.webhook_facts(body["events"]))
    actions = [getattr(WebhookSubscription, key).set(body[key]) for key in KEYS
               if key in body and body[key] is not None]
    if "description" in body and body["description"] is None:
        actions.append(WebhookSubscription.description.remove())
    actions.append(WebhookSubscription.updated_at.set(clock.iso(clock.now())))
    subscription.update(actions=actions)
    forget_subscriptions()
    return subscription


def delete(subscription: WebhookSubscription) -> None:
    """Remove the subscription; its pending deliveries die at their next attempt."""
    subscription.delete()
    forget_subscriptions()


def to_api(subscription: WebhookSubscription, *, secret: str | None = None) -> dict[str, Any]:
    body = {"id": subscription.id, "url": subscription.url, "events": list(subscription.events),
            "description": subscription.description, "created_at": subscription.created_at,
            "updated_at": subscription.updated_at}
    if secret is not None:
        body["secret"] = secret
    return body


def _subscriptions() -> list[WebhookSubscription]:
    """The subscriptions, read at most every CACHE_SECONDS per process (every event asks)."""
    global _cache
    if _cache is None or time.monotonic() - _cache[0] > CACHE_SECONDS:
        _cache = (time.monotonic(), list(WebhookSubscription.scan()))
    return _cache[1]


def forget_subscriptions() -> None:
    """Drop this process's copy of the subscriptions (they changed here, or a new stack started)."""
    global _cache
    _cache = None


# -- what is delivered -----------------------------------------------------------------------


def on_event(event: dict[str, Any]) -> None:
    """A stored event: a delivery to every subscription whose event types take it."""
    chosen = [item for item in _subscriptions() if matches(list(item.events), event["type"])]
    if not chosen:
        return
    data: dict[str, Any] = {"event_id": event["id"], "contact_id": event["contact_id"],
                            "properties": event.get("properties") or {}}
    if event["type"] in CONTACT_EVENTS:
        found = contacts.get(event["contact_id"])
        if found is not None:
            data["contact"] = contacts.to_api(found)
    body = json.dumps({"type": event["type"], "timestamp": event["timestamp"], "data": data},
                      separators=(",", ":"), sort_keys=True)
    for subscription in chosen:
        message_id = _message_id(subscription.id, event["id"])
        delivery = WebhookDelivery(f"webhook#{subscription.id}", f"{event['timestamp']}#{message_id}", id=message_id,
                                   url=subscription.url, event_type=event["type"], event_id=event["id"],
                                   endpoint={"webhook": subscription.id}, body=body,
                                   contact_id=event["contact_id"])
        try:
            _first_attempt(delivery)
        except Exception:  # the delivery stays due: the schedule retries it; the event goes on
            logger.exception("webhook delivery not attempted", extra={"webhook": subscription.id})


def step(step: Mapping[str, Any], contact: Contact, enrollment: Enrollment, definition: Mapping[str, Any]) -> str:
    """A scenario's webhook step, once per enrollment and step: the outcome for the journey's path
    (`delivered:2xx`, `failed:STATUS`, `failed:ERROR`, `refused:REASON`); a failure is retried."""
    body = json.dumps({"scenario": definition["id"], "step": step["id"], "contact": contacts.to_api(contact),
                       "data": step.get("body") or {}})
    message_id = _message_id(enrollment.id or "", str(step["id"]))
    delivery = WebhookDelivery(f"scenario#{definition['id']}", message_id, id=message_id, url=step["url"],
                               event_type="scenario.webhook", event_id=f"{enrollment.id}/{step['id']}",
                               endpoint={"scenario": definition["id"], "step": step["id"]}, body=body,
                               contact_id=contact.id)
    outcome = _first_attempt(delivery)
    if outcome is None:  # a retried Task: the first attempt's outcome
        done = WebhookDelivery.get(delivery.owner, delivery.key, consistent_read=True)
        return done.outcome or "failed:in progress"
    return outcome


def _message_id(*parts: str) -> str:
    return "msg_" + hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:32]


# -- attempts --------------------------------------------------------------------------------


def _first_attempt(delivery: WebhookDelivery) -> str | None:
    """Store the delivery (once: None when it exists) and make its first attempt."""
    now = clock.now()
    delivery.status, delivery.attempts, delivery.created_at = "pending", 1, clock.iso(now)
    delivery.due, delivery.next_attempt_at = _shard(delivery.id), clock.iso(now + timedelta(seconds=LEASE_SECONDS))
    try:
        delivery.save(condition=WebhookDelivery.key.does_not_exist())
    except PutError as error:
        if faults.lost_to_condition(error):
            return None
        raise
    return _attempt(delivery, first=True)


def _shard(message_id: str) -> str:
    return f"due#{int(message_id[-4:], 16) % DUE_SHARDS}"


def _attempt(delivery: WebhookDelivery, *, first: bool = False) -> str:
    """POST the delivery (attempt number `delivery.attempts`, claimed) and record what came of it."""
    body = delivery.body.encode("utf-8")
    timestamp = str(int(time.time()))  # the receiver compares it with its own clock: wall time
    try:
        secret = _secret(delivery)
        headers = {"Content-Type": "application/json", "User-Agent": "Parcours-Webhook/1",
                   "webhook-id": delivery.id, "webhook-timestamp": timestamp,
                   "webhook-signature": webhooks.sign_standard(secret, delivery.id, timestamp, body)}
        if "step" in delivery.endpoint:  # the first format of webhook steps, kept for their receivers
            headers["X-Parcours-Timestamp"] = timestamp
            headers["X-Parcours-Signature"] = f"sha256={webhooks.sign(secret, body, timestamp)}"
        status = webhooks.post(delivery.url, body, headers)
    except webhooks.Refused as error:
        return _record(delivery, f"refused:{error}", status=None, retry=False, first=first)
    except (OSError, http.client.HTTPException) as error:
        return _record(delivery, f"failed:{type(error).__name__}", status=None, retry=True, first=first)
    if 200 <= status < 300:
        return _record(delivery, f"delivered:{status}", status=status, retry=False, first=first)
    return _record(delivery, f"failed:{status}", status=status, retry=True, first=first)


def _secret(delivery: WebhookDelivery) -> str:
    endpoint = delivery.endpoint
    if "webhook" in endpoint:
        if get(endpoint["webhook"]) is None:
            raise webhooks.Refused("the webhook was deleted")
        return webhooks.subscription_secret(endpoint["webhook"])
    return webhooks.endpoint_secret(endpoint["scenario"], endpoint["step"], delivery.url)


def _record(delivery: WebhookDelivery, outcome: str, *, status: int | None, retry: bool, first: bool) -> str:
    now = clock.now()
    attempts = int(delivery.attempts)
    actions: list[Action] = [WebhookDelivery.last_attempt_at.set(clock.iso(now))]
    actions.append(WebhookDelivery.last_status.set(status) if status is not None
                   else WebhookDelivery.last_status.remove())
    if first:
        actions.append(WebhookDelivery.outcome.set(outcome))
    expires = now + timedelta(days=DELIVERY_TTL_DAYS)
    if outcome.startswith("delivered:") or not retry or attempts > len(RETRY_DELAYS):
        actions.append(WebhookDelivery.body.set(""))  # contact data is kept no longer than it is needed
    if outcome.startswith("delivered:"):
        actions += [WebhookDelivery.status.set("delivered"), WebhookDelivery.delivered_at.set(clock.iso(now)),
                    WebhookDelivery.last_error.remove(), WebhookDelivery.due.remove(),
                    WebhookDelivery.next_attempt_at.remove(), WebhookDelivery.contact_id.remove(),
                    WebhookDelivery.expires_at.set(expires)]
    elif retry and attempts <= len(RETRY_DELAYS):
        later = now + timedelta(seconds=RETRY_DELAYS[attempts - 1])
        actions += [WebhookDelivery.last_error.set(outcome), WebhookDelivery.due.set(_shard(delivery.id)),
                    WebhookDelivery.next_attempt_at.set(clock.iso(later))]
    else:  # the dead letter: kept with its last error, out of the retry index
        actions += [WebhookDelivery.status.set("dead"), WebhookDelivery.last_error.set(outcome),
                    WebhookDelivery.due.remove(), WebhookDelivery.next_attempt_at.remove(),
                    WebhookDelivery.contact_id.remove(), WebhookDelivery.expires_at.set(expires)]
        logger.warning("webhook delivery dead", extra={"delivery": delivery.id, "attempts": attempts})
    try:
        delivery.update(actions=actions, condition=WebhookDelivery.attempts == attempts)
    except UpdateError:
        logger.warning("webhook attempt outrun by a later one", extra={"delivery": delivery.id})
    return outcome


def deliver_due(*, budget_seconds: float = 45) -> dict[str, int]:
    """The retry schedule: attempt every delivery whose next attempt is due (the `by-due` index)."""
    deadline = time.monotonic() + budget_seconds
    now = clock.iso(clock.now())
    report = {"attempted": 0, "delivered": 0}
    for shard in range(DUE_SHARDS):
        for item in WebhookDelivery.by_due.query(f"due#{shard}", WebhookDelivery.next_attempt_at <= now):
            if time.monotonic() > deadline:
                return report
            if not _claim(item):
                continue
            report["attempted"] += 1
            if _attempt(item).startswith("delivered:"):
                report["delivered"] += 1
    return report


def forget_contact(contact_id: str) -> int:
    """Erasure: every delivery that may still send the contact's data dies now, its body emptied.
    Counting one more attempt outruns an attempt under way, so it cannot schedule another."""
    forgotten = 0
    expires = clock.now() + timedelta(days=DELIVERY_TTL_DAYS)
    for item in WebhookDelivery.by_contact.query(contact_id):
        try:
            item.update(actions=[WebhookDelivery.status.set("dead"), WebhookDelivery.last_error.set("contact erased"),
                                 WebhookDelivery.body.set(""), WebhookDelivery.attempts.add(1),
                                 WebhookDelivery.due.remove(), WebhookDelivery.next_attempt_at.remove(),
                                 WebhookDelivery.contact_id.remove(), WebhookDelivery.expires_at.set(expires)],
                        condition=WebhookDelivery.status == "pending")
        except UpdateError as error:
            if not faults.lost_to_condition(error):
                raise
            continue  # it was delivered or died meanwhile
        forgotten += 1
    return forgotten


def _claim(item: WebhookDelivery) -> bool:
    """Take the next attempt of a due delivery; False when another sweep took it first."""
    lease = clock.iso(clock.now() + timedelta(seconds=LEASE_SECONDS))
    try:
        item.update(actions=[WebhookDelivery.attempts.set(int(item.attempts) + 1),
                             WebhookDelivery.next_attempt_at.set(lease)],
                    condition=(WebhookDelivery.status == "pending") & (WebhookDelivery.attempts == item.attempts))
    except UpdateError:
        return False
    return True


# -- reading ---------------------------------------------------------------------------------


def deliveries(subscription_id: str, limit: int, cursor: dict | None) -> tuple[list[WebhookDelivery], dict | None]:
    result = WebhookDelivery.query(f"webhook#{subscription_id}", scan_index_forward=False, limit=limit,
                                   last_evaluated_key=cursor, consistent_read=True)
    items = list(result)
    return items, result.last_evaluated_key


def delivery_to_api(delivery: WebhookDelivery) -> dict[str, Any]:
    return {"id": delivery.id, "event_type": delivery.event_type, "event_id": delivery.event_id,
            "url": delivery.url, "status": delivery.status, "attempts": int(delivery.attempts),
            "last_status": int(delivery.last_status) if delivery.last_status is not None else None,
            "last_error": delivery.last_error, "next_attempt_at": delivery.next_attempt_at if
            delivery.status == "pending" else None, "created_at": delivery.created_at,
            "last_attempt_at": delivery.last_attempt_at, "delivered_at": delivery.delivered_at}
