"""What tests do through the HTTP API and the local stack, one meaning per name.

Contacts are named by email in the helpers that post or wait for them (`post`, `signup`,
`contact`, `journey`, `messages`...), and by id where the API itself takes an id
(`events_of`, `wait_event`); `contact_id` turns one into the other. Fixtures (`runtime`,
`api`) live in conftest.py.
"""
from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from examples import scenario as example_scenario

CONSENT = {"email": True, "source": "test"}
DAY = 86400
HREF = re.compile(r'(?:href|src)="([^"]+)"')
SCHEDULED_EVENT = {"version": "0", "account": "123456789012", "region": "eu-west-3", "detail": {},
                   "detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-01-01T00:00:00Z",
                   "id": "scheduled", "resources": []}


# -- waiting and schedules -------------------------------------------------------------------


def eventually(check: Callable[[], Any], *, timeout: float = 60.0, interval: float = 0.05) -> Any:
    """Poll until `check` returns a truthy value (journeys run on Step Functions' own threads)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {result!r}")
        time.sleep(interval)


def run_schedule(name: str) -> Any:
    """Run one of app.py's scheduled handlers, by name, with the event EventBridge sends it."""
    import app as app_module

    return getattr(app_module, name)(SCHEDULED_EVENT, None)


# -- contacts and events ---------------------------------------------------------------------


def post(api: Any, event_type: str, email: str, **fields: Any) -> None:
    """Post one event for the contact with this email; it must be accepted (or a duplicate)."""
    response = api.post("/events", {"type": event_type, "contact": {"email": email}, **fields})
    assert response.status_code == 202, response.data
    assert response.data["accepted"] + response.data["duplicates"] == 1, response.data


def signup(api: Any, email: str, *, event: str = "signup", consent: dict | None = CONSENT, **traits: Any) -> None:
    """Post a signup (or `event`) with email consent and optional traits."""
    body: dict[str, Any] = {"type": event, "contact": {"email": email}}
    if consent is not None:
        body["consent"] = consent
    if traits:
        body["traits"] = traits
    response = api.post("/events", body)
    assert response.status_code == 202, response.data


def contact_id(api: Any, email: str) -> str:
    return eventually(lambda: (api.get(f"/contacts?email={email}").data["items"] or [{}])[0].get("id"))


def contact(api: Any, email: str) -> dict:
    """The contact with this email, once it exists."""
    return api.get(f"/contacts/{contact_id(api, email)}").data


def events_of(api: Any, contact_id: str, event_type: str | None = None) -> list[dict]:
    """The contact's events (newest first), of one type if given."""
    path = f"/contacts/{contact_id}/events?limit=500" + (f"&type={event_type}" if event_type else "")
    return api.get(path).data["items"]


def wait_event(api: Any, contact_id: str, event_type: str, **properties: Any) -> dict:
    """The contact's latest event of that type whose properties include `properties`."""
    def check() -> dict | None:
        for event in events_of(api, contact_id, event_type):
            if all(event["properties"].get(key) == value for key, value in properties.items()):
                return event
        return None

    return eventually(check, timeout=30)


def error_paths(response: Any) -> list[str]:
    return [detail["path"] for detail in response.data["error"].get("details", [])]


# -- segments --------------------------------------------------------------------------------


def segment_ready(api: Any, segment_id: str) -> dict:
    return eventually(lambda: (lambda body: body if body["status"] == "ready" else None)(
        api.get(f"/segments/{segment_id}").data), timeout=30)


def member_ids(api: Any, segment_id: str) -> set[str]:
    return {item["id"] for item in api.get(f"/segments/{segment_id}/contacts?limit=500").data["items"]}


# -- scenarios and journeys ------------------------------------------------------------------


def reference(name: str) -> dict:
    """A reference scenario of examples/scenarios."""
    return example_scenario(name)


def scenario(scenario_id: str, trigger: str, steps: list[dict], **extra: Any) -> dict:
    """A scenario triggered by an event type, with these steps."""
    return {"id": scenario_id, "name": scenario_id, "trigger": {"event": trigger}, "steps": steps, **extra}


def one_email(scenario_id: str = "news", trigger: str = "signup", **step: Any) -> dict:
    """A scenario sending one email on `trigger` (inline content unless `template` is given)."""
    content = step or {"subject": "Hello {{ contact.first_name | default('there') }}",
                       "html": '<p>Hi! <a href="https://shop.example.com/offer?a=1&amp;b=2">See the offer</a></p>'}
    return scenario(scenario_id, trigger, [{"id": "mail", "type": "email", **content}])


def publish(api: Any, definition: dict) -> dict:
    created = api.post("/scenarios", definition)
    assert created.status_code == 201, created.data
    published = api.post(f"/scenarios/{definition['id']}/publish")
    assert published.status_code == 200, published.data
    return published.data


def journeys(api: Any, email: str) -> list[dict]:
    return api.get(f"/contacts/{contact_id(api, email)}/journeys").data["items"]


