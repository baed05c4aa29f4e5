"""Webhook steps: each endpoint signs with its own secret, never the tracking secret; the call
goes to the address that was checked, on port 443, and follows no redirect.

A local TLS server on 127.0.0.1 stands in for hooks.example.com: the test hands `webhooks.post`
a resolver answering that address (production refuses loopback, rightly) and a TLS context
trusting the test CA, and maps port 443 to the server's port at the socket level. Nothing
leaves the machine.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from chalicelib.channels import tracking, webhooks
from tests.helpers import (
    DAY,
    contact_id,
    email_to,
    error_paths,
    eventually,
    fetch_pixel,
    journey,
    links,
    message,
    one_email,
    post,
    publish,
    run_schedule,
    scenario,
    signup,
)

HOST = "hooks.example.com"


class _Receiver:
    """An HTTPS server for HOST on 127.0.0.1; records each request and the TLS server name asked."""

    def __init__(self, status: int = 200, location: str | None = None, failures: int = 0) -> None:
        self.ca = trustme.CA()
        self.requests: list[dict] = []
        self.server_names: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(500 if len(receiver.requests) <= failures else status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(HOST).configure_cert(context)
        context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch):
    """HOST served locally; `connected` lists the (address, port) webhooks connected to."""
    found = _Receiver()
    _route_to(monkeypatch, found)
    yield found
    found.close()


def _route_to(monkeypatch, found: _Receiver) -> None:
    found.connected = []
    real_connect = socket.create_connection

    def connect(address, *args, **kwargs):
        found.connected.append(address)
        host, port = address
        return real_connect((host, found.port if (host, port) == ("127.0.0.1", 443) else port), *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", connect)
    monkeypatch.setattr(webhooks, "post", functools.partial(webhooks.post, resolve=lambda host: "127.0.0.1",
                                                            context=found.client_context()))


def _hooked(url: str = f"https://{HOST}/parcours?src=1", scenario_id: str = "hooked") -> dict:
    return scenario(scenario_id, "signup", [{"id": "crm", "type": "webhook", "url": url, "body": {"stage": "new"}}])


def _run(api, definition: dict, email: str = "ana@example.com") -> dict:
    assert api.post("/scenarios", definition).status_code == 201
    assert api.post(f"/scenarios/{definition['id']}/publish").status_code == 200
    signup(api, email)
    return journey(api, email, definition["id"], status="completed")


def _signature(secret: str, request: dict) -> str:
    signed = request["headers"]["X-Parcours-Timestamp"].encode() + b"." + request["body"]
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


@pytest.mark.time_scale(DAY)
def test_a_webhook_is_signed_with_its_endpoint_secret_over_tls_to_the_checked_address(api, receiver):
    done = _run(api, _hooked())
    assert [(step["step"], step["result"]) for step in done["steps"]] == [("crm", "delivered:200")]
    [request] = receiver.requests
    assert receiver.connected == [("127.0.0.1", 443)]  # the resolved address, on the https port
    assert receiver.server_names == [HOST] and request["headers"]["Host"] == HOST  # TLS and HTTP name the host
    assert request["path"] == "/parcours?src=1"
    payload = json.loads(request["body"])
    assert payload["scenario"] == "hooked" and payload["step"] == "crm" and payload["data"] == {"stage": "new"}
    assert payload["contact"]["id"] == contact_id(api, "ana@example.com")

    endpoints = api.get("/scenarios/hooked/webhooks")
    assert endpoints.status_code == 200
    [endpoint] = endpoints.data["items"]
    assert endpoint["step"] == "crm" and endpoint["path"] == "steps[0]" and endpoint["url"] == f"https://{HOST}/parcours?src=1"
    assert request["headers"]["X-Parcours-Signature"] == _signature(endpoint["secret"], request)
    assert request["headers"]["X-Parcours-Signature"] != _signature("test-secret", request)  # not the tracking secret


def test_each_endpoint_has_its_own_secret_shown_to_writers_only(api):
    api.post("/scenarios", scenario("two-hooks", "signup", [
        {"id": "crm", "type": "webhook", "url": f"https://{HOST}/a"},
        {"id": "erp", "type": "webhook", "url": f"https://{HOST}/a"}]))
    api.post("/scenarios", _hooked(f"https://{HOST}/a", scenario_id="other"))
    first = {item["step"]: item["secret"] for item in api.get("/scenarios/two-hooks/webhooks").data["items"]}
    [other] = api.get("/scenarios/other/webhooks").data["items"]
    secrets = [first["crm"], first["erp"], other["secret"]]
    assert len(set(secrets)) == 3 and all(secret.startswith("whsec_") and len(secret) > 40 for secret in secrets)
    assert "test-secret" not in secrets
    # a new URL for the same step is a new receiver: a new secret
    api.put("/scenarios/other", _hooked(f"https://{HOST}/b", scenario_id="other"))
    [moved] = api.get("/scenarios/other/webhooks").data["items"]
    assert moved["secret"] != other["secret"]
    assert api.get("/scenarios/other/webhooks?version=1").data["items"][0]["secret"] == other["secret"]
    analyst = api.key_for("analyst")
    assert api.get("/scenarios/other/webhooks", key=analyst).status_code == 403
    assert api.get("/scenarios/nope/webhooks").status_code == 404


@pytest.mark.time_scale(DAY)
def test_a_webhook_secret_cannot_forge_tracking_or_unsubscribe_links(api, receiver):
    _run(api, _hooked())
    [endpoint] = api.get("/scenarios/hooked/webhooks").data["items"]
    someone = contact_id(api, "ana@example.com")
    click = tracking.make_click_token(endpoint["secret"], "any-message", "https://phish.example.net/", someone)
    unsubscribe = tracking.make_unsubscribe_token(endpoint["secret"], someone)
    assert api.get(f"/t/c/{click}", key="").status_code == 404
    assert api.post(f"/u/{unsubscribe}", key="").status_code == 404
    assert api.get(f"/contacts/{someone}").data["consent"]["email"]["granted"] is True


@pytest.mark.time_scale(DAY)
def test_a_redirect_is_an_answer_never_followed(api, monkeypatch):
    found = _Receiver(status=302, location=f"https://{HOST}/elsewhere")
    try:
        _route_to(monkeypatch, found)
        done = _run(api, _hooked())
        assert [step["result"] for step in done["steps"]] == ["failed:302"]
        assert [request["path"] for request in found.requests] == ["/parcours?src=1"]
    finally:
        found.close()


def test_the_host_is_resolved_once_and_the_checked_address_is_the_one_connected(monkeypatch):
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])  # a rebinding DNS: public, then loopback
    asked, connected = [], []

    def getaddrinfo(host, port, *args, **kwargs):
        asked.append((host, port))
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in next(answers)]

    def create_connection(address, *args, **kwargs):
        connected.append(address)
        raise ConnectionRefusedError("not leaving the machine")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    with pytest.raises(ConnectionRefusedError):
        webhooks.post(f"https://{HOST}/in", b"{}", {})
    assert asked == [(HOST, 443)]
    assert connected == [("93.184.216.34", 443)]


@pytest.mark.parametrize("answer", ["127.0.0.1", "::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::",
                                    "::127.0.0.1", "fd00:ec2::254", "10.0.0.7"])
def test_a_host_resolving_to_an_internal_address_is_refused_before_connecting(monkeypatch, answer):
    connected = []
    family = socket.AF_INET6 if ":" in answer else socket.AF_INET
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *args, **kwargs: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
        (family, socket.SOCK_STREAM, 6, "", (answer, port))])  # one bad answer among good ones is enough
    monkeypatch.setattr(socket, "create_connection", lambda *args, **kwargs: connected.append(args))
    with pytest.raises(webhooks.Refused):
        webhooks.post(f"https://{HOST}/in", b"{}", {})
    assert connected == []


@pytest.mark.parametrize("url", [f"https://{HOST}:8443/in", f"https://{HOST}:80/in", f"http://{HOST}/in"])
def test_only_https_on_port_443(monkeypatch, url):
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: pytest.fail("must not resolve"))
    with pytest.raises(webhooks.Refused):
        webhooks.post(url, b"{}", {})


@pytest.mark.time_scale(DAY)
def test_without_a_webhook_secret_nothing_is_sent(api, receiver, monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("PARCOURS_WEBHOOK_SECRET", "")
    config.reload()
    try:
        done = _run(api, _hooked())
        assert [step["result"] for step in done["steps"]] == ["refused:PARCOURS_WEBHOOK_SECRET is not set"]
        assert receiver.requests == [] and receiver.connected == []
        assert api.get("/scenarios/hooked/webhooks").data["items"][0]["secret"] is None
    finally:
        monkeypatch.undo()
        config.reload()


def test_the_webhook_secret_may_not_be_the_tracking_secret(monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("PARCOURS_TOKEN_SECRET", "one-secret")
    monkeypatch.setenv("PARCOURS_WEBHOOK_SECRET", "one-secret")
    try:
        with pytest.raises(RuntimeError, match="must differ"):
            config.reload()
    finally:
        monkeypatch.undo()
        config.reload()


# -- subscriptions: /webhooks, Standard Webhooks signatures, retries and dead letters ----------


def _verified(secret: str, request: dict) -> dict:
    """The payload, once the Standard Webhooks library has verified the request's signature."""
    from standardwebhooks.webhooks import Webhook

    headers = {name.lower(): value for name, value in request["headers"].items()}
    return Webhook(secret).verify(request["body"], headers)


