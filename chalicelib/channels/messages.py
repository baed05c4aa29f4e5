"""Sending a scenario's email or SMS step: claim, gate, render, track, send, record.

The message id is fixed by enrollment and step, and the message item is claimed with a
condition before anything is sent, so a retried step never sends twice. Its outcome (sent,
skipped) is the step's result, counted in the reports with the journey's step (reports.flow). When the provider
refuses or throttles (nothing went out), the claim and the frequency-cap reservation are
given back so that the retry sends; once the provider has accepted, the claim stays.
A template that fails to render marks the message `failed` and fails the step.
"""
from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib import clock, faults, logs
from chalicelib.channels import caps, feedback, gate, providers, render, templates, tracking
from chalicelib.channels.headers import format_address, list_unsubscribe_headers
from chalicelib.channels.sms_text import segments
from chalicelib.config import settings
from chalicelib.contacts import service as contacts
from chalicelib.events import service as events
from chalicelib.faults import Throttled
from chalicelib.logs import logger
from chalicelib.store.models import Contact, Enrollment, Message, Template


def message_id(enrollment: Enrollment, step_id: str) -> str:
    return f"{enrollment.id}.{step_id}"


def send_step(step: dict, contact: Contact, enrollment: Enrollment, body: dict) -> str:
    """Send the step's message if the gate allows; the outcome for the journey's path."""
    channel = step["type"]
    transactional = bool(step.get("transactional"))
    record = Message(contact.id, message_id(enrollment, step["id"]), channel=channel, scenario=body["id"],
                     step=step["id"], status="sending", transactional=transactional,
                     version=int(enrollment.version or 0) or None)
    try:
        record.save(condition=Message.id.does_not_exist())
    except PutError as error:  # a retry of this step: report what the first attempt did
        if not faults.lost_to_condition(error):
            raise
        done = Message.get(contact.id, record.id, consistent_read=True)
        if done.status in ("skipped", "failed"):
            return f"skipped:{done.reason}" if done.status == "skipped" else "failed"
        # a fault may have come between the send and its announcement
        _announce(contact.id, channel, body["id"], step["id"], record.id)
        return "sent" if done.status == "sending" else done.status
    data = contacts.to_api(contact)
    try:
        reason = refusal(channel, data, transactional=transactional, message_id=record.id)
        if reason:
            record.update(actions=[Message.status.set("skipped"), Message.reason.set(reason),
                                   Message.sent_at.set(clock.iso(clock.now()))])
            logs.skipped(channel, record.id, reason)
            return f"skipped:{reason}"
        content = step_content(step)
        links = _links(contact, record)
        values = render.variables(data, (enrollment.trigger or {}).get("properties") or {},
                                  {"id": body["id"], "name": body.get("name")}, links)
        if channel == "email":
            to, subject, provider_id = _send_email(content, values, links, contact, transactional)
        else:
            to, subject = contact.phone, None
            provider_id = providers.send_sms(contact.phone, render.sms(content, values), transactional=transactional)
    except Throttled:  # nothing went out and the state machine retries: let the retry send
        _give_back(record)
        raise
    except templates.TemplateError as error:
        _give_back(record, failed=f"template: {error}")
        raise
    except Exception as error:
        if faults.is_transient(error):  # a read or reservation failed for now: nothing went out
            _give_back(record)
            raise Throttled(f"{type(error).__name__}: {error}") from error
        _give_back(record, failed=f"{type(error).__name__}: {error}")  # refused, or misconfigured: not retried
        raise
    now = clock.iso(clock.now())
    details: list[Action] = [Message.to.set(to), Message.provider_id.set(provider_id), Message.sent_at.set(now),
               Message.events.set((Message.events | []).prepend([{"type": "sent", "at": now}]))]
    details += [Message.subject.set(subject)] if subject else []
    faults.through(lambda: _mark_sent(record, details))  # it went out: record it, through a throttle
    faults.through(lambda: _announce(contact.id, channel, body["id"], step["id"], record.id))
    logs.sent(channel, record.id)
    return "sent"


def _mark_sent(record: Message, details: list[Action]) -> None:
    try:
        record.update(actions=[Message.status.set("sent"), *details], condition=Message.status == "sending")
    except UpdateError as error:  # feedback (a delivery, an open) came first and moved the status on: keep it
        if not faults.lost_to_condition(error):
            raise
        record.update(actions=details)