def journey(api: Any, email: str, scenario: str, *, status: str | None = None, timeout: float = 60) -> dict:
    def check() -> dict | None:
        found = [item for item in journeys(api, email) if item["scenario"] == scenario]
        if found and (status is None or found[0]["status"] == status):
            return found[0]
        return None

    return eventually(check, timeout=timeout)


# -- messages, the local outbox, tracking links, SNS -----------------------------------------


def messages(api: Any, email: str) -> list[dict]:
    return api.get(f"/contacts/{contact_id(api, email)}/messages").data["items"]


def sent_steps(api: Any, email: str) -> list[str]:
    """The steps whose message went out, sorted."""
    return sorted(item["step"] for item in messages(api, email)
                  if item["status"] not in ("skipped", "failed", "sending"))


def message(api: Any, email: str, step: str = "mail", *, status: str | None = None, timeout: float = 20) -> dict:
    """The contact's message for `step`, once it is out of `sending` (and at `status` if given)."""
    def check() -> dict | None:
        for item in messages(api, email):
            if item["step"] == step and item["status"] != "sending" and (status is None or item["status"] == status):
                return item
        return None

    return eventually(check, timeout=timeout)


def outbox(api: Any, **params: Any) -> list[dict]:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    response = api.get("/local/outbox" + (f"?{query}" if query else ""))
    assert response.status_code == 200, response.data
    return response.data["items"]


def email_to(api: Any, address: str, *, count: int = 1) -> list[dict]:
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


def fetch_pixel(api: Any, path: str, accept: str | None = "image/avif,image/webp,image/*,*/*;q=0.8") -> Any:
    """GET the open pixel as a mail client does (the JSON test client cannot read a GIF)."""
    headers = {"Accept": accept} if accept else {}
    return api.client.http.request("GET", path, headers=headers)


def publish_to_topic(topic: str, message: dict | str) -> str:
    """Publish to one of the app's SNS topics, as SES or SNS would (the local stack delivers it)."""
    import boto3

    from chalicelib.config import settings

    sns = boto3.client("sns", region_name=settings().region)
    arn = next(item["TopicArn"] for item in sns.list_topics()["Topics"] if item["TopicArn"].endswith(f":{topic}"))
    body = message if isinstance(message, str) else json.dumps(message)
    return sns.publish(TopicArn=arn, Message=body)["MessageId"]


def ses_notification(event_type: str, ses_message_id: str, address: str, *, key: str = "eventType",
                     **detail: Any) -> dict:
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


# The example of DESIGN.md section 6.
DESIGN_EXAMPLE = {
    "id": "abandoned-cart", "name": "Relance panier abandonné",
    "trigger": {"event": "cart_updated", "where": {"field": "properties.items", "op": "gt", "value": 0}},
    "entry": {"reentry": {"after": "P7D"}, "max_contacts": 2000},
    "goals": [{"event": "purchase"}],
    "exit_when": {"field": "consent.email", "op": "ne", "value": True},
    "settings": {"quiet_hours": {"from": "21:00", "to": "08:00"}, "timezone": "Europe/Paris"},
    "steps": [
        {"id": "wait-buy", "type": "wait_for", "event": "purchase", "timeout": "PT1H",
         "then": [{"id": "done", "type": "exit"}],
         "else": [{"id": "reminder", "type": "email", "template": "cart-reminder"}]},
        {"id": "w2", "type": "wait", "duration": "P2D"},
        {"id": "clicked", "type": "if",
         "condition": {"event": "email.clicked",
                       "where": {"field": "properties.step", "op": "eq", "value": "reminder"}},
         "then": [{"id": "promo", "type": "email", "template": "free-shipping"}],
         "else": [{"id": "similar", "type": "email", "template": "similar-products"}]},
    ],
}


# -- hostile input (property tests and fuzzing) ----------------------------------------------


def deep(depth: int, leaf: Any = 1) -> Any:
    """A value nested `depth` levels deep, objects and lists in turn."""
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


def hostile_strings() -> Any:
    """Text as a hostile client sends it: lone surrogates, control characters, sandbox escapes, names
    that mean something somewhere."""
    from hypothesis import strategies as st

    return st.one_of(st.text(max_size=20), st.sampled_from([
        "\ud800", "x\udfffy", "", " ", "{{ ''.__class__.__mro__ }}", "{% include 'x' %}",
        "{{ contact.first_name | shout }}", "P1D", "-P30D", "P99999999999D",
        "PT99999999999999999H", "email", "properties.x", "eq", "\x00"]))


def hostile_json() -> Any:
    """JSON values with what DynamoDB refuses (NaN, infinities, numbers out of range or precision,
    lone surrogates in values and keys) and nesting up to 400 deep."""
    from decimal import Decimal

    from hypothesis import strategies as st

    numbers = st.one_of(
        st.integers(), st.floats(), st.integers(min_value=10 ** 37, max_value=10 ** 60),
        st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e200, 1e-200, 9.9e125, 1e-130, 0.0, -0.0,
                         Decimal("1" * 39), Decimal("1E+126"), Decimal("1E-131"), True, False]))
    scalars = st.one_of(st.none(), hostile_strings(), numbers)
    values = st.recursive(scalars, lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(hostile_strings(), children, max_size=4)), max_leaves=20)
    return st.one_of(values, st.integers(min_value=30, max_value=400).map(deep))


