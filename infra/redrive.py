"""Move the automation queue's dead letters back to the queue: `make redrive STAGE=dev`.

Events land in the dead-letter queue after the scenario engine failed them five times (the
alarm rings). Once the cause is fixed, they go back to the queue to be handled again, which is
safe: the engine is idempotent per event.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any


def redrive(dead_letter_url: str, queue_url: str, session: Any) -> int:
    """Move every message of the dead-letter queue to the queue (sent first, then deleted); how many."""
    sqs = session.client("sqs")
    moved = 0
    while True:
        received = sqs.receive_message(QueueUrl=dead_letter_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                       MessageAttributeNames=["All"]).get("Messages", [])
        if not received:
            return moved
        for message in received:
            attributes = message.get("MessageAttributes") or {}
            sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"],
                             **({"MessageAttributes": attributes} if attributes else {}))
            sqs.delete_message(QueueUrl=dead_letter_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.redrive", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--stack", help="the infra stack (default parcours-STAGE)")
    args = parser.parse_args(argv)

    import boto3

    from infra.deploy import stack_outputs

    session = boto3.session.Session()
    outputs = stack_outputs(args.stack or f"parcours-{args.stage}", session)
    moved = redrive(outputs["AutomationDeadLetterQueueUrl"], outputs["AutomationQueueUrl"], session)
    print(f"{moved} message(s) moved back to the automation queue")
    return 0


if __name__ == "__main__":
    sys.exit(main())
