"""Play, on the local stack, what SES and SNS send back on AWS: feedback on a sent email, a reply to an SMS.

Each is published to the app's SNS topic as AWS would (SES event publishing JSON on
`parcours-ses-events`, two-way SMS JSON on `parcours-sms-inbound`), so it reaches the app's
real handlers through the local SNS, exactly as in production.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.contacts.fields import FieldError, normalize_phone
from chalicelib.local import outbox
from chalicelib.problems import Invalid, Problem

SES_TOPIC = "parcours-ses-events"
SMS_TOPIC = "parcours-sms-inbound"
# What a user can play for a sent email, in SES's event names.
SES_EVENTS = {"bounce": "Bounce", "soft_bounce": "Bounce", "complaint": "Complaint", "delivery": "Delivery",
              "open": "Open", "click": "Click"}
LOCAL_NUMBER = "+15550100"  # the number our SMS come from, as the reply's destination


def play_ses(message_id: str, event: Any, url: Any = None) -> dict[str, str] | None:
    """Publish SES's notification of `event` for the email the local SES gave `message_id` (the
    `id` of GET /local/outbox). None when no such email was sent; Invalid for a bad request."""
    if event not in SES_EVENTS:
        raise Invalid([Problem("event", f"event must be one of {', '.join(SES_EVENTS)}")])
    if event == "click" and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        raise Invalid([Problem("url", "a click needs the url clicked: one of the links of the email")])
    sent = outbox.find(message_id)
    if sent is None or sent["channel"] != "email":
        return None
    notification = _ses_notification(SES_EVENTS[event], message_id, sent["to"], soft=event == "soft_bounce",
                                     url=url)
    return {"event": event, "sns_message_id": _publish(SES_TOPIC, notification)}


def play_sms_reply(number: Any, text: Any) -> dict[str, str]:
    """Publish an inbound SMS (two-way SMS JSON) from `number` saying `text`, e.g. STOP."""
    problems = []
    try:
        phone = normalize_phone(number)
    except FieldError as error:
        problems.append(Problem("from", str(error)))
    if not isinstance(text, str) or not text.strip():
        problems.append(Problem("text", "text is the reply, such as STOP"))
    if problems:
        raise Invalid(problems)
    inbound = {"originationNumber": phone, "destinationNumber": LOCAL_NUMBER, "messageKeyword": "KEYWORD",
               "messageBody": text, "inboundMessageId": str(uuid.uuid4()), "previousPublishedMessageId": None}
    return {"sns_message_id": _publish(SMS_TOPIC, inbound)}


def _ses_notification(kind: str, ses_id: str, address: str, *, soft: bool, url: str | None) -> dict[str, Any]:
    """SES event publishing JSON (the shape SES puts on the configuration set's SNS topic)."""
    now = clock.iso(clock.now())
    mail = {"timestamp": now, "source": settings().email_from, "sendingAccountId": "123456789012",
            "messageId": ses_id, "destination": [address], "headersTruncated": False, "headers": [],
            "commonHeaders": {"to": [address]}}
    body: dict[str, Any] = {"eventType": kind, "mail": mail}
    if kind == "Bounce":
        body["bounce"] = {
            "bounceType": "Transient" if soft else "Permanent", "bounceSubType": "MailboxFull" if soft else "General",
            "bouncedRecipients": [{"emailAddress": address, "action": "failed",
                                   "status": "4.2.2" if soft else "5.1.1",
                                   "diagnosticCode": "smtp; 452 4.2.2 mailbox full" if soft
                                   else "smtp; 550 5.1.1 user unknown"}],
            "timestamp": now, "feedbackId": str(uuid.uuid4())}
    elif kind == "Complaint":
        body["complaint"] = {"complainedRecipients": [{"emailAddress": address}], "complaintFeedbackType": "abuse",
                             "timestamp": now, "feedbackId": str(uuid.uuid4())}
    elif kind == "Delivery":
        body["delivery"] = {"timestamp": now, "processingTimeMillis": 120, "recipients": [address],
                            "smtpResponse": "250 2.0.0 OK", "reportingMTA": "local"}
    elif kind == "Open":
        body["open"] = {"ipAddress": "127.0.0.1", "timestamp": now, "userAgent": "local"}
    else:
        body["click"] = {"ipAddress": "127.0.0.1", "timestamp": now, "userAgent": "local", "link": url,
                         "linkTags": {}}
    return body


def _publish(topic: str, message: dict[str, Any]) -> str:
    import boto3

    sns = boto3.client("sns", region_name=settings().region)
    arn = next(item["TopicArn"] for item in sns.list_topics()["Topics"] if item["TopicArn"].endswith(f":{topic}"))
    return sns.publish(TopicArn=arn, Message=json.dumps(message))["MessageId"]
