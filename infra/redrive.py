"""Hand dead letters back once their cause is fixed: `make redrive STAGE=dev`.

Events land in the automation dead-letter queue after the scenario engine failed them five
times; they go back to the automation queue. SES and SMS feedback lands in the feedback
dead-letter queue after ses_events or sms_inbound failed it three times (Lambda's on-failure
record, with the SNS notification it was given); each notification is published again to its
topic. Both are safe to handle twice: the engine is idempotent per event, feedback per
notification. The alarms ring while either queue holds anything.
"""
from __future__ import annotations

import argparse
import json
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


def republish(dead_letter_url: str, session: Any) -> int:
    """Publish the SNS notification of every on-failure record again to its topic (sent first,
    then deleted); how many."""
    sqs, sns = session.client("sqs"), session.client("sns")
    published = 0
    while True:
        received = sqs.receive_message(QueueUrl=dead_letter_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1).get("Messages", [])
        if not received:
            return published
        for message in received:
            for record in json.loads(message["Body"])["requestPayload"]["Records"]:
                notification = record["Sns"]
                attributes = {name: {"DataType": value["Type"], "StringValue": value["Value"]}
                              for name, value in (notification.get("MessageAttributes") or {}).items()}
                sns.publish(TopicArn=notification["TopicArn"], Message=notification["Message"],
                            **({"MessageAttributes": attributes} if attributes else {}))
                published += 1
            sqs.delete_message(QueueUrl=dead_letter_url, ReceiptHandle=message["ReceiptHandle"])


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
    published = republish(outputs["FeedbackDeadLetterQueueUrl"], session)
    print(f"{published} feedback notification(s) published again")
    return 0


if __name__ == "__main__":
    sys.exit(main())