def _subscribe(api, events: list[str], url: str = f"https://{HOST}/crm") -> dict:
    created = api.post("/webhooks", {"url": url, "events": events, "description": "our CRM"})
    assert created.status_code == 201, created.data
    return created.data


@pytest.mark.time_scale(DAY)
def test_a_subscription_receives_its_events_signed_with_its_secret_shown_once(api, receiver):
    created = _subscribe(api, ["contact.created", "email.*"])
    assert created["secret"].startswith("whsec_") and created["events"] == ["contact.created", "email.*"]
    shown = api.get(f"/webhooks/{created['id']}").data
    assert "secret" not in shown and shown["url"] == f"https://{HOST}/crm"
    assert [item["id"] for item in api.get("/webhooks").data["items"]] == [created["id"]]
    signup(api, "ana@example.com")
    someone = contact_id(api, "ana@example.com")
    request = eventually(lambda: receiver.requests and receiver.requests[0])
    payload = _verified(created["secret"], request)
    assert payload["type"] == "contact.created" and payload["data"]["contact_id"] == someone
    assert payload["data"]["contact"]["email"] == "ana@example.com"
    with pytest.raises(Exception, match="(?i)signature"):
        _verified(_subscribe(api, ["nothing.here"])["secret"], request)  # another subscription's secret
    assert request["headers"]["webhook-id"].startswith("msg_")
    [delivery] = api.get(f"/webhooks/{created['id']}/deliveries").data["items"]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 1 and delivery["last_status"] == 200
    assert delivery["event_type"] == "contact.created" and delivery["next_attempt_at"] is None
    assert delivery["id"] == request["headers"]["webhook-id"]
    assert all(item["data"]["event_id"] != "signup" for item in
               (_verified(created["secret"], found) for found in receiver.requests))  # signup is not subscribed