def hostile_criteria() -> Any:
    """Criteria trees (DESIGN.md section 5) with hostile JSON in any place: an `op` that is a list,
    a field that is an object, a `where` that is a number."""
    from hypothesis import strategies as st

    anything = hostile_json()
    ops = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "exists", "before", "after"]
    leaves = st.one_of(
        st.fixed_dictionaries({"field": st.one_of(st.sampled_from(["email", "score", "attributes.plan",
                                                                    "properties.x", "created_at"]), anything),
                               "op": st.one_of(st.sampled_from(ops), anything)}, optional={"value": anything}),
        st.fixed_dictionaries({"event": st.one_of(st.just("purchase"), anything)},
                              optional={"where": anything, "within": anything, "count": anything}),
        st.fixed_dictionaries({"in_list": anything}),
        anything)
    return st.recursive(leaves, lambda children: st.one_of(
        st.fixed_dictionaries({"all": st.lists(children, max_size=3)}),
        st.fixed_dictionaries({"any": st.lists(children, max_size=3)}),
        st.fixed_dictionaries({"not": children})), max_leaves=8)


# -- make run ---------------------------------------------------------------------------------


@contextmanager
def make_run(patch: Any) -> Iterator[tuple[int, Any]]:
    """`make run`'s HTTP server on a free loopback port (links follow PORT): (port, runtime)."""
    import socket
    import threading

    from chalicelib import clock
    from chalicelib.local import serve
    from chalicelib.local.runtime import boot

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    patch.setenv("PORT", str(port))
    patch.delenv("PARCOURS_PUBLIC_BASE_URL", raising=False)
    runtime = boot(time_scale=86400, admin_key="admin-test-key")
    http = serve.server(runtime.app)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        yield port, runtime
    finally:
        http.shutdown()
        runtime.stop()
        clock.reset()


# -- faults at the AWS client ------------------------------------------------------------------


@contextmanager
def throttled(client: Any, operation: str, times: int, code: str = "ThrottlingException") -> Iterator[dict]:
    """`client` answers `code` to the next `times` calls of `operation` (standing for botocore's
    own retries having run out)."""
    from botocore.awsrequest import AWSResponse

    left = {"refusals": times}

    def throttle(**kwargs: object) -> object:
        if left["refusals"] <= 0:
            return None
        left["refusals"] -= 1
        return AWSResponse("https://aws", 400, {}, None), {
            "Error": {"Code": code, "Message": "Rate exceeded"}, "ResponseMetadata": {"HTTPStatusCode": 400}}

    event = f"before-call.{client.meta.service_model.endpoint_prefix}.{operation}"
    client.meta.events.register(event, throttle)
    try:
        yield left
    finally:
        client.meta.events.unregister(event, throttle)


def aws_fault(kind: str, operation: str) -> Exception:
    """What botocore raises once its own retries have run out: a throttle, a 5xx, or a timeout."""
    from botocore.exceptions import ClientError, ReadTimeoutError

    if kind == "timeout":
        return ReadTimeoutError(endpoint_url="https://aws.invalid")
    code, status = {"throttle": ("ThrottlingException", 400), "5xx": ("InternalFailure", 500)}[kind]
    return ClientError({"Error": {"Code": code, "Message": f"injected {kind}"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


_OBSERVER = threading.local()


@contextmanager
def observing() -> Iterator[None]:
    """The test's own reads of what happened, made on this thread, meet no injected fault."""
    _OBSERVER.active = True
    try:
        yield
    finally:
        _OBSERVER.active = False


@contextmanager
def aws_calls_through(wrapper: Callable[..., Any]) -> Iterator[None]:
    """Every AWS call made meanwhile, from boto3 clients and PynamoDB alike, goes through
    `wrapper(make_call, client, operation, params)`, which makes it with `make_call(client,
    operation, params)` or not."""
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def through(client: Any, operation: str, params: Any) -> Any:
        return wrapper(original, client, operation, params)

    BaseClient._make_api_call = through  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


@contextmanager
def aws_faults(plan: dict[tuple[str, str], int], kind: str = "throttle", *,
               table: str | None = None) -> Iterator[dict]:
    """The next N calls of each (service, operation) fail at the client, before reaching AWS
    (moto), from whichever of our call sites makes them: boto3 clients and PynamoDB alike (but
    the test's own reads, made under `observing()`); with `table`, only the calls to that
    DynamoDB table. Yields what is left of the plan (all zero once every fault was met)."""
    from chalicelib.config import settings

    left = dict(plan)
    lock = threading.Lock()

    def failing(make_call: Callable[..., Any], client: Any, operation: str, params: Any) -> Any:
        key = (client.meta.service_model.service_name, operation)
        if getattr(_OBSERVER, "active", False):
            return make_call(client, operation, params)
        with lock:
            fail = left.get(key, 0) > 0 and (table is None or params.get("TableName") == settings().table(table))
            if fail:
                left[key] -= 1
        if fail:
            raise aws_fault(kind, operation)
        return make_call(client, operation, params)

    with aws_calls_through(failing):
        yield left
