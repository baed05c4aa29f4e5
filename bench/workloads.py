"""Usage per unit of work, measured on the local stack: events ingested, contacts through scenarios.

A `Session` boots the embedded AWS with a large clock scale, meters every AWS call, wraps
the app's Lambda handlers (API, step runner, queue consumer, SNS handlers, schedules) so
each call counts as an invocation, and drives the app through its HTTP API exactly as
tests/conftest.py does. `measure` runs one piece of work between two snapshots taken when
the system is quiet (queue drained, no execution running), so the difference is that
work's usage; Step Functions state transitions come from the histories of the executions
started meanwhile (every `...StateEntered` event, plus Task retries).

Each email sent is then answered with the Delivery notification SES would publish to the
ses-events topic, and that feedback (SNS publish, Lambda, DynamoDB) is part of the figure:
on AWS every delivered email costs it. Opens and clicks are not simulated.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.meter import Meter
from examples import SCENARIO_DIR, lists_for

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = SCENARIO_DIR
DAY = 86400
TIME_SCALE = 15 * DAY  # P15D, the longest wait of the reference scenarios, lasts a second
CONSENT = {"email": True, "source": "bench"}
REFERENCE = ("welcome-series", "abandoned-cart", "lead-magnet", "loyal-customers", "zero-waste", "birthday")


def chalice_memory() -> dict[str, int]:
    """Memory per function from .chalice/config.json (stage dev): what Lambda bills duration at."""
    try:
        config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    default = int(config.get("lambda_memory_size", 512))
    functions = config.get("stages", {}).get("dev", {}).get("lambda_functions", {})
    memory = {name: int(settings.get("lambda_memory_size", default)) for name, settings in functions.items()}
    memory.setdefault("api_handler", default)
    return memory


@dataclass
class Measurement:
    name: str
    units: int  # what the usage is divided by (events in a batch, contacts)
    usage: dict[str, float]  # totals for the whole work
    seconds: float
    notes: dict[str, Any] = field(default_factory=dict)

    def per_unit(self) -> dict[str, float]:
        return {key: value / self.units for key, value in self.usage.items()}


class Response:
    def __init__(self, status_code: int, data: Any) -> None:
        self.status_code = status_code
        self.data = data


class Session:
    """The app on the embedded AWS, metered."""

    def __init__(self, *, time_scale: float = TIME_SCALE, meter: Meter | None = None,
                 feedback: bool = True) -> None:
        from chalice.test import Client

        from chalicelib.local import moto_direct
        from chalicelib.local.runtime import boot
        from chalicelib.local.stack import ACCOUNT, function_name

        self.meter = meter or Meter(account=ACCOUNT, memory_mb=chalice_memory())
        self.feedback = feedback
        moto_direct.install()  # beneath the meter, which must see the calls it shortens
        self.meter.install()
        try:
            self.runtime = boot(time_scale=time_scale, admin_key="bench-admin-key")
        except BaseException:
            self.meter.uninstall()
            raise
        import app as app_module

        self.app_module = app_module
        stack = self.runtime.stack
        name = function_name("step_runner")
        stack.handlers[name] = self.meter.wrap("step_runner", stack.handlers[name])
        # Lambda's SQS event source: one ReceiveMessage and one DeleteMessageBatch per batch.
        self.runtime.pump.handler = self.meter.wrap("automation", self.runtime.pump.handler,
                                                    extra={"sqs.requests": 2})
        from chalice.app import SNSEventConfig

        for source in app_module.app.event_sources:
            if isinstance(source, SNSEventConfig) and source.topic in getattr(stack, "topic_handlers", {}):
                stack.topic_handlers[source.topic] = self.meter.wrap(source.name, stack.topic_handlers[source.topic])
        self._client_cm = Client(app_module.app)
        self.client = self._client_cm.__enter__()
        self.key = self.runtime.admin_key
        self._seen: set[str] = set()
        self._count = 0
        with self.meter.paused():
            self._sfn, self._sqs, self._sns = self._clients()

    def _clients(self) -> tuple[Any, Any, Any]:
        import boto3

        from chalicelib.config import settings

        region = settings().region
        return (boto3.client("stepfunctions", region_name=region), boto3.client("sqs", region_name=region),
                boto3.client("sns", region_name=region))

    def close(self) -> None:
        try:
            self._client_cm.__exit__(None, None, None)
        finally:
            self.runtime.stop()
            self.meter.uninstall()
            from chalicelib import clock

            clock.reset()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the HTTP API, one Lambda invocation and one API Gateway request per call ------------
    def request(self, method: str, path: str, body: Any = None, *, csv: str | None = None) -> Response:
        """`body` as JSON, or `csv` as a text/csv body."""
        headers = {"Content-Type": "text/csv" if csv is not None else "application/json",
                   "Authorization": f"Bearer {self.key}"}
        payload = csv if csv is not None else json.dumps(body) if body is not None else None
        self.meter.add("apigw.requests")
        with self.meter.invocation("api_handler"):
            raw = self.client.http.request(method, path, headers=headers, body=payload)
        try:
            data = json.loads(raw.body) if raw.body else None
        except ValueError:
            data = raw.body
        return Response(raw.status_code, data)

    def post(self, path: str, body: Any = None) -> Response:
        return self.request("POST", path, body)

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post_event(self, event: dict | list[dict]) -> Response:
        body = {"events": event} if isinstance(event, list) else event
        response = self.post("/events", body)
        if response.status_code != 202 or (response.data or {}).get("rejected"):
            raise RuntimeError(f"POST /events: {response.status_code} {response.data}")
        return response

    def unique_email(self, label: str) -> str:
        self._count += 1
        return f"{label}-{self._count}@example.com"

    # -- quiet and transitions ---------------------------------------------------------------
    def _running(self) -> int:
        running = 0
        for machine in self._sfn.list_state_machines()["stateMachines"]:
            running += len(self._sfn.list_executions(stateMachineArn=machine["stateMachineArn"],
                                                     statusFilter="RUNNING")["executions"])
        return running

    def _queued(self) -> int:
        from chalicelib.config import settings

        attributes = self._sqs.get_queue_attributes(
            QueueUrl=settings().automation_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return sum(int(value) for value in attributes.values())

    def settle(self, timeout: float = 120.0) -> None:
        """Wait until nothing is queued, handled or running, three checks in a row."""
        deadline = time.monotonic() + timeout
        quiet = 0
        with self.meter.paused():
            while quiet < 3:
                busy = self.runtime.pump.busy or self._queued() > 0 or self._running() > 0
                quiet = 0 if busy else quiet + 1
                if time.monotonic() > deadline:
                    raise TimeoutError("the local stack did not settle (an execution still running?)")
                time.sleep(0.05 if quiet else 0.1)

    def new_transitions(self) -> tuple[int, int]:
        """State transitions (and executions) of the executions not counted yet; the errors of
        those that failed, or whose tasks failed, go to `self.failures`."""
        transitions = executions = 0
        self.failures: list[dict[str, str]] = []
        with self.meter.paused():
            for machine in self._sfn.list_state_machines()["stateMachines"]:
                listed = self._sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
                for execution in listed:
                    arn = execution["executionArn"]
                    if arn in self._seen or execution["status"] == "RUNNING":
                        continue
                    self._seen.add(arn)
                    executions += 1
                    history = self._history(arn)
                    transitions += count_transitions(history)
                    self.failures += task_failures(history, execution["status"])
        return transitions, executions

    def _history(self, arn: str) -> list[dict]:
        events: list[dict] = []
        kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
        while True:
            page = self._sfn.get_execution_history(**kwargs)
            events += page["events"]
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    # -- SES feedback ------------------------------------------------------------------------
    def deliver(self, emails: list[tuple[str, str]]) -> None:
        """What SES publishes to the ses-events topic once each email is delivered."""
        from chalicelib import clock
        from chalicelib.config import settings
        from chalicelib.local.stack import ACCOUNT

        topic = f"arn:aws:sns:{settings().region}:{ACCOUNT}:parcours-ses-events"
        for message_id, recipient in emails:
            now = clock.iso(clock.now())
            notification = {
                "eventType": "Delivery",
                "mail": {"timestamp": now, "messageId": message_id, "source": settings().email_from,
                         "destination": [recipient]},
                "delivery": {"timestamp": now, "recipients": [recipient], "processingTimeMillis": 420,
                             "smtpResponse": "250 2.6.0 Message received"},
            }
            with self.meter.invocation("ses", bill=False):  # SES's publish, billed to the account
                self._sns.publish(TopicArn=topic, Message=json.dumps(notification))

    # -- measuring ---------------------------------------------------------------------------
    def measure(self, name: str, work: Callable[[], Any], *, units: int = 1,
                notes: dict[str, Any] | None = None) -> Measurement:
        self.settle()
        self.new_transitions()  # whatever ran before is not this work's
        before = self.meter.snapshot()
        sent_before = len(self.meter.sent_emails)
        started = time.perf_counter()
        result = work()
        self.settle()
        if self.feedback:
            self.deliver(self.meter.sent_emails[sent_before:])
            self.settle()
        seconds = time.perf_counter() - started
        usage = self.meter.delta(before, self.meter.snapshot())
        transitions, executions = self.new_transitions()
        usage["sfn.transitions"] = float(transitions)
        usage["sfn.executions"] = float(executions)
        measured = Measurement(name, units, usage, seconds, dict(notes or {}))
        if self.failures:
            measured.notes["failures"] = self.failures
        if isinstance(result, dict):
            measured.notes.update(result)
        return measured

    # -- what the reference scenarios need -----------------------------------------------------
    def publish(self, definition: dict) -> None:
        created = self.post("/scenarios", definition)
        if created.status_code != 201:
            raise RuntimeError(f"POST /scenarios {definition['id']}: {created.status_code} {created.data}")
        published = self.post(f"/scenarios/{definition['id']}/publish")
        if published.status_code != 200:
            raise RuntimeError(f"publish {definition['id']}: {published.status_code} {published.data}")

    def archive(self, scenario_id: str) -> None:
        self.post(f"/scenarios/{scenario_id}/archive")

    def contact_id(self, email: str) -> str | None:
        items = (self.get(f"/contacts?email={email}").data or {}).get("items") or []
        return items[0]["id"] if items else None

    def journey(self, email: str, scenario: str) -> dict:
        contact = self.contact_id(email)
        if contact is None:
            return {"status": "contact deleted"}
        for item in (self.get(f"/contacts/{contact}/journeys").data or {}).get("items", []):
            if item.get("scenario") == scenario:
                return {"status": item.get("status"), "path": item.get("path")}
        return {"status": "no journey"}


def count_transitions(history: list[dict]) -> int:
    """What Step Functions bills for one execution: each state entered, and each Task retry."""
    entered = sum(1 for event in history if event["type"].endswith("StateEntered"))
    task_entries = sum(1 for event in history if event["type"] == "TaskStateEntered")
    scheduled = sum(1 for event in history if event["type"] in ("TaskScheduled", "LambdaFunctionScheduled"))
    return entered + max(0, scheduled - task_entries)


def task_failures(history: list[dict], status: str) -> list[dict[str, str]]:
    """The failed tasks (retried or not) and the failure of an execution, from its history."""
    found = []
    for event in history:
        for key in ("taskFailedEventDetails", "lambdaFunctionFailedEventDetails", "executionFailedEventDetails"):
            details = event.get(key)
            if details:
                found.append({"event": event["type"], "error": str(details.get("error", "")),
                              "cause": str(details.get("cause", ""))[:300], "execution": status})
    return found


# -- per event ---------------------------------------------------------------------------------


def signup(session: Session, email: str) -> dict:
    return {"type": "signup", "contact": {"email": email}, "traits": {"first_name": "Ana"}, "consent": CONSENT}


def measure_events(session: Session, *, batch: int = 500) -> list[Measurement]:
    results = [session.measure("1 signup (new contact), no scenario",
                               lambda: session.post_event(signup(session, session.unique_email("solo"))))]
    emails = [session.unique_email("batch") for _ in range(batch)]
    results.append(session.measure(f"{batch} signups in one request, no scenario",
                                   lambda: session.post_event([signup(session, email) for email in emails]),
                                   units=batch))
    known = emails[0]
    results.append(session.measure("1 page_view (known contact), no scenario", lambda: session.post_event(
        {"type": "page_view", "contact": {"email": known}, "properties": {"url": "https://example.com/"}})))
    return results


# -- per contact through each reference scenario -------------------------------------------------


def reference(name: str) -> dict:
    return json.loads((SCENARIOS / f"{name}.json").read_text())


@dataclass
class Drive:
    """How one contact goes down a scenario's main path: set-up outside the measure, then the work."""

    path: str
    setup: Callable[[Session, str], None]
    work: Callable[[Session, str], Any]