def test_webhook_subscriptions_refuse_bad_input_and_check_roles(api):
    bad = api.post("/webhooks", {"url": "http://hooks.example.com/x", "events": ["email.*", "bad type", "*", 3]})
    assert bad.status_code == 422
    assert error_paths(bad) == ["url", "events[1]", "events[3]"]
    assert error_paths(api.post("/webhooks", {"url": "https://127.0.0.1/x", "events": []})) == ["url", "events"]
    assert error_paths(api.post("/webhooks", {"events": ["a"], "extra": 1})) == ["extra", "url"]
    created = _subscribe(api, ["purchase"])
    analyst = api.key_for("analyst")
    assert api.get(f"/webhooks/{created['id']}", key=analyst).status_code == 200
    assert api.get(f"/webhooks/{created['id']}/deliveries", key=analyst).data == {"items": [], "next": None}
    assert api.post("/webhooks", {"url": f"https://{HOST}/x", "events": ["a"]}, key=analyst).status_code == 403
    assert api.delete(f"/webhooks/{created['id']}", key=analyst).status_code == 403
    changed = api.patch(f"/webhooks/{created['id']}", {"events": ["purchase", "journey.*"], "description": None})
    assert changed.status_code == 200 and changed.data["events"] == ["purchase", "journey.*"]
    assert changed.data["description"] is None
    assert error_paths(api.patch(f"/webhooks/{created['id']}", {"url": "ftp://x"})) == ["url"]
    assert api.delete(f"/webhooks/{created['id']}").status_code == 204
    assert api.get(f"/webhooks/{created['id']}").status_code == 404
    assert api.get("/webhooks/nope/deliveries").status_code == 404


