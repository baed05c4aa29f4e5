"""SES v2 and SNS: the only code that hands messages to AWS."""
from __future__ import annotations

import time
from collections.abc import Callable
from email import charset, policy
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import make_msgid, parseaddr
from functools import lru_cache

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib import faults, logs
from chalicelib.channels import pace
from chalicelib.channels.headers import format_address
from chalicelib.config import settings
from chalicelib.faults import THROTTLING, Throttled


@lru_cache(maxsize=1)
def _ses():
    return boto3.client("sesv2", region_name=settings().region)


@lru_cache(maxsize=1)
def _sns():
    return boto3.client("sns", region_name=settings().region)


# SMTP line endings; headers folded only past RFC 5322's hard limit of 998 characters (folding at
# 78 splits a long List-Unsubscribe URL, which some mailbox providers cannot read back).
# compat32's message classes rather than EmailMessage's: they build the same MIME in a third of
# the CPU (EmailMessage parses every header it is given into objects), and every header here is
# ASCII by the time it is set (format_address encodes display names; the subject is encoded here).
EMAIL_POLICY = policy.compat32.clone(linesep="\r\n", max_line_length=998)
BODY_CHARSET = charset.Charset("utf-8")
BODY_CHARSET.body_encoding = charset.QP  # 7-bit clean, and text stays readable in the source


def build_email(to: str, subject: str, html: str, text: str, headers: dict[str, str]) -> Message:
    """multipart/alternative with the text and HTML parts. Raises ValueError for a header value
    holding a line break (an injection: callers clean what a marketer wrote) or, but for the
    subject, a character outside ASCII (format_address encodes display names)."""
    if any("\r" in value or "\n" in value for value in (to, subject, *headers.values())):
        raise ValueError("a header value holds a line break")
    if not all(value.isascii() for value in (to, *headers.values())):
        raise ValueError("a header value other than the subject holds a character outside ASCII")
    sender, domain = _sender(settings().email_from)
    message = MIMEMultipart("alternative", policy=EMAIL_POLICY)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8", maxlinelen=998).encode()
    message["Message-ID"] = make_msgid(domain=domain)
    for name, value in headers.items():
        message[name] = value
    message.attach(_text_part(text, "plain"))
    message.attach(_text_part(html, "html"))
    return message


def _text_part(body: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, policy=EMAIL_POLICY)
    part.set_payload(body, BODY_CHARSET)
    return part


@lru_cache(maxsize=4)
def _sender(configured: str) -> tuple[str, str]:
    """The From header of the configured sender (`Name <address>`), and its address's domain."""
    name, address = parseaddr(configured)
    return format_address(name, address), address.rsplit("@", 1)[-1]


def send_email(message: Message, to: str | None = None, *, paced: bool = False) -> str:
    """Send a built message through SES v2 (raw, so our headers go out as built); SES's id.

    `to` is the envelope recipient (the bare address); the To header may carry a display name.
    `paced`: the caller took the send's slot already (campaigns take a batch's slots at once)."""
    kwargs = {"FromEmailAddress": message["From"], "Destination": {"ToAddresses": [to or message["To"]]},
              "Content": {"Raw": {"Data": message.as_bytes()}}}
    if settings().ses_configuration_set and not settings().local:
        kwargs["ConfigurationSetName"] = settings().ses_configuration_set
    if not paced:
        pace.take("email")
    try:
        return _ses().send_email(**kwargs)["MessageId"]
    except Exception as error:
        if faults.is_transient(error):
            logs.throttled("ses")
            raise Throttled(f"{type(error).__name__}: {error}") from error
        raise


def send_sms(phone: str, text: str, *, transactional: bool, paced: bool = False) -> str:
    if not paced:
        pace.take("sms")
    try:
        return _sns().publish(PhoneNumber=phone, Message=text, MessageAttributes={
            "AWS.SNS.SMS.SMSType": {"DataType": "String",
                                    "StringValue": "Transactional" if transactional else "Promotional"}})["MessageId"]
    except Exception as error:
        if faults.is_transient(error):
            logs.throttled("sns")
            raise Throttled(f"{type(error).__name__}: {error}") from error
        raise


# The look-ups below are a courtesy (SES drops a send to a suppressed address and reports it as
# a bounce; SNS drops an SMS to an opted-out number): they must never slow sending down. One
# attempt each, short timeouts; a check found unavailable (not implemented, not allowed) is not
# tried again by this process, and a throttled one rests for a minute.
_UNREACHABLE: set[str] = set()
_RESTING: dict[str, float] = {}
_NOT_AVAILABLE = {"AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "NotImplemented",
                  "AuthorizationError"}
REST_SECONDS = 60.0


@lru_cache(maxsize=2)
def _lookup_client(service: str):
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=2)
    return boto3.client(service, region_name=settings().region, config=config)


def _check(name: str, call: Callable[[], bool]) -> bool:
    if name in _UNREACHABLE or time.monotonic() < _RESTING.get(name, 0.0):
        return False
    try:
        return call()
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code in _NOT_AVAILABLE:
            _UNREACHABLE.add(name)
            logs.logger.warning("check unavailable: off until the function restarts",
                                extra={"check": name, "error": code})
        elif code in THROTTLING:
            _RESTING[name] = time.monotonic() + REST_SECONDS
        return False
    except NotImplementedError:  # the local stack (moto) does not have it
        _UNREACHABLE.add(name)
        return False
    except Exception:  # not reachable: our own records decide
        return False


def on_suppression_list(email: str) -> bool:
    """Whether SES's account-level suppression list holds the address (when reachable)."""
    def call() -> bool:
        try:
            _lookup_client("sesv2").get_suppressed_destination(EmailAddress=email)
        except ClientError as error:
            if error.response["Error"]["Code"] == "NotFoundException":
                return False
            raise
        return True

    return _check("ses-suppression", call)


def phone_opted_out(phone: str) -> bool:
    """Whether the number is on the SNS account's SMS opt-out list (when reachable).

    The local stack (moto) answers True for every number ending in 99."""
    return _check("sns-opt-out", lambda: bool(
        _lookup_client("sns").check_if_phone_number_is_opted_out(phoneNumber=phone).get("isOptedOut")))
