"""`python -m bench campaigns`: a campaign to 20,000 contacts end to end on the local stack, and
the model of one million recipients on AWS drawn from it.

Measured: the contacts (consented, in one list) are written straight into the tables (setting
up is not the work); then, metered like every workload (bench/meter.py): POST /campaigns, POST
/campaigns/{id}/schedule `now`, the selection job, the sender's batches, the `email.sent`
events through the automation queue; then the SES delivery notification (through SNS and the
ses_events function) of a sample of the emails, whose usage per email is counted for each.
Per recipient: AWS requests, DynamoDB units, SQS requests, Lambda invocations and modelled
duration (the sender runs one thread here, so its billed duration is the sum of its calls'
latencies: an upper bound of what eight threads bill), and dollars.

Modelled: one million recipients at an SES rate of 100 and of 1,000 emails a second, from the
measured requests per recipient and AWS's published quotas (bench/prices.py latencies, SQS
event-source concurrency, DynamoDB's 1,000 writes a second per partition key): total time
against the bound recipients / rate (goal: within 1.1 times), and dollars per 1,000 recipients
against SES's own $0.10 (goal: at most $0.13 all in).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
GOAL_TIME_FACTOR = 1.1
GOAL_DOLLARS_PER_1000 = 0.13
SES_DOLLARS_PER_1000 = 0.10
MODEL_RECIPIENTS = 1_000_000
MODEL_RATES = (100, 1000)
# AWS quotas and settings the model reads (the app's own: app.py, chalicelib/config.py)
SENDER_CONCURRENCY = 10  # app.py: maximum_concurrency of the campaign-sends event source
SENDER_THREADS = 8  # PARCOURS_CAMPAIGN_THREADS
BATCH = 50  # recipients per SQS message (campaigns.selection.BATCH)
PARTITION_WRITES_PER_SECOND = 1000  # DynamoDB, per partition key (and per item)
SHARDS = 16  # campaigns' recipients and counters (store.campaigns.SHARDS)
# The most a recipient writes on one partition key: its shard's counter item takes two counted
# facts (sent, then delivered), each a transaction at 2 WRU; so does its shard's slot of the
# account's day. Opens and clicks come later, spread over hours.
HOT_KEY_WRU_PER_RECIPIENT = 4
JOB_WORKERS = 4  # PARCOURS_JOB_MAX_WORKERS: selection Lambdas at once
JOB_THREADS = 8  # PARCOURS_JOB_THREADS
START_SECONDS = 2.0  # the request, the worker's asynchronous start, the first part's first page
LIST_ID = "bench-campaign"
FEEDBACK_SAMPLE = 2000  # emails whose SES delivery notification is played (the cost per email is the same)


def _contacts(count: int) -> list[str]:
    """`count` consented contacts in one list, written straight into the tables (not measured)."""
    from chalicelib import clock
    from chalicelib.store.audience import AudienceList, Member, counter_key
    from chalicelib.store.models import Consent, Contact

    now = clock.iso(clock.now())
    ids = [str(uuid.uuid4()) for _ in range(count)]
    AudienceList(LIST_ID, name="Bench campaign", created_at=now, updated_at=now).save()
    counts: dict[str, int] = {}
    with Contact.batch_write() as contacts, Member.batch_write() as members:
        for number, contact_id in enumerate(ids):
            contacts.save(Contact(contact_id, email=f"r{number}@example.com", first_name=f"R{number}",
                                  consent_email=Consent(granted=True, at=now, source="bench"),
                                  lists={LIST_ID}, created_at=now, updated_at=now))
            members.save(Member(f"list#{LIST_ID}", contact_id, at=now, source="bench"))
            counts[counter_key(contact_id)] = counts.get(counter_key(contact_id), 0) + 1
    with Member.batch_write() as members:
        for key, value in counts.items():
            members.save(Member(f"list#{LIST_ID}", key, count=value))
    return ids


def _metered_selection(session: Any) -> None:
    """Each step of the selection job counted as an `audience_worker` invocation (on AWS a worker
    runs many steps: an upper bound of invocations, and their duration as measured)."""
    from chalicelib.audience import jobs
    from chalicelib.campaigns.selection import CampaignSelection

    kind = CampaignSelection()
    step = kind.step

    def metered(head: Any, part: Any, index: int) -> Any:
        with session.meter.invocation("audience_worker"):
            return step(head, part, index)

    kind.step = metered  # type: ignore[method-assign]
    jobs.register("campaign_selection", kind)


def _metered_sender(session: Any) -> None:
    """The campaign-sends consumer as Lambda's SQS event source: one invocation per batch, plus
    its poller's ReceiveMessage and DeleteMessage (billed to the account), not the pump's own."""
    pump = session.runtime.campaign_pump
    pump.handler = session.meter.wrap("campaign_sender", pump.handler, extra={"sqs.requests": 2})
    receive, delete = pump.receive, pump.delete

    def quiet_receive() -> Any:
        with session.meter.paused():
            return receive()

    def quiet_delete(handle: str) -> None:
        with session.meter.paused():
            delete(handle)

    pump.receive, pump.delete = quiet_receive, quiet_delete


def _campaign_done(session: Any, campaign_id: str, timeout: float) -> dict:
    from chalicelib.campaigns import report
    from chalicelib.campaigns import service as campaigns

    deadline = time.monotonic() + timeout
    while True:
        with session.meter.paused():
            found = campaigns.get(campaign_id)
            if found is not None and found.status in ("sent", "failed", "cancelled"):
                return report.report(found)
        if time.monotonic() > deadline:
            raise TimeoutError(f"campaign {campaign_id} not sent within {timeout:.0f}s")
        time.sleep(0.5)


def measure(recipients: int, progress: Any) -> dict[str, Any]:
    from bench import report
    from bench.workloads import Measurement, Session, warm_up

    session = Session(time_scale=1, feedback=False)  # SES's delivery notifications: on a sample, below
    try:
        _metered_selection(session)
        _metered_sender(session)
        warm_up(session)
        progress(f"{recipients:,} contacts in list {LIST_ID}")
        with session.meter.paused():
            _contacts(recipients)
        body = {"id": "bench-newsletter", "name": "Bench newsletter", "channel": "email",
                "subject": "News for {{ contact.first_name }}",
                "html": '<p>Hello {{ contact.first_name }}</p><a href="https://shop.example.com/a">A</a>'
                        '<a href="https://shop.example.com/b">B</a>',
                "audience": {"lists": [LIST_ID]}}
        timings: dict[str, float] = {}

        def work() -> dict:
            started = time.perf_counter()
            created = session.post("/campaigns", body)
            scheduled = session.post(f"/campaigns/{body['id']}/schedule", {"at": "now"})
            if created.status_code != 201 or scheduled.status_code != 200:
                raise RuntimeError(f"campaign refused: {created.data} {scheduled.data}")
            final = _campaign_done(session, body["id"], timeout=max(600.0, recipients / 5))
            timings["sent_seconds"] = time.perf_counter() - started
            progress(f"campaign sent in {timings['sent_seconds']:.0f}s")
            return {"report": {key: final[key] for key in ("selected", "sent", "skipped", "failed")}}

        progress("campaign: create, schedule now, select, send (metered)")
        sent_before = len(session.meter.sent_emails)
        measured = session.measure("campaign recipient", work, units=recipients)
        measured.notes.update(timings)
        sample = session.meter.sent_emails[sent_before:][:FEEDBACK_SAMPLE]
        progress(f"SES delivery notifications of {len(sample):,} of the emails (metered)")
        feedback = session.measure("delivery notification", lambda: session.deliver(sample), units=len(sample))
        # every email gets its notification on AWS: the sample's usage per email, for each recipient
        usage = dict(measured.usage)
        for key, value in feedback.per_unit().items():
            usage[key] = usage.get(key, 0.0) + value * recipients
        combined = Measurement(measured.name, recipients, usage, measured.seconds,
                               {**measured.notes, "feedback_sample": len(sample),
                                "feedback_seconds": round(feedback.seconds, 1)})
        summary = report.summarise(combined)
    finally:
        session.close()
    return summary


def _latency_per_recipient(summary: dict[str, Any], function: str) -> float:
    """Seconds of AWS latency one recipient costs `function` (its calls, bench/prices.LATENCY_MS)."""
    billed = summary["lambda_billed_ms_by_function"].get(function, 0.0)
    return billed / 1000  # per recipient already (summaries are per unit)


def model(summary: dict[str, Any]) -> dict[str, Any]:
    """One million recipients at each SES rate: time against recipients / rate, dollars per 1,000."""
    per_recipient_sender = _latency_per_recipient(summary, "campaign_sender")  # serial, one thread
    sender_capacity = SENDER_CONCURRENCY * SENDER_THREADS / per_recipient_sender if per_recipient_sender else math.inf
    selection = _latency_per_recipient(summary, "audience_worker")
    feed_capacity = JOB_WORKERS * JOB_THREADS / selection if selection else math.inf
    partition_capacity = PARTITION_WRITES_PER_SECOND * SHARDS / HOT_KEY_WRU_PER_RECIPIENT
    dollars = summary["dollars_per_1000"]["total"]
    rates = []
    for rate in MODEL_RATES:
        effective = min(rate, sender_capacity, feed_capacity, partition_capacity)
        seconds = START_SECONDS + MODEL_RECIPIENTS / effective + per_recipient_sender * BATCH
        bound = MODEL_RECIPIENTS / rate
        rates.append({"rate": rate, "bound_seconds": bound, "seconds": round(seconds, 1),
                      "factor": round(seconds / bound, 3), "goal_factor": GOAL_TIME_FACTOR,
                      "limited_by": min((("SES rate", rate), ("sender", sender_capacity),
                                         ("selection", feed_capacity), ("DynamoDB partitions", partition_capacity)),
                                        key=lambda item: item[1])[0]})
    return {"recipients": MODEL_RECIPIENTS,
            "sender_recipients_per_second": round(sender_capacity, 1),
            "selection_recipients_per_second": round(feed_capacity, 1),
            "partition_recipients_per_second": round(partition_capacity, 1),
            "rates": rates, "dollars_per_1000": round(dollars, 4),
            "beyond_ses_per_1000": round(dollars - SES_DOLLARS_PER_1000, 4),
            "goal_dollars_per_1000": GOAL_DOLLARS_PER_1000,
            "dollars_per_million": round(dollars * 1000, 2)}


def render(summary: dict[str, Any], modelled: dict[str, Any]) -> str:
    notes = summary["notes"]
    calls = ", ".join(f"{name} {count:.2f}" for name, count in sorted(summary["aws_calls"].items(),
                                                                      key=lambda item: -item[1]) if count >= 0.01)
    dollars = summary["dollars_per_1000"]
    lines = [
        f"Campaign to {summary['units']:,} contacts on the local stack (moto): sent in "
        f"{notes.get('sent_seconds', 0):.0f}s ({summary['units'] / max(notes.get('sent_seconds', 1), 1e-9):.0f} "
        f"recipients/s on moto, one sender thread); SES delivery notifications played for "
        f"{notes.get('feedback_sample', 0):,} emails in {notes.get('feedback_seconds', 0):.0f}s, their cost per "
        "email counted for every recipient",
        f"  report: {notes.get('report')}",
        f"  per recipient: {sum(summary['aws_calls'].values()):.1f} AWS requests, "
        f"DynamoDB {summary['dynamodb_wru']:.1f} WRU / {summary['dynamodb_rru']:.1f} RRU, "
        f"SQS {summary['sqs_requests']:.2f}, Lambda "
        f"{summary['lambda_invocations']:.3f} invocations ({summary['lambda_gb_seconds'] * 1000:.2f} GB-ms), "
        f"SNS {summary['sns_publishes']:.2f}, emails {summary['emails']:.2f}",
        f"  requests per recipient: {calls}",
        "  $ per 1,000 recipients: " + ", ".join(f"{line.replace('_', ' ')} {value:.4f}" for line, value in
                                                  dollars.items() if line != "total" and value >= 0.00005)
        + f"; total {dollars['total']:.4f}",
        "",
        f"Model: {modelled['recipients']:,} recipients (sender {modelled['sender_recipients_per_second']:,.0f}/s, "
        f"selection {modelled['selection_recipients_per_second']:,.0f}/s, DynamoDB partitions "
        f"{modelled['partition_recipients_per_second']:,.0f}/s at most)",
    ]
    for item in modelled["rates"]:
        verdict = "ok" if item["factor"] <= item["goal_factor"] else "MISSED"
        lines.append(f"  SES {item['rate']:>5}/s: {item['seconds']:>9,.0f}s against the bound "
                     f"{item['bound_seconds']:,.0f}s = {item['factor']:.3f}x (goal <= {item['goal_factor']}x: "
                     f"{verdict}; limited by {item['limited_by']})")
    verdict = "ok" if modelled["dollars_per_1000"] <= modelled["goal_dollars_per_1000"] else "MISSED"
    lines.append(f"  cost: ${modelled['dollars_per_1000']:.4f} per 1,000 recipients, SES $0.10 of it (goal <= "
                 f"${modelled['goal_dollars_per_1000']:.2f}: {verdict}); ${modelled['dollars_per_million']:,.2f} "
                 "per million")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench campaigns", description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="2,000 recipients")
    parser.add_argument("--out", type=Path, default=RESULTS / "campaigns.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.recipients = 2_000
    os.environ.setdefault("PARCOURS_TABLE_PREFIX", "parcours-bench-")
    os.environ.setdefault("PARCOURS_TOKEN_SECRET", "bench-secret")
    os.environ["PARCOURS_EMAIL_RATE"] = "1000"  # paced (one slot write a batch), faster than moto anyway
    os.environ["PARCOURS_CAMPAIGN_THREADS"] = "1"  # every call in the metered invocation's thread
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)

    import logging

    logging.disable(logging.INFO)
    started = time.perf_counter()

    def progress(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {text}", file=sys.stderr, flush=True)

    summary = measure(args.recipients, progress)
    modelled = model(summary)
    print(render(summary, modelled))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"measured": summary, "model": modelled}, indent=2, default=str) + "\n")
    return 0
