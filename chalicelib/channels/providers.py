"""SES v2 and SNS: the only code that hands messages to AWS."""
from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from functools import lru_cache

import boto3
from botocore.exceptions import ClientError

from chalicelib.config import settings
from chalicelib.scenarios.errors import Throttled

THROTTLING = {"Throttling", "ThrottlingException", "TooManyRequestsException", "LimitExceededException",
              "ServiceUnavailable", "ServiceUnavailableException"}


@lru_cache(maxsize=1)
def _ses():
    return boto3.client("sesv2", region_name=settings().region)


@lru_cache(maxsize=1)
def _sns():
    return boto3.client("sns", region_name=settings().region)


def build_email(to: str, subject: str, html: str, text: str, headers: dict[str, str]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings().email_from
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=settings().email_from.rsplit("@", 1)[-1].strip(">"))
    for name, value in headers.items():
        message[name] = value
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def send_email(message: EmailMessage) -> str:
    """Send a built message through SES v2 (raw, so our headers go out as built); SES's id."""
    kwargs = {"FromEmailAddress": message["From"], "Destination": {"ToAddresses": [message["To"]]},
              "Content": {"Raw": {"Data": message.as_bytes()}}}
    if settings().ses_configuration_set and not settings().local:
        kwargs["ConfigurationSetName"] = settings().ses_configuration_set
    try:
        return _ses().send_email(**kwargs)["MessageId"]
    except ClientError as error:
        if error.response["Error"]["Code"] in THROTTLING:
            raise Throttled(str(error)) from error
        raise


def send_sms(phone: str, text: str, *, transactional: bool) -> str:
    try:
        return _sns().publish(PhoneNumber=phone, Message=text, MessageAttributes={
            "AWS.SNS.SMS.SMSType": {"DataType": "String",
                                    "StringValue": "Transactional" if transactional else "Promotional"}})["MessageId"]
    except ClientError as error:
        if error.response["Error"]["Code"] in THROTTLING:
            raise Throttled(str(error)) from error
        raise


def on_suppression_list(email: str) -> bool:
    """Whether SES's account-level suppression list holds the address (when reachable)."""
    try:
        _ses().get_suppressed_destination(EmailAddress=email)
        return True
    except ClientError:
        return False
    except Exception:  # not reachable (e.g. not implemented locally): our own records decide
        return False