def _announce(contact_id: str, channel: str, scenario_id: str, step_id: str, message_id: str) -> None:
    """The `email.sent` / `sms.sent` event, once (its id is the message's)."""
    events.record_and_dispatch(contact_id, f"{channel}.sent",
                               {"scenario": scenario_id, "step": step_id, "message_id": message_id},
                               event_id=f"{message_id}/sent")


def _give_back(record: Message, *, failed: str | None = None) -> None:
    """The send did not go out: release the cap reservation; drop the claim (so a retry sends)
    or, for a failure a retry cannot fix, keep the message as `failed` with the reason."""
    def undo() -> None:
        if not record.transactional:
            caps.release(record.contact_id, record.id)
        if failed:
            record.update(actions=[Message.status.set("failed"), Message.reason.set(failed[:500]),
                                   Message.sent_at.set(clock.iso(clock.now()))])
        else:
            record.delete(condition=Message.status == "sending")

    try:
        faults.through(undo)  # a claim left behind would make the retry believe it was sent
    except Exception:  # the original error is the one to report
        logger.exception("could not record the failed send", extra={"message": record.id})


def refusal(channel: str, data: dict, *, transactional: bool, message_id: str | None = None) -> str | None:
    """Why this contact may not be sent this channel now (the send gate), or None.

    Consent, unsubscription and suppression first (our records, then SES's account
    suppression list or the SNS opt-out list when reachable); then the frequency cap, which
    reserves the send in the contact's ledger when it passes (marketing messages only)."""
    reason = gate.refuse(channel, data, transactional=transactional)
    if reason:
        return reason
    if channel == "email":
        try:
            format_address(None, data["email"])
        except ValueError:
            return "invalid_address"
        if providers.on_suppression_list(data["email"]):
            return "suppressed"
    if channel == "sms" and providers.phone_opted_out(data["phone"]):
        feedback.opt_out_sms(data["id"], source="sns opt-out list")
        return "unsubscribed"
    if not transactional and not caps.reserve(data["id"], message_id or "", caps.configured()):
        return "capped"
    return None


def template_content(template_id: str, *, consistent_read: bool = False) -> dict | None:
    """A stored template's channel and parts, or None when there is no such template."""
    try:
        template = Template.get(template_id, consistent_read=consistent_read)
    except DoesNotExist:
        return None
    return {"channel": template.channel, "subject": template.subject, "html": template.html, "text": template.text}


def step_content(step: dict) -> dict:
    """Subject, html and text of a step: inline, or from the stored template it names."""
    return render.content_of(step, template_content)


def _links(contact: Contact, record: Message) -> render.Links:
    """The message's unsubscribe link, tracked clicks and open pixel (signed tokens)."""
    secret, base = settings().token_secret, settings().public_base_url
    return render.Links(
        unsubscribe_url=f"{base}/u/{tracking.make_unsubscribe_token(secret, contact.id, record.id)}",
        click=lambda url: f"{base}/t/c/" + tracking.make_click_token(
            secret, record.id, url, contact.id, record.scenario, record.step),
        open_pixel=f"{base}/t/o/" + tracking.make_open_token(secret, record.id, contact.id, record.scenario,
                                                            record.step))


def _send_email(content: dict, values: dict, links: render.Links, contact: Contact,
                transactional: bool) -> tuple[str, str, str]:
    rendered = render.email(content, values, links, transactional=transactional)
    headers = {} if transactional else list_unsubscribe_headers(links.unsubscribe_url)
    name = " ".join(part for part in (contact.first_name, contact.last_name) if part)
    message = providers.build_email(format_address(name, contact.email), rendered["subject"], rendered["html"],
                                    rendered["text"], headers)
    return contact.email, rendered["subject"], providers.send_email(message, to=contact.email)


def sms_length(text: str) -> dict:
    return segments(text).as_dict()


def to_api(message: Message) -> dict:
    return {"id": message.id, "channel": message.channel, "scenario": message.scenario, "step": message.step,
            **({"campaign": message.campaign, "variant": message.variant} if message.campaign else {}),
            "to": message.to, "subject": message.subject, "status": message.status, "reason": message.reason,
            "sent_at": message.sent_at, "events": [contacts.plain(dict(item)) for item in message.events or []]}


def of_contact(contact_id: str) -> list[Message]:
    return sorted(Message.query(contact_id), key=lambda message: message.sent_at or "", reverse=True)
