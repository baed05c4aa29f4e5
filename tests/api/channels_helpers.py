"""Helpers for the channel tests: one-email journeys, the local outbox, tracking links, SNS."""
from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from tests.conftest import eventually
from tests.scenarios_helpers import contact_id, publish

CONSENT = {"email": True, "source": "test"}
DAY = 86400
HREF = re.compile(r'(?:href|src)="([^"]+)"')


def one_email(scenario_id: str = "news", trigger: str = "signup", **step) -> dict:
    """A scenario sending one email on `trigger` (inline content unless `template` is given)."""
    content = step or {"subject": "Hello {{ contact.first_name | default('there') }}",
                       "html": '<p>Hi! <a href="https://shop.example.com/offer?a=1&amp;b=2">See the offer</a></p>'}
    return {"id": scenario_id, "name": scenario_id, "trigger": {"event": trigger},
            "steps": [{"id": "mail", "type": "email", **content}]}


def scenario(scenario_id: str, trigger: str, steps: list[dict], **extra) -> dict:
    return {"id": scenario_id, "name": scenario_id, "trigger": {"event": trigger}, "steps": steps, **extra}


def signup(api, email: str, *, event: str = "signup", consent: dict | None = CONSENT, **traits) -> None:
    body = {"type": event, "contact": {"email": email}}
    if consent is not None:
        body["consent"] = consent
    if traits:
        body["traits"] = traits
    response = api.post("/events", body)
    assert response.status_code == 202, response.data


def messages(api, email: str) -> list[dict]:
    return api.get(f"/contacts/{contact_id(api, email)}/messages").data["items"]


def message(api, email: str, step: str = "mail", *, status: str | None = None, timeout: float = 20) -> dict:
    """The contact's message for `step`, once it is out of `sending` (and at `status` if given)."""
    def check():
        for item in messages(api, email):
            if item["step"] == step and item["status"] != "sending" and (status is None or item["status"] == status):
                return item
        return None

    return eventually(check, timeout=timeout)


def outbox(api, **params) -> list[dict]:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    response = api.get("/local/outbox" + (f"?{query}" if query else ""))
    assert response.status_code == 200, response.data
    return response.data["items"]


def email_to(api, address: str, *, count: int = 1) -> list[dict]:
    """The emails the local SES received for `address` (waits until there are `count`)."""
    return eventually(lambda: (lambda found: found if len(found) >= count else None)(
        [item for item in outbox(api, limit=500) if item["channel"] == "email" and item["to"] == address]))


def links(html: str) -> dict[str, list[str]]:
    """Tracking URLs of an email's HTML, as paths: {"click": [...], "open": [...], "unsubscribe": [...]}."""
    found: dict[str, list[str]] = {"click": [], "open": [], "unsubscribe": [], "other": []}
    for url in HREF.findall(html):
        path = urlsplit(url.replace("&amp;", "&")).path
        kind = "click" if path.startswith("/t/c/") else "open" if path.startswith("/t/o/") else \
            "unsubscribe" if path.startswith("/u/") else "other"
        found[kind].append(path if kind != "other" else url)
    return found


def fetch_pixel(api, path: str, accept: str | None = "image/avif,image/webp,image/*,*/*;q=0.8"):
    """GET the open pixel as a mail client does (the JSON test client cannot read a GIF)."""
    headers = {"Accept": accept} if accept else {}
    return api.client.http.request("GET", path, headers=headers)


def events_of(api, email: str, event_type: str) -> list[dict]:
    return api.get(f"/contacts/{contact_id(api, email)}/events?type={event_type}").data["items"]


def contact(api, email: str) -> dict:
    return api.get(f"/contacts/{contact_id(api, email)}").data


def publish_to_topic(topic: str, message: dict | str) -> str:
    """Publish to one of the app's SNS topics, as SES or SNS would (the local stack delivers it)."""
    import boto3

    from chalicelib.config import settings

    sns = boto3.client("sns", region_name=settings().region)
    arn = next(item["TopicArn"] for item in sns.list_topics()["Topics"] if item["TopicArn"].endswith(f":{topic}"))
    body = message if isinstance(message, str) else json.dumps(message)
    return sns.publish(TopicArn=arn, Message=body)["MessageId"]


def ses_notification(event_type: str, ses_message_id: str, address: str, *, key: str = "eventType",
                     **detail) -> dict:
    """The JSON SES publishes (event publishing with `eventType`, or `notificationType`)."""
    mail = {"timestamp": "2026-01-01T10:00:00.000Z", "source": "hello@example.com",
            "sourceArn": "arn:aws:ses:eu-west-3:123456789012:identity/example.com",
            "sendingAccountId": "123456789012", "messageId": ses_message_id, "destination": [address],
            "headersTruncated": False, "headers": [], "commonHeaders": {"to": [address]}}
    body: dict = {key: event_type, "mail": mail}
    if event_type == "Bounce":
        body["bounce"] = {"bounceType": detail.get("bounce_type", "Permanent"), "bounceSubType": "General",
                          "bouncedRecipients": [{"emailAddress": address, "action": "failed", "status": "5.1.1",
                                                 "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
                          "timestamp": "2026-01-01T10:00:01.000Z", "feedbackId": "feedback-1"}
    elif event_type == "Complaint":
        body["complaint"] = {"complainedRecipients": [{"emailAddress": address}], "complaintFeedbackType": "abuse",
                             "timestamp": "2026-01-01T10:00:01.000Z", "feedbackId": "feedback-2"}
    elif event_type == "Delivery":
        body["delivery"] = {"timestamp": "2026-01-01T10:00:01.000Z", "processingTimeMillis": 500,
                            "recipients": [address], "smtpResponse": "250 ok", "reportingMTA": "a8-70.smtp-out"}
    elif event_type == "Open":
        body["open"] = {"ipAddress": "192.0.2.1", "timestamp": "2026-01-01T10:05:00.000Z", "userAgent": "Mail"}
    elif event_type == "Click":
        body["click"] = {"ipAddress": "192.0.2.1", "timestamp": "2026-01-01T10:06:00.000Z", "userAgent": "Mail",
                         "link": detail["link"], "linkTags": {}}
    return body


def provider_id(email: str, step: str = "mail") -> str:
    """The SES message id of a contact's message (as the feedback handler looks it up)."""
    from chalicelib.channels import messages as channel_messages
    from chalicelib.contacts import service

    found = service.find(service.Identity(email=email))
    return next(item.provider_id for item in channel_messages.of_contact(found.id) if item.step == step)


def start(api, definition: dict) -> dict:
    return publish(api, definition)