def _none(session: Session, email: str) -> None:
    return None


def _existing_contact(session: Session, email: str) -> None:
    response = session.post("/contacts", {"email": email, "first_name": "Ana", "consent": {"email": True}})
    if response.status_code not in (200, 201):
        raise RuntimeError(f"POST /contacts: {response.status_code} {response.data}")


def _birthday_setup(session: Session, email: str) -> None:
    """A contact in Tokyo whose birthday is today, 30 seconds before 09:00 there (domain clock)."""
    from zoneinfo import ZoneInfo

    from chalicelib import clock

    zone = ZoneInfo("Asia/Tokyo")
    local = clock.now().astimezone(zone)
    nine = local.replace(hour=9, minute=0, second=0, microsecond=0)
    if nine <= local:
        nine += timedelta(days=1)
    clock.advance(nine - timedelta(seconds=30) - local)
    response = session.post("/contacts", {"email": email, "first_name": "Ana", "timezone": "Asia/Tokyo",
                                          "birthday": f"1990-{nine.strftime('%m-%d')}", "consent": {"email": True}})
    if response.status_code not in (200, 201):
        raise RuntimeError(f"POST /contacts: {response.status_code} {response.data}")


def _birthday_work(session: Session, email: str) -> dict:
    handler = session.meter.wrap("date_triggers", session.app_module.date_triggers)
    event = {"version": "0", "id": "bench", "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "123456789012", "time": "2026-01-01T00:00:00Z", "region": "eu-west-3",
             "resources": [], "detail": {}}
    return {"enrolled": handler(event, None)}


