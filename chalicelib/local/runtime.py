"""The app on the embedded AWS: what `make run` serves and what the tests drive."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from chalicelib.local.heap import HeapKeeper
from chalicelib.local.pump import FOREGROUND, QueuePump
from chalicelib.local.schedules import Schedules
from chalicelib.local.stack import FUNCTIONS, LocalStack


@dataclass
class Runtime:
    stack: LocalStack
    app: Any
    admin_key: str
    generated_key: bool
    pump: QueuePump
    schedules: Schedules | None
    campaign_pump: QueuePump | None = None  # the campaign-sends queue's consumer
    heap: HeapKeeper | None = None

    def stop(self) -> None:
        if self.heap is not None:
            self.heap.stop()
        if self.schedules is not None:
            self.schedules.stop()
        self.pump.stop()
        if self.campaign_pump is not None:
            self.campaign_pump.stop()
        self.stack.stop()


def boot(*, time_scale: float | None = None, admin_key: str | None = None, schedules: bool = False,
         keep_heap: bool = False) -> Runtime:
    """Start moto, import the app against it, route its Lambda functions, register the admin key;
    with `schedules`, run the app's schedules on the domain clock as EventBridge would (`make run`);
    with `keep_heap`, keep the garbage collector off a large base (heap.HeapKeeper: `make run`, the
    bench; a process booting a stack per test has no large base, and its first turn would walk
    the whole process)."""
    stack = LocalStack(time_scale=time_scale, admin_key=admin_key).start()
    import app as app_module
    from app import app  # imported once the environment points at the local stack
    from chalicelib import keys
    from chalicelib.audience import jobs
    from chalicelib.channels import outbound
    from chalicelib.config import settings
    from chalicelib.events import routing
    from chalicelib.reports import counters
    from chalicelib.scenarios import service as scenarios

    scenarios.forget()  # a new stack holds new scenarios under the same ids
    counters.forget_definitions()
    outbound.forget_subscriptions()  # and new webhook subscriptions
    routing.forget()  # and a new routing record
    for name in FUNCTIONS:
        stack.register(name, getattr(app_module, name))
    stack.register_sns_handlers(app)  # SES feedback and inbound SMS, as SNS delivers them
    jobs.run_as_started(lambda: stack.running, FOREGROUND.serving)
    configured = settings().admin_key
    generated = configured is None
    key = f"prc_{secrets.token_urlsafe(24)}" if configured is None else configured
    keys.ensure(key, "admin", "local admin")
    if not getattr(app, "foreground_counted", False):  # one app per process, many stacks in tests
        app.register_middleware(FOREGROUND.middleware, "http")
        app.foreground_counted = True
    pump = QueuePump(app_module.automation)
    pump.start()
    from chalicelib.store import campaigns as campaign_sends

    campaign_pump = QueuePump(app_module.campaign_sender, receive=campaign_sends.receive,
                              delete=campaign_sends.delete, name="campaign-sends")
    campaign_pump.start()
    heap = HeapKeeper() if keep_heap else None
    if heap is not None:
        heap.start()
    return Runtime(stack, app, key, generated, pump, Schedules(app).start() if schedules else None, campaign_pump,
                   heap)
