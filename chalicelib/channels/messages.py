"""Sending a scenario's email or SMS step: claim, gate, render, track, send, record.

The message id is fixed by enrollment and step, and the message item is claimed with a
condition before anything is sent, so a retried step never sends twice.
"""
from __future__ import annotations

from datetime import timedelta

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib import clock
from chalicelib.channels import gate, providers, templates, tracking
from chalicelib.channels.headers import clean_header_value, list_unsubscribe_headers
from chalicelib.channels.sms_text import segments
from chalicelib.config import settings
from chalicelib.contacts import service as contacts
from chalicelib.events import service as events
from chalicelib.store.models import Contact, Enrollment, Message, Template


def message_id(enrollment: Enrollment, step_id: str) -> str:
    return f"{enrollment.id}.{step_id}"


def send_step(step: dict, contact: Contact, enrollment: Enrollment, body: dict) -> str:
    """Send the step's message if the gate allows; the outcome for the journey's path."""
    channel = step["type"]
    transactional = bool(step.get("transactional"))
    record = Message(contact.id, message_id(enrollment, step["id"]), channel=channel, scenario=body["id"],
                     step=step["id"], status="sending", transactional=transactional)
    try:
        record.save(condition=Message.id.does_not_exist())
    except PutError:  # a retry of this step: report what the first attempt did
        done = Message.get(contact.id, record.id)
        return done.status if done.status != "skipped" else f"skipped:{done.reason}"
    data = contacts.to_api(contact)
    reason = refusal(channel, data, transactional=transactional)
    if reason:
        record.update(actions=[Message.status.set("skipped"), Message.reason.set(reason),
                               Message.sent_at.set(clock.iso(clock.now()))])
        return f"skipped:{reason}"
    content = step_content(step)
    variables = {"contact": data, "event": (enrollment.trigger or {}).get("properties") or {},
                 "scenario": {"id": body["id"], "name": body.get("name")}}
    if channel == "email":
        to, subject, provider_id = _send_email(content, variables, contact, record, transactional)
    else:
        to, subject = contact.phone, None
        text = templates.render(content.get("text") or "", variables, autoescape=False)
        provider_id = providers.send_sms(contact.phone, text, transactional=transactional)
    now = clock.iso(clock.now())
    record.update(actions=[Message.status.set("sent"), Message.to.set(to), Message.provider_id.set(provider_id),
                           Message.sent_at.set(now), Message.events.set([{"type": "sent", "at": now}])]
                  + ([Message.subject.set(subject)] if subject else []))
    events.record_and_dispatch(contact.id, f"{channel}.sent",
                               {"scenario": body["id"], "step": step["id"], "message_id": record.id},
                               event_id=f"{record.id}/sent")
    return "sent"


def refusal(channel: str, data: dict, *, transactional: bool) -> str | None:
    """Why this contact may not be sent this channel now (the send gate), or None."""
    suppressed = channel == "email" and bool(data.get("email")) and providers.on_suppression_list(data["email"])
    day, week = _recent_counts(data["id"]) if not transactional else (0, 0)
    caps = gate.Caps(settings().max_per_day or None, settings().max_per_week or None)
    return gate.refuse(channel, data, transactional=transactional, suppressed=suppressed,
                       sent_last_day=day, sent_last_week=week, caps=caps)


def _recent_counts(contact_id: str) -> tuple[int, int]:
    if not (settings().max_per_day or settings().max_per_week):
        return 0, 0
    now = clock.now()
    day_ago, week_ago = clock.iso(now - timedelta(days=1)), clock.iso(now - timedelta(days=7))
    day = week = 0
    for message in Message.query(contact_id, filter_condition=(Message.sent_at >= week_ago)
                                 & (Message.status != "skipped") & (Message.transactional == False)):  # noqa: E712
        week += 1
        day += message.sent_at >= day_ago
    return day, week


def template_content(template_id: str) -> dict | None:
    try:
        template = Template.get(template_id)
    except DoesNotExist:
        return None
    return {"subject": template.subject, "html": template.html, "text": template.text}


def step_content(step: dict) -> dict:
    """Subject, html and text of a step: inline, or from the template it names."""
    if step.get("template"):
        content = template_content(step["template"])
        if content is None:
            raise templates.TemplateError(f"template '{step['template']}' does not exist")
        return content
    return {"subject": step.get("subject"), "html": step.get("html"), "text": step.get("text")}


def _send_email(content: dict, variables: dict, contact: Contact, record: Message,
                transactional: bool) -> tuple[str, str, str]:
    secret, base = settings().token_secret, settings().public_base_url
    unsubscribe_url = f"{base}/u/{tracking.make_unsubscribe_token(secret, contact.id, record.id)}"
    variables = {**variables, "unsubscribe_url": unsubscribe_url}
    subject = clean_header_value(templates.render(content.get("subject") or "", variables, autoescape=False))
    html = templates.render(content.get("html") or "", variables, autoescape=True) if content.get("html") else ""
    text = templates.render(content["text"], variables, autoescape=False) if content.get("text") else \
        templates.html_to_text(html)
    if not html:
        html = "<p>" + templates.render("{{ t }}", {"t": text}, autoescape=True).replace("\n", "<br>") + "</p>"
    html = tracking.rewrite_links(html, lambda url: f"{base}/t/c/" + tracking.make_click_token(
        secret, record.id, url, contact.id, record.scenario, record.step), unsubscribe_url=unsubscribe_url)
    headers: dict[str, str] = {}
    if not transactional:
        html, text = tracking.ensure_unsubscribe_link(html, text, unsubscribe_url)
        headers.update(list_unsubscribe_headers(unsubscribe_url))
    html = tracking.add_open_pixel(html, f"{base}/t/o/" + tracking.make_open_token(secret, record.id, contact.id))
    message = providers.build_email(contact.email, subject, html, text, headers)
    return contact.email, subject, providers.send_email(message)


def sms_length(text: str) -> dict:
    return segments(text).as_dict()


def to_api(message: Message) -> dict:
    return {"id": message.id, "channel": message.channel, "scenario": message.scenario, "step": message.step,
            "to": message.to, "subject": message.subject, "status": message.status, "reason": message.reason,
            "sent_at": message.sent_at, "events": [dict(item) for item in message.events or []]}


def of_contact(contact_id: str) -> list[Message]:
    return sorted(Message.query(contact_id), key=lambda message: message.sent_at or "", reverse=True)