DRIVES: dict[str, Drive] = {
    "welcome-series": Drive(
        "signup; profile not completed: welcome, wait 7 days, complete-profile",
        _none, lambda s, email: s.post_event({**signup(s, email)})),
    "abandoned-cart": Drive(
        "cart_updated; no purchase within the hour: why, wait 2 days, no click: similar",
        _none, lambda s, email: s.post_event({"type": "cart_updated", "contact": {"email": email},
                                               "consent": CONSENT, "properties": {"items": 2}})),
    "lead-magnet": Drive(
        "download of the plan: template, wait 3 days, method, wait 3 days, secret",
        _none, lambda s, email: s.post_event({"type": "download", "contact": {"email": email}, "consent": CONSENT,
                                               "properties": {"resource": "marketing-plan"}})),
    "loyal-customers": Drive(
        "first purchase: coupon",
        _none, lambda s, email: s.post_event({"type": "purchase", "contact": {"email": email}, "consent": CONSENT,
                                               "id": f"order-{email}"})),
    "zero-waste": Drive(
        "known contact enters inactive-6-months: last-chance, no click in 15 days: contact deleted",
        _existing_contact, lambda s, email: s.post_event({"type": "segment.entered", "contact": {"email": email},
                                                           "properties": {"segment": "inactive-6-months"}})),
    "birthday": Drive(
        "daily date trigger on the birthday: wait until 09:00 local time, birthday-mail",
        _birthday_setup, _birthday_work),
}