def _sweep_until(api, webhook_id: str, status: str, *, timeout: float = 60) -> dict:
    def check() -> dict | None:
        run_schedule("webhook_deliveries")
        items = api.get(f"/webhooks/{webhook_id}/deliveries").data["items"]
        return items[0] if items and items[0]["status"] == status else None

    return eventually(check, timeout=timeout, interval=0.02)


@pytest.mark.time_scale(DAY)
def test_a_failing_receiver_is_retried_with_backoff_for_more_than_a_day_then_dead_lettered(api, monkeypatch):
    from chalicelib import clock

    found = _Receiver(status=503)
    try:
        _route_to(monkeypatch, found)
        created = _subscribe(api, ["purchase"])
        post(api, "purchase", "ana@example.com")
        first = eventually(lambda: [item for item in api.get(f"/webhooks/{created['id']}/deliveries").data["items"]
                                    if item["last_attempt_at"]])[0]
        assert (first["status"], first["attempts"], first["last_error"]) == ("pending", 1, "failed:503")
        wait = clock.parse_iso(first["next_attempt_at"]) - clock.parse_iso(first["last_attempt_at"])
        assert wait.total_seconds() == 5
        dead = _sweep_until(api, created["id"], "dead")
        assert dead["attempts"] == 8 and dead["last_error"] == "failed:503" and dead["next_attempt_at"] is None
        spent = clock.parse_iso(dead["last_attempt_at"]) - clock.parse_iso(dead["created_at"])
        assert spent.total_seconds() >= 86400
        assert len(found.requests) == 8
        assert len({request["headers"]["webhook-id"] for request in found.requests}) == 1  # one message, retried
        assert all(_verified(created["secret"], request)["type"] == "purchase" for request in found.requests)
        run_schedule("webhook_deliveries")
        assert len(found.requests) == 8  # dead letters are not retried
    finally:
        found.close()


@pytest.mark.time_scale(3600)  # retries an hour apart come every second
def test_erasing_a_contact_gives_up_the_deliveries_that_still_hold_its_data(api, monkeypatch):
    import time

    found = _Receiver(status=503)
    try:
        _route_to(monkeypatch, found)
        created = _subscribe(api, ["purchase"])
        post(api, "purchase", "ana@example.com")
        eventually(lambda: found.requests)
        assert api.delete(f"/contacts/{contact_id(api, 'ana@example.com')}").status_code == 200
        sent = len(found.requests)
        [given_up] = api.get(f"/webhooks/{created['id']}/deliveries").data["items"]
        assert (given_up["status"], given_up["last_error"], given_up["next_attempt_at"]) == (
            "dead", "contact erased", None)
        for _ in range(10):  # hours of retries on this clock: none goes out
            run_schedule("webhook_deliveries")
            time.sleep(0.1)
        assert len(found.requests) == sent
    finally:
        found.close()