def measure_scenarios(session: Session, names: tuple[str, ...] = REFERENCE) -> list[Measurement]:
    results = []
    for name in names:
        drive = DRIVES[name]
        for body in lists_for(name):
            session.post("/lists", body)
        session.publish(reference(name))
        email = session.unique_email(name)
        drive.setup(session, email)
        measured = session.measure(name, lambda drive=drive, email=email: drive.work(session, email),
                                   notes={"main_path": drive.path})
        with session.meter.paused():
            measured.notes["journey"] = session.journey(email, name)
        session.archive(name)
        results.append(measured)
    return results


WARM_UP = {"id": "bench-warm-up", "name": "Warm-up", "trigger": {"event": "bench_warm_up"},
           "entry": {"reentry": "always"},
           "steps": [{"id": "hello", "type": "email", "subject": "Hello {{ contact.first_name | default('') }}",
                      "html": "<p>Hello</p>"}]}


def warm_up(session: Session) -> None:
    """Run every handler once, unmeasured: the figures are those of warm Lambda functions
    (cold starts are timed apart, as the import of app.py)."""
    email = session.unique_email("warm")
    session.post_event(signup(session, email))
    session.post_event({"type": "page_view", "contact": {"email": email}})
    session.publish(WARM_UP)
    session.post_event({"type": "bench_warm_up", "contact": {"email": email}})
    session.settle()
    if session.feedback:
        session.deliver(session.meter.sent_emails[-1:])
    session.archive(WARM_UP["id"])
    session.settle()


def run(*, batch: int = 500, scenarios: tuple[str, ...] = REFERENCE, time_scale: float = TIME_SCALE,
        progress: Callable[[str], None] = lambda text: None) -> dict:
    """Boot, warm up, measure events then scenarios, stop. Raises if the stack does not settle."""
    started = time.perf_counter()
    session = Session(time_scale=time_scale)
    try:
        boot_seconds = time.perf_counter() - started
        progress(f"local stack up in {boot_seconds:.1f}s; warming up")
        warm_up(session)
        progress(f"events (one, a batch of {batch})")
        events = measure_events(session, batch=batch)
        progress("reference scenarios")
        journeys = measure_scenarios(session, scenarios)
        internal = {key: value for key, value in session.meter.snapshot().items() if key.startswith("internal.")}
        errors = session.meter.snapshot().get("meter.errors", 0)
    finally:
        session.close()
    return {"events": events, "scenarios": journeys, "boot_seconds": boot_seconds, "internal_calls": internal,
            "meter_errors": errors, "threads_left": threading.active_count()}