@pytest.mark.time_scale(DAY)
def test_a_receiver_back_after_two_failures_gets_the_delivery(api, monkeypatch):
    found = _Receiver(failures=2)
    try:
        _route_to(monkeypatch, found)
        created = _subscribe(api, ["purchase"])
        post(api, "purchase", "ana@example.com")
        delivered = _sweep_until(api, created["id"], "delivered")
        assert delivered["attempts"] == 3 and delivered["last_status"] == 200 and delivered["last_error"] is None
        assert len(found.requests) == 3
    finally:
        found.close()


def test_a_webhook_step_delivers_once_per_enrollment_and_step_across_task_retries(api, receiver):
    import app as app_module
    from chalicelib.channels import outbound
    from chalicelib.contacts import service
    from chalicelib.scenarios import journeys

    definition = scenario("hooked", "signup", [
        {"id": "crm", "type": "webhook", "url": f"https://{HOST}/in", "body": {"stage": "new"}},
        {"id": "hold", "type": "wait", "duration": "P30D"}])
    assert api.post("/scenarios", definition).status_code == 201
    assert api.post("/scenarios/hooked/publish").status_code == 200
    signup(api, "ana@example.com")
    someone = contact_id(api, "ana@example.com")
    eventually(lambda: journeys.get(someone, "hooked#once") and journeys.get(someone, "hooked#once").path)
    enrollment = journeys.get(someone, "hooked#once")
    payload = {"action": "step", "step": "crm", "next": "hold", "last": False, **journeys.payload(enrollment, {})}
    payload.pop("timeouts")
    assert app_module.step_runner(payload, None) == {"result": "done"}  # the Task, retried
    # below the runner too (the path not recorded when the Lambda died): the delivery exists, its outcome stands
    step = definition["steps"][0]
    assert outbound.step(step, service.get(someone), enrollment, definition) == "delivered:200"
    [request] = receiver.requests
    [endpoint] = api.get("/scenarios/hooked/webhooks").data["items"]
    assert _verified(endpoint["secret"], request)["data"] == {"stage": "new"}
    assert request["headers"]["X-Parcours-Signature"] == _signature(endpoint["secret"], request)


@pytest.mark.time_scale(DAY)
def test_engagement_reaches_a_subscription_once(api, receiver):
    created = _subscribe(api, ["email.opened"])
    publish(api, one_email())
    signup(api, "ana@example.com")
    [sent] = email_to(api, "ana@example.com")
    pixel = links(sent["html"])["open"][0]
    fetch_pixel(api, pixel)
    fetch_pixel(api, pixel)  # opened twice: one email.opened, one delivery
    mail = message(api, "ana@example.com", status="opened")
    request = eventually(lambda: receiver.requests and receiver.requests[0])
    payload = _verified(created["secret"], request)
    assert payload["type"] == "email.opened" and payload["data"]["properties"]["message_id"] == mail["id"]
    assert payload["data"]["properties"]["step"] == "mail" and "contact" not in payload["data"]
    assert [item["event_type"] for item in api.get(f"/webhooks/{created['id']}/deliveries").data["items"]] == [
        "email.opened"]


@pytest.mark.schedules
@pytest.mark.time_scale(DAY)
def test_on_the_local_stack_the_schedule_retries_by_itself(api, monkeypatch):
    found = _Receiver(failures=1)
    try:
        _route_to(monkeypatch, found)
        created = _subscribe(api, ["purchase"])
        post(api, "purchase", "ana@example.com")
        delivered = eventually(lambda: [item for item in api.get(f"/webhooks/{created['id']}/deliveries").data["items"]
                                        if item["status"] == "delivered"], timeout=30)[0]
        assert delivered["attempts"] == 2 and len(found.requests) == 2
    finally:
        found.close()
