"""The local stack's speed-ups of moto give moto's own answers (chalicelib/local/*_speed.py)."""
from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from copy import deepcopy
from functools import partial
from typing import Any

import boto3
import pytest
from botocore.validate import ParamValidator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from chalicelib.local import dynamodb_speed, moto_direct, sqs_speed

REGION = "eu-west-3"


@pytest.fixture()
def aws() -> Iterator[None]:
    dynamodb_speed.install()
    sqs_speed.install()
    with mock_aws():
        yield


def _tables(client: Any) -> None:
    client.create_table(
        TableName="ranged", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "owner", "at",
                                                                                       "kind")],
        GlobalSecondaryIndexes=[
            {"IndexName": "by_owner", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}, {"AttributeName": "at", "KeyType": "RANGE"}]},
            {"IndexName": "by_kind", "Projection": {"ProjectionType": "KEYS_ONLY"},
             "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}]}])
    client.create_table(
        TableName="flat", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "email", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "by_email", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}]}])


SMALL = st.sampled_from(["a", "b", "c", "d"])
PUT = st.tuples(st.just("put"), SMALL, SMALL, st.one_of(st.none(), SMALL), st.one_of(st.none(), SMALL), SMALL)
UPDATE = st.tuples(st.just("update"), SMALL, SMALL, st.one_of(st.none(), SMALL), st.one_of(st.none(), SMALL), SMALL)
DELETE = st.tuples(st.just("delete"), SMALL, SMALL, st.none(), st.none(), SMALL)
TRANSACT = st.tuples(st.just("transact"), SMALL, SMALL, st.one_of(st.none(), SMALL), st.one_of(st.none(), SMALL),
                     SMALL)
OPERATIONS = st.lists(st.one_of(PUT, UPDATE, DELETE, TRANSACT), max_size=40)


def _apply(client: Any, operation: tuple) -> None:
    kind, pk, sk, owner, category, at = operation
    key = {"pk": {"S": pk}, "sk": {"S": sk}}
    attributes = {"at": {"S": at}}
    if owner is not None:
        attributes["owner"] = {"S": owner}
    if category is not None:
        attributes["kind"] = {"S": category}
    if kind == "put":
        client.put_item(TableName="ranged", Item={**key, **attributes})
        client.put_item(TableName="flat", Item={"pk": {"S": pk + sk}, **({"email": {"S": owner}} if owner else {})})
    elif kind == "update":
        sets = ", ".join(f"#{name} = :{name}" for name in attributes)
        removed = [name for name in ("owner", "kind") if name not in attributes]
        expression = f"SET {sets}" + (f" REMOVE {', '.join('#' + name for name in removed)}" if removed else "")
        client.update_item(TableName="ranged", Key=key, UpdateExpression=expression,
                           ExpressionAttributeNames={f"#{name}": name for name in [*attributes, *removed]},
                           ExpressionAttributeValues={f":{name}": value for name, value in attributes.items()})
    elif kind == "delete":
        client.delete_item(TableName="ranged", Key=key)
        client.delete_item(TableName="flat", Key={"pk": {"S": pk + sk}})
    else:
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": "ranged", "Item": {**key, **attributes}}},
            {"Update": {"TableName": "flat", "Key": {"pk": {"S": pk + sk}}, "UpdateExpression": "SET email = :e",
                        "ExpressionAttributeValues": {":e": {"S": owner or "z"}}}}])


def _pages(call: Callable[..., dict], **request: Any) -> list[dict]:
    pages = []
    while True:
        page = call(**request)
        pages.append({key: page.get(key) for key in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")})
        if not page.get("LastEvaluatedKey") or len(pages) > 50:
            return pages
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _requests() -> Iterator[tuple[str, dict]]:
    for value in ("a", "b", "c", "d"):
        for limit in (1, 2, 100):
            yield "query", {"TableName": "ranged", "KeyConditionExpression": "pk = :v",
                            "ExpressionAttributeValues": {":v": {"S": value}}, "Limit": limit}
            yield "query", {"TableName": "ranged", "KeyConditionExpression": "pk = :v AND sk >= :s",
                            "ExpressionAttributeValues": {":v": {"S": value}, ":s": {"S": "b"}}, "Limit": limit,
                            "ScanIndexForward": False}
            yield "query", {"TableName": "ranged", "IndexName": "by_owner", "KeyConditionExpression": "#o = :v",
                            "ExpressionAttributeNames": {"#o": "owner"},
                            "ExpressionAttributeValues": {":v": {"S": value}}, "Limit": limit}
            yield "query", {"TableName": "ranged", "IndexName": "by_kind", "KeyConditionExpression": "kind = :v",
                            "FilterExpression": "attribute_exists(pk)",
                            "ExpressionAttributeValues": {":v": {"S": value}}, "Limit": limit}
            yield "query", {"TableName": "flat", "IndexName": "by_email", "KeyConditionExpression": "email = :v",
                            "ExpressionAttributeValues": {":v": {"S": value}}, "Limit": limit}
    for table in ("ranged", "flat"):
        for limit in (1, 3, 100):
            yield "scan", {"TableName": table, "Limit": limit}
            for segment in range(3):
                yield "scan", {"TableName": table, "Limit": limit, "Segment": segment, "TotalSegments": 3}
            yield "scan", {"TableName": table, "Limit": limit, "FilterExpression": "attribute_exists(email)"}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_queries_and_scans_answer_as_moto_does(aws: None, operations: list[tuple]) -> None:
    _same_answers(operations)


@pytest.mark.slow  # about two seconds an example
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_queries_and_scans_answer_as_moto_does_over_many_histories(aws: None, operations: list[tuple]) -> None:
    _same_answers(operations)


def _same_answers(operations: list[tuple]) -> None:
    """Every Query and Scan page of _requests after each write answers as moto's own code does."""
    client = boto3.client("dynamodb", region_name=REGION)
    for table in client.list_tables()["TableNames"]:
        client.delete_table(TableName=table)
    _tables(client)
    # Read once first so the indexes exist while the writes happen (they are built on first use).
    client.query(TableName="ranged", IndexName="by_owner", KeyConditionExpression="#o = :v",
                 ExpressionAttributeNames={"#o": "owner"}, ExpressionAttributeValues={":v": {"S": "a"}})
    client.scan(TableName="ranged", Limit=1)
    client.scan(TableName="flat", Limit=1)
    for operation in operations:
        _apply(client, operation)
        for action, request in _requests():
            call = getattr(client, action)
            narrowed = _pages(call, **request)
            with dynamodb_speed.plain():
                expected = _pages(call, **request)
            assert narrowed == expected, (action, request)


def test_indexes_built_late_see_the_items_already_there(aws: None) -> None:
    client = boto3.client("dynamodb", region_name=REGION)
    _tables(client)
    for number in range(30):
        client.put_item(TableName="ranged", Item={"pk": {"S": f"p{number % 4}"}, "sk": {"S": f"s{number}"},
                                                  "owner": {"S": f"o{number % 3}"}, "at": {"S": str(number)}})
    request = {"TableName": "ranged", "IndexName": "by_owner", "KeyConditionExpression": "#o = :v",
               "ExpressionAttributeNames": {"#o": "owner"}, "ExpressionAttributeValues": {":v": {"S": "o1"}}}
    assert [item["sk"]["S"] for item in client.query(**request)["Items"]] == [
        f"s{number}" for number in sorted(range(1, 30, 3), key=str)]


def test_items_keep_moto_s_size_limit_and_conditions_their_meaning_when_repeated(aws: None) -> None:
    """Items are sized once (not per attribute) and conditions parsed once per text and values: same answers."""
    client = boto3.client("dynamodb", region_name=REGION)
    _tables(client)
    key = {"pk": {"S": "p"}, "sk": {"S": "s"}}
    half = "x" * 200_000
    client.put_item(TableName="ranged", Item={**key, "a": {"S": half}, "b": {"S": half[:4_000]}})
    with pytest.raises(client.exceptions.ClientError, match="Item size has exceeded the maximum allowed size"):
        client.put_item(TableName="ranged", Item={**key, "a": {"S": half}, "b": {"S": half}, "c": {"S": "x" * 6_000}})
    condition = "attribute_not_exists(pk) OR #a < :limit"
    for limit, accepted in (("a", False), ("y", True), ("a", False)):
        request = {"TableName": "ranged", "Item": {**key, "a": {"S": "b"}}, "ConditionExpression": condition,
                   "ExpressionAttributeNames": {"#a": "a"}, "ExpressionAttributeValues": {":limit": {"S": limit}}}
        if accepted:
            client.put_item(**request)
        else:
            with pytest.raises(client.exceptions.ConditionalCheckFailedException):
                client.put_item(**request)
    assert client.get_item(TableName="ranged", Key=key)["Item"]["a"] == {"S": "b"}
    unused = {**request, "ExpressionAttributeNames": {"#a": "a", "#b": "b"}}
    for _ in range(2):  # parsed once, then kept: moto still finds the name no condition uses
        with pytest.raises(client.exceptions.ClientError, match="unused in expressions"):
            client.put_item(**unused)


def test_an_update_expression_checked_once_is_still_refused_where_it_breaks_a_rule(aws: None) -> None:
    """The checks of an update expression alone (its clauses, its paths, the table's keys) are kept
    once passed, for that text, those names and that table: the same text naming a key is refused."""
    client = boto3.client("dynamodb", region_name=REGION)
    _tables(client)
    key = {"pk": {"S": "p"}, "sk": {"S": "s"}}
    request = {"TableName": "ranged", "Key": key, "UpdateExpression": "SET #a = :v",
               "ExpressionAttributeValues": {":v": {"S": "x"}}}
    for _ in range(2):
        client.update_item(**request, ExpressionAttributeNames={"#a": "a"})
        with pytest.raises(client.exceptions.ClientError, match="This attribute is part of the key"):
            client.update_item(**request, ExpressionAttributeNames={"#a": "pk"})
        with pytest.raises(client.exceptions.ClientError, match="Two document paths overlap"):
            client.update_item(**request | {"UpdateExpression": "SET #a = :v, #a = :v"},
                               ExpressionAttributeNames={"#a": "a"})
    assert client.get_item(TableName="ranged", Key=key)["Item"]["a"] == {"S": "x"}


def test_an_update_expression_used_again_applies_its_new_values_to_its_new_item(aws: None) -> None:
    """Each text is parsed once and its tree shared: every use applies its own values."""
    client = boto3.client("dynamodb", region_name=REGION)
    _tables(client)
    expression = "SET #a = :v, #path = list_append(if_not_exists(#path, :none), :step) ADD #n :one"
    names = {"#a": "a", "#path": "path", "#n": "n"}

    def update(pk: str, value: str, step: str, *, transaction: bool = False) -> None:
        request = {"TableName": "flat", "Key": {"pk": {"S": pk}}, "UpdateExpression": expression,
                   "ExpressionAttributeNames": names,
                   "ExpressionAttributeValues": {":v": {"S": value}, ":none": {"L": []},
                                                 ":step": {"L": [{"S": step}]}, ":one": {"N": "1"}}}
        if transaction:
            client.transact_write_items(TransactItems=[{"Update": request}])
        else:
            client.update_item(**request)

    update("first", "x", "welcome")
    update("first", "y", "wait", transaction=True)
    update("second", "z", "start")
    update("first", "w", "done")
    first = client.get_item(TableName="flat", Key={"pk": {"S": "first"}})["Item"]
    second = client.get_item(TableName="flat", Key={"pk": {"S": "second"}})["Item"]
    assert (first["a"], first["path"], first["n"]) == (
        {"S": "w"}, {"L": [{"S": "welcome"}, {"S": "wait"}, {"S": "done"}]}, {"N": "3"})
    assert (second["a"], second["path"], second["n"]) == ({"S": "z"}, {"L": [{"S": "start"}]}, {"N": "1"})


def test_numbers_added_by_one_update_used_again_add_each_use_s_values_to_each_item(aws: None) -> None:
    """An update that only adds numbers (a report's counters) is validated once per text, names,
    values and table: each use still adds its own values to its own item, new or not, and is
    refused where the item or the table refuses it."""
    client = boto3.client("dynamodb", region_name=REGION)
    _tables(client)
    client.put_item(TableName="flat", Item={"pk": {"S": "known"}, "n": {"N": "5"}, "word": {"S": "five"}})

    def add(pk: str, by: str, *, name: str = "n", transaction: bool = False) -> None:
        request = {"TableName": "flat", "Key": {"pk": {"S": pk}}, "UpdateExpression": "ADD #c0 :c0, #c1 :c1",
                   "ExpressionAttributeNames": {"#c0": name, "#c1": "all"},
                   "ExpressionAttributeValues": {":c0": {"N": by}, ":c1": {"N": "1"}}}
        if transaction:
            client.transact_write_items(TransactItems=[{"Update": request}])
        else:
            client.update_item(**request)

    for _ in range(3):
        add("known", "1")
        add("new", "1", transaction=True)
    add("known", "2.5")
    add("new", "-1")
    counted = {pk: client.get_item(TableName="flat", Key={"pk": {"S": pk}})["Item"] for pk in ("known", "new")}
    assert [(item["n"], item["all"]) for item in counted.values()] == [
        ({"N": "10.5"}, {"N": "4"}), ({"N": "2"}, {"N": "4"})]
    for _ in range(2):
        with pytest.raises(client.exceptions.ClientError, match="incorrect data type"):
            add("known", "1", name="word")
        with pytest.raises(client.exceptions.ClientError, match="part of the key"):
            add("known", "1", name="pk")
    assert client.get_item(TableName="flat", Key={"pk": {"S": "known"}})["Item"]["all"] == {"N": "4"}


def test_a_busy_queue_sends_receives_and_deletes_as_moto_does(aws: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="busy", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    for start in range(0, 200, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"m{start + n}"}
                                                      for n in range(10)])
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    received = []
    while len(received) < 200:
        received += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(message["Body"] for message in received) == sorted(f"m{n}" for n in range(200))
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []
    for message in received[:150]:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])  # twice is fine, as on AWS
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"],
            counts["ApproximateNumberOfMessagesDelayed"]) == ("0", "50", "1")
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=received[150]["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [message["Body"] for message in again] == [received[150]["Body"]]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])[
        "Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "49"


def test_a_queue_s_attributes_are_answered_as_moto_does_whichever_are_asked(aws: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="asked", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(5)])
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)

    def asked(*names: str) -> dict[str, str]:
        return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names)).get("Attributes", {})

    assert asked("ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessages",
                 "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessages") == {
        "ApproximateNumberOfMessagesDelayed": "1", "ApproximateNumberOfMessages": "3",
        "ApproximateNumberOfMessagesNotVisible": "2"}
    assert list(asked("VisibilityTimeout", "QueueArn")) == ["VisibilityTimeout", "QueueArn"]
    assert asked("VisibilityTimeout") == {"VisibilityTimeout": "30"}
    assert asked("RedrivePolicy") == {}  # a queue without one answers nothing for it
    everything = asked("All")
    assert everything["ApproximateNumberOfMessages"] == "3" and everything["QueueArn"].endswith(":asked")
    assert asked("QueueArn", "All") == everything
    with pytest.raises(sqs.exceptions.ClientError, match="Unknown Attribute NotAnAttribute"):
        asked("QueueArn", "NotAnAttribute")


WRITE = st.tuples(st.sampled_from(["put", "put_new", "update", "delete", "transact", "batch"]), SMALL, SMALL, SMALL)


@pytest.fixture()
def direct() -> Iterator[None]:
    moto_direct.install()
    with mock_aws():
        yield


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=st.lists(WRITE, max_size=25))
def test_item_calls_handed_to_moto_directly_answer_as_through_its_stubber(direct: None, writes: list[tuple]) -> None:
    _same_outcomes(writes)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=st.lists(WRITE, max_size=40))
def test_item_calls_handed_to_moto_directly_answer_as_through_its_stubber_over_many_histories(
        direct: None, writes: list[tuple]) -> None:
    _same_outcomes(writes)


def _same_outcomes(writes: list[tuple]) -> None:
    """Two copies of the tables, one written and read through moto_direct, the other through moto's
    stubber: every answer and every error the same (conditions failing, transactions cancelled,
    invalid requests)."""
    client = boto3.client("dynamodb", region_name=REGION)
    for table in client.list_tables()["TableNames"]:
        client.delete_table(TableName=table)
    for copy in ("d", "s"):
        client.create_table(
            TableName=f"{copy}-t", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}])

    def both(call: Callable[[str], Any]) -> None:
        direct_answer = _outcome(lambda: call("d-t"))
        with moto_direct.bypassed():
            stubber_answer = _outcome(lambda: call("s-t"))
        assert direct_answer == _renamed(stubber_answer)

    for kind, pk, sk, value in writes:
        both(partial(_write, client, kind, pk, sk, value))
        both(partial(_read, client, pk, sk))
    both(lambda table: client.scan(TableName=table))
    both(lambda table: client.batch_get_item(RequestItems={table: {"Keys": [
        {"pk": {"S": value}, "sk": {"S": value}} for value in ("a", "b", "c")]}}))
    both(lambda table: client.get_item(TableName=table, Key={"pk": {"S": ""}, "sk": {"S": "a"}}))
    both(lambda table: client.get_item(TableName=table + "-missing", Key={"pk": {"S": "a"}, "sk": {"S": "a"}}))
    both(lambda table: client.query(TableName=table, KeyConditionExpression="nope = :p",
                                    ExpressionAttributeValues={":p": {"S": "a"}}))


def _write(client: Any, kind: str, pk: str, sk: str, value: str, table: str) -> dict:
    key = {"pk": {"S": pk}, "sk": {"S": sk}}
    if kind == "put":
        return client.put_item(TableName=table, Item={**key, "v": {"S": value}, "n": {"N": "1"}},
                               ReturnValues="ALL_OLD")
    if kind == "put_new":
        return client.put_item(TableName=table, Item={**key, "v": {"S": value}},
                               ConditionExpression="attribute_not_exists(pk)")
    if kind == "update":
        return client.update_item(
            TableName=table, Key=key, UpdateExpression="SET v = :v ADD n :one",
            ConditionExpression="attribute_exists(pk) OR :v = :v",
            ExpressionAttributeValues={":v": {"S": value}, ":one": {"N": "1"}}, ReturnValues="ALL_NEW")
    if kind == "delete":
        return client.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD",
                                  ConditionExpression="attribute_exists(v)")
    if kind == "transact":
        return client.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {**key, "v": {"S": value}},
                     "ConditionExpression": "attribute_not_exists(v) OR v <> :v",
                     "ExpressionAttributeValues": {":v": {"S": value}}}},
            {"Update": {"TableName": table, "Key": {"pk": {"S": pk + "x"}, "sk": {"S": sk}},
                        "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}}])
    return client.batch_write_item(RequestItems={table: [
        {"PutRequest": {"Item": {**key, "v": {"S": value + "b"}}}},
        {"DeleteRequest": {"Key": {"pk": {"S": value}, "sk": {"S": pk}}}}]})


def _read(client: Any, pk: str, sk: str, table: str) -> dict:
    item = client.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)
    page = client.query(TableName=table, KeyConditionExpression="pk = :p",
                        ExpressionAttributeValues={":p": {"S": pk}}, Limit=2)
    return {"item": item.get("Item"), "page": {key: page.get(key) for key in ("Items", "Count", "LastEvaluatedKey")}}


def _outcome(call: Callable[[], dict]) -> Any:
    """An answer without its request id, or an error's code, message and modeled fields."""
    from botocore.exceptions import ClientError

    try:
        answer = dict(call())
    except ClientError as error:
        return {key: value for key, value in error.response.items() if key != "ResponseMetadata"} | {
            "status": error.response["ResponseMetadata"]["HTTPStatusCode"]}
    answer.pop("ResponseMetadata", None)
    return answer


def _renamed(value: Any) -> Any:
    if isinstance(value, dict):
        return {_renamed(key): _renamed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_renamed(item) for item in value]
    return value.replace("s-t", "d-t") if isinstance(value, str) else value


def test_queue_sends_and_deletes_handed_to_moto_directly_answer_as_through_its_stubber(direct: None) -> None:
    """SQS sends and deletes both ways, on two queues: the same answers (ids aside, which are
    random) and the same errors, and the caller's entries left as they were."""
    sqs = boto3.client("sqs", region_name=REGION)
    urls = {copy: sqs.create_queue(QueueName=f"{copy}-q")["QueueUrl"] for copy in ("d", "s")}

    def both(call: Callable[[str], Any]) -> Any:
        direct_answer = _outcome(lambda: call(urls["d"]))
        with moto_direct.bypassed():
            stubber_answer = _outcome(lambda: call(urls["s"]))
        assert _without_ids(direct_answer) == _without_ids(stubber_answer)
        return direct_answer

    entries = [{"Id": str(n), "MessageBody": f"m{n}"} for n in range(3)] + [
        {"Id": "a", "MessageBody": "with attributes", "DelaySeconds": 0,
         "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "x"}}}]
    kept = json.loads(json.dumps(entries))
    both(lambda url: sqs.send_message_batch(QueueUrl=url, Entries=entries))
    assert entries == kept
    both(lambda url: sqs.send_message(QueueUrl=url, MessageBody="one", DelaySeconds=0))
    both(lambda url: sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "x", "MessageBody": "a"},
                                                                   {"Id": "x", "MessageBody": "b"}]))
    both(lambda url: sqs.send_message_batch(QueueUrl=url, Entries=[]))
    both(lambda url: sqs.send_message(QueueUrl=url + "-missing", MessageBody="lost"))
    handles = {}
    for copy, url in urls.items():
        with moto_direct.bypassed():
            handles[copy] = [message["ReceiptHandle"] for message in
                             sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    answer = both(lambda url: sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": str(n), "ReceiptHandle": handle} for n, handle in enumerate(handles["d" if url == urls["d"] else "s"])]
        + [{"Id": "bad", "ReceiptHandle": "not-a-handle"}]))
    assert len(answer["Successful"]) == 5 and [item["Id"] for item in answer["Failed"]] == ["bad"]
    both(lambda url: sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle"))


def _without_ids(answer: Any) -> Any:
    if isinstance(answer, dict):
        return {key: _without_ids(value) for key, value in answer.items() if key not in ("MessageId", "QueueUrl")}
    if isinstance(answer, list):
        return [_without_ids(item) for item in answer]
    return answer.replace("s-q", "d-q") if isinstance(answer, str) else answer


def test_ids_are_random_version_4_uuids_read_from_the_system_a_buffer_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import threading
    import uuid

    from chalicelib.local import ids

    ids.install()
    reads = []
    system = os.urandom
    monkeypatch.setattr(os, "urandom", lambda size: reads.append(size) or system(size))
    drawn: list[uuid.UUID] = []

    def draw() -> None:
        drawn.extend(uuid.uuid4() for _ in range(1000))

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(drawn)) == 4000 and {each.version for each in drawn} == {4}
    assert sum(reads) >= 4000 * 16 and len(reads) <= 4 * (1000 * 16 // ids.BUFFER_BYTES + 1)
    uuid.uuid4()  # this thread's buffer holds the ids it will hand out next
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the child must not hand out the ids its parent will
        os.write(writer, uuid.uuid4().bytes)
        os._exit(0)
    os.waitpid(child, 0)
    parent_next = uuid.uuid4()
    assert os.read(reader, 16) != parent_next.bytes


def test_the_heap_keeper_freezes_what_survives_and_gives_it_back_when_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc
    import time

    from chalicelib.local.heap import HeapKeeper

    monkeypatch.setattr(HeapKeeper, "PERIOD_SECONDS", 0.05)
    kept = [{"item": number} for number in range(1000)]
    thresholds = gc.get_threshold()
    keeper = HeapKeeper()
    keeper.start()
    deadline = time.monotonic() + 5
    while gc.get_freeze_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gc.get_freeze_count() > len(kept)
    assert gc.get_threshold() == HeapKeeper.THRESHOLDS != thresholds  # short-lived garbage collected less often
    keeper.stop()
    assert gc.get_freeze_count() == 0 and not keeper.is_alive() and gc.get_threshold() == thresholds


@pytest.fixture()
def direct_services() -> Iterator[None]:
    moto_direct.install()
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


def test_a_journey_step_calls_handed_to_moto_directly_answer_as_through_its_stubber(direct_services: None) -> None:
    """SES v2 sends, Step Functions starts, Lambda invocations and SQS receives both ways: the same
    answers, as botocore parses them (dates as datetimes, a payload as a stream), and the same errors."""
    ses, sfn, aws_lambda, sqs = (boto3.client(name, region_name=REGION)
                                 for name in ("sesv2", "stepfunctions", "lambda", "sqs"))
    _on_the_wire(ses, sfn, aws_lambda, sqs)
    ses.create_email_identity(EmailIdentity="news@example.com")
    raw = b"From: news@example.com\r\nTo: ana@example.com\r\nSubject: Hi\r\n\r\nHello\r\n"

    def send(sender: str) -> Any:
        return ses.send_email(FromEmailAddress=sender, Destination={"ToAddresses": ["ana@example.com"]},
                              Content={"Raw": {"Data": raw}})

    for sender in ("news@example.com", "stranger@example.org"):
        _both(partial(send, sender), ignore=("MessageId",))

    machine = sfn.create_state_machine(
        name="m", roleArn="arn:aws:iam::123456789012:role/r",
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    names = iter(range(100))
    started = _both(lambda: sfn.start_execution(stateMachineArn=machine, name=f"e{next(names)}", input="{}"),
                    ignore=("executionArn", "startDate"))
    assert started["startDate"].tzinfo is not None
    _both(lambda: sfn.start_execution(stateMachineArn=machine + "-missing", input="{}"))

    role = boto3.client("iam", region_name=REGION).create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps({
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                       "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    aws_lambda.create_function(FunctionName="f", Runtime="python3.12", Role=role,
                               Handler="app.handler", Code={"ZipFile": b"zip"})
    invoked = _both(lambda: aws_lambda.invoke(FunctionName="f", Payload=b'{"a": 1}'), read=("Payload",))
    assert (invoked["StatusCode"], invoked["Payload"]) == (200, b'{"a": 1}')
    _both(lambda: aws_lambda.invoke(FunctionName="missing", Payload=b"{}"), read=("Payload",))

    urls = [sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("d-q", "s-q")]  # one each way
    for url in urls:
        for number in range(4):
            sqs.send_message(QueueUrl=url, MessageBody=f"m{number}",
                             MessageAttributes={"kind": {"DataType": "String", "StringValue": f"k{number}"}})
    queues = iter(urls)
    received = _both(lambda: sqs.receive_message(
        QueueUrl=next(queues), MaxNumberOfMessages=2, MessageAttributeNames=["All"],
        AttributeNames=["ApproximateReceiveCount"]), ignore=("MessageId", "ReceiptHandle"))
    assert [message["MessageAttributes"]["kind"]["StringValue"] for message in received["Messages"]] == ["k0", "k1"]
    _both(lambda: sqs.receive_message(QueueUrl=urls[0] + "-missing"))


_WIRE: list[str] = []  # the requests botocore was about to send over HTTP (to moto's stubber)


def _on_the_wire(*clients: Any) -> None:
    for client in clients:
        client.meta.events.register_first("before-send", lambda request, **_: _WIRE.append(request.url))


def _both(call: Callable[[], Any], *, ignore: tuple[str, ...] = (), read: tuple[str, ...] = ()) -> Any:
    """The direct answer (no HTTP request made), having checked it is the stubber's (but for
    `ignore`d fields, which are new each call, and for streams, compared by what they hold)."""
    def outcome() -> Any:
        answer = _outcome(call)
        for name in read:
            if name in answer:
                answer[name] = answer[name].read()
        return answer

    _WIRE.clear()
    direct_answer = outcome()
    assert _WIRE == []
    with moto_direct.bypassed():
        stubber_answer = outcome()
    assert len(_WIRE) == 1
    assert _without(direct_answer, ignore) == _without(stubber_answer, ignore)
    return direct_answer


def _without(answer: Any, names: tuple[str, ...]) -> Any:
    if isinstance(answer, dict):
        return {key: _without(value, names) for key, value in answer.items() if key not in names}
    if isinstance(answer, list):
        return [_without(item, names) for item in answer]
    return answer


_SCALARS = st.one_of(st.text(max_size=3), st.binary(max_size=3), st.booleans(), st.integers(), st.none())
_MEMBERS = st.sampled_from(["S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "L", "M", "X"])
_ATTRIBUTE_VALUES = st.recursive(
    st.one_of(_SCALARS,
              st.builds(lambda member, value: {member: value}, _MEMBERS,
                        st.one_of(_SCALARS, st.lists(_SCALARS, max_size=2))),
              st.dictionaries(_MEMBERS, _SCALARS, max_size=2)),
    lambda inner: st.one_of(st.builds(lambda items: {"L": items}, st.lists(inner, max_size=3)),
                            st.builds(lambda items: {"M": items},
                                      st.dictionaries(st.one_of(st.text(max_size=2), st.integers()), inner,
                                                      max_size=3)),
                            st.lists(inner, max_size=2)),
    max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(item=st.dictionaries(st.one_of(st.text(max_size=3), st.integers()), _ATTRIBUTE_VALUES, max_size=4),
       values=st.dictionaries(st.text(max_size=3), _ATTRIBUTE_VALUES, max_size=3))
def test_attribute_values_checked_at_once_are_refused_as_botocore_refuses_them(item: dict, values: dict) -> None:
    """Attribute values moto_direct lets through at once are values botocore takes, for any item
    and values, well-formed or not (wrong types, several members or none, unknown members, nested
    lists and maps)."""
    model = boto3.client("dynamodb", region_name=REGION).meta.service_model
    for operation, params in (
            ("PutItem", {"TableName": "t", "Item": item}),
            ("UpdateItem", {"TableName": "t", "Key": item, "UpdateExpression": "SET a = :a",
                            "ExpressionAttributeValues": values}),
            ("TransactWriteItems", {"TransactItems": [{"Put": {"TableName": "t", "Item": item}},
                                                      {"Update": {"TableName": "t", "Key": values,
                                                                  "UpdateExpression": "SET a = :a"}}]})):
        shape = model.operation_model(operation).input_shape
        if moto_direct.accepted(params, shape):
            assert not ParamValidator().validate(params, shape).has_errors(), params


_SAMPLE_VALUES = ["a", "", b"a", bytearray(b"a"), True, 1, 1.5, None, [], ["a"], [b"a"], [1], [True], ["a", 1],
                  {"x": {"S": "a"}}, {"x": 1}, {1: {"S": "a"}}, [{"S": "a"}], [{"S": 1}], [{"S": "a", "N": "1"}]]


def test_every_member_with_every_kind_of_value_is_let_through_only_where_botocore_takes_it() -> None:
    """Each AttributeValue member with each kind of value, alone, nested in a list and in a map:
    what is let through at once botocore takes, and each member's plain value is let through."""
    shape = boto3.client("dynamodb", region_name=REGION).meta.service_model.operation_model("PutItem").input_shape
    members = ("S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "L", "M", "X")
    taken = set()
    for member in members:
        for value in _SAMPLE_VALUES:
            for wrapped in ({member: value}, {"L": [{member: value}]}, {"M": {"k": {member: value}}}):
                params = {"TableName": "tab", "Item": {"a": wrapped}}
                if moto_direct.accepted(params, shape):
                    assert not ParamValidator().validate(params, shape).has_errors(), params
                    taken.add(member)
    assert taken == set(members) - {"X"}


_ANY_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.floats(-2, 2), st.text(max_size=2),
                      st.binary(max_size=2), st.lists(st.text(max_size=1), max_size=2), st.tuples(st.text(max_size=1)),
                      st.dictionaries(st.text(max_size=1), st.text(max_size=1), max_size=2))


def _params_of(shape: Any, depth: int = 0) -> Any:
    """Values for `shape`: mostly of its form, at times anything at one place or another (a
    wrong type, a missing or unknown member, a string or list shorter than its least length)."""
    least = int(shape.metadata.get("min", 0))
    kind = shape.type_name
    if shape.name == "AttributeValue":
        form = st.one_of(_WELL_FORMED_VALUES, _ATTRIBUTE_VALUES)
    elif depth > 4:
        form = _ANY_VALUE
    elif kind == "structure":
        members = {name: _params_of(member, depth + 1) for name, member in shape.members.items()}
        required = shape.metadata.get("required", [])
        optional = {name: member for name, member in members.items() if name not in required}
        well_formed = st.fixed_dictionaries({name: members[name] for name in required}, optional=optional)
        any_members = st.fixed_dictionaries({}, optional=members | {"Unknown": st.text(max_size=1)})
        form = st.integers(0, 4).flatmap(lambda pick: well_formed if pick else any_members)
    elif kind == "list":
        form = st.lists(_params_of(shape.member, depth + 1), min_size=min(least, 2), max_size=2)
    elif kind == "map":
        form = st.dictionaries(st.one_of(st.text(min_size=int(shape.key.metadata.get("min", 0)), max_size=3),
                                         st.integers(-1, 1)), _params_of(shape.value, depth + 1), max_size=2)
    elif kind == "string":
        form = st.one_of(st.text(min_size=least, max_size=least + 2), st.text(max_size=2))
    elif kind in ("integer", "long", "double", "float"):
        form = st.one_of(st.integers(least, least + 3), st.floats(least, least + 3), st.integers(-3, 3))
    elif kind == "boolean":
        form = st.booleans()
    elif kind == "blob":
        form = st.one_of(st.binary(max_size=2), st.text(max_size=2))
    else:
        form = _ANY_VALUE
    return st.integers(0, 12).flatmap(lambda pick: form if pick else _ANY_VALUE)  # one_of would flatten


def _direct_shapes() -> list[tuple[str, str, Any]]:
    shapes = []
    for service, operations in sorted(moto_direct.DIRECT.items()):
        model = boto3.client(service, region_name=REGION).meta.service_model
        shapes += [(service, name, model.operation_model(name).input_shape) for name in sorted(operations)]
    return shapes


@pytest.mark.parametrize(("service", "operation", "shape"), _direct_shapes(),
                         ids=lambda value: value if isinstance(value, str) else "")
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_parameters_taken_at_once_are_parameters_botocore_takes(service: str, operation: str, shape: Any,
                                                                 data: Any) -> None:
    """moto_direct lets a call's parameters through without botocore's walk only where botocore
    finds nothing wrong with them; anything else botocore checks and reports itself."""
    from botocore.validate import ParamValidator

    params = data.draw(_params_of(shape))
    if moto_direct.accepted(params, shape):
        assert not ParamValidator().validate(params, shape).has_errors(), params


def test_the_app_s_usual_calls_are_taken_at_once() -> None:
    """The calls the app makes most are checked at once, not by botocore's walk (a check that
    refused them all would cost a second walk, silently)."""
    model = boto3.client("dynamodb", region_name=REGION).meta.service_model
    item = {"id": {"S": "c-1"}, "traits": {"M": {"first_name": {"S": "Ana"}}}, "score": {"N": "3"},
            "tags": {"SS": ["a"]}, "consent": {"M": {"email": {"BOOL": True}}}, "gone": {"NULL": True}}
    calls = {
        "PutItem": {"TableName": "contacts", "Item": item, "ConditionExpression": "attribute_not_exists (#0)",
                    "ExpressionAttributeNames": {"#0": "id"}, "ReturnValues": "NONE"},
        "UpdateItem": {"TableName": "contacts", "Key": {"id": {"S": "c-1"}}, "UpdateExpression": "SET #0 = :0",
                       "ExpressionAttributeNames": {"#0": "score"}, "ExpressionAttributeValues": {":0": {"N": "4"}},
                       "ReturnValues": "ALL_NEW"},
        "TransactWriteItems": {"TransactItems": [{"Put": {"TableName": "contacts", "Item": item}},
                                                 {"Update": {"TableName": "tallies", "Key": {"id": {"S": "t"}},
                                                             "UpdateExpression": "ADD #0 :0",
                                                             "ExpressionAttributeNames": {"#0": "n"},
                                                             "ExpressionAttributeValues": {":0": {"N": "1"}}}}],
                               "ClientRequestToken": "token"},
        "Query": {"TableName": "events", "KeyConditionExpression": "#0 = :0", "ExpressionAttributeNames": {"#0": "id"},
                  "ExpressionAttributeValues": {":0": {"S": "c-1"}}, "Limit": 10, "ScanIndexForward": False,
                  "ConsistentRead": True},
        "BatchGetItem": {"RequestItems": {"contacts": {"Keys": [{"id": {"S": "c-1"}}], "ConsistentRead": True}}},
    }
    for operation, params in calls.items():
        shape = model.operation_model(operation).input_shape
        assert not ParamValidator().validate(params, shape).has_errors()
        assert moto_direct.accepted(params, shape), operation
    sqs = boto3.client("sqs", region_name=REGION).meta.service_model
    entries = {"QueueUrl": "https://sqs/q", "Entries": [{"Id": "0", "MessageBody": "{}", "MessageAttributes": {
        "type": {"DataType": "String", "StringValue": "signup"}}}]}
    assert moto_direct.accepted(entries, sqs.operation_model("SendMessageBatch").input_shape)
    ses = boto3.client("sesv2", region_name=REGION).meta.service_model
    email = {"FromEmailAddress": "a@example.com", "Destination": {"ToAddresses": ["b@example.com"]},
             "Content": {"Raw": {"Data": b"Subject: hi\r\n\r\nhello"}}}
    assert moto_direct.accepted(email, ses.operation_model("SendEmail").input_shape)


_NUMBERS = st.one_of(st.integers(), st.decimals(allow_nan=False, allow_infinity=False)).map(str)
_WELL_FORMED_VALUES = st.recursive(
    st.one_of(st.builds(lambda text: {"S": text}, st.text()), st.builds(lambda number: {"N": number}, _NUMBERS),
              st.builds(lambda data: {"B": data}, st.binary()),
              st.builds(lambda data: {"B": base64.b64encode(data).decode()}, st.binary()),  # as moto stores it
              st.builds(lambda flag: {"BOOL": flag}, st.booleans()),
              st.just({"NULL": True}), st.builds(lambda texts: {"SS": texts}, st.lists(st.text(), min_size=1)),
              st.builds(lambda numbers: {"NS": numbers}, st.lists(_NUMBERS, min_size=1)),
              st.builds(lambda blobs: {"BS": blobs}, st.lists(st.binary(), min_size=1))),
    lambda inner: st.one_of(st.builds(lambda items: {"L": items}, st.lists(inner, max_size=3)),
                            st.builds(lambda members: {"M": members}, st.dictionaries(st.text(), inner, max_size=3))),
    max_leaves=8)


@contextmanager
def _moto_s_own(cls: Any, **methods: str) -> Iterator[None]:
    """moto's own methods on `cls` for a while (the oracle: nested values dispatch to them too)."""
    ours = {name: cls.__dict__[name] for name in methods}
    for name, original in methods.items():
        setattr(cls, name, dynamodb_speed.MOTO[original])
    try:
        yield
    finally:
        for name, method in ours.items():
            setattr(cls, name, method)


def _moto_value(value: Any) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return DynamoType(value)


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(_WELL_FORMED_VALUES, _ATTRIBUTE_VALUES, _ANY_VALUE, st.builds(_moto_value, _WELL_FORMED_VALUES)))
def test_an_attribute_is_built_as_moto_builds_it(value: Any) -> None:
    """moto's values are built by shorter steps: the same tree as moto's own steps give, from any
    value (well-formed, malformed, not a dict at all, a value moto built already), or the same
    failure."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    dynamodb_speed.install()

    def built() -> Any:
        try:
            return _tree(DynamoType(value))
        except Exception as error:  # whatever moto raises, ours must too
            return type(error)

    with _moto_s_own(DynamoType, __init__="init"):
        expected = built()
    assert built() == expected


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(_WELL_FORMED_VALUES, _ATTRIBUTE_VALUES))
def test_an_attribute_is_sized_and_copied_as_moto_sizes_and_copies_it(value: Any) -> None:
    """Items are sized off the request's values, and moto's values sized and deep-copied by
    shorter steps: the same size as moto's own steps give, for any value moto can build (it
    builds an item's values before sizing them), the same failure for one it cannot size, and
    a copy equal to the value that shares nothing with it."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    dynamodb_speed.install()
    try:
        built = DynamoType(value)
    except Exception:  # refused before any size is asked
        return
    with _moto_s_own(DynamoType, size="size"):
        try:
            expected: Any = built.size()
        except Exception as error:  # whatever moto raises, ours must too
            expected = type(error)
    if isinstance(expected, type):
        for sized in (lambda: dynamodb_speed.attribute_size(value), built.size):
            with pytest.raises(expected):
                sized()
        return
    assert (dynamodb_speed.attribute_size(value), dynamodb_speed.attribute_size(built), built.size()) == (
        expected, expected, expected)
    copied = deepcopy(built)
    with _moto_s_own(DynamoType, __deepcopy__="deepcopy"):
        assert _tree(copied) == _tree(deepcopy(built))
    _hollow(copied)
    assert built.size() == expected


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(_WELL_FORMED_VALUES, _ATTRIBUTE_VALUES), when=st.datetimes())
def test_an_answer_s_items_are_written_out_as_moto_writes_them(value: Any, when: Any) -> None:
    """An answer's values are written out as plain JSON as moto writes them (a stored binary
    decoded, a date left for the serializer), or fail as moto fails."""
    from moto.dynamodb.models import utilities
    from moto.dynamodb.models.dynamo_type import DynamoType

    dynamodb_speed.install()
    try:
        built = DynamoType(value)
    except Exception:  # refused before any answer is written
        return
    answer = {"Items": [built, {"at": when, "plain": [value, "text", 1, None]}], "Count": 1}

    def written() -> Any:
        try:
            return built.to_regular_json(), utilities.dynamo_to_dict(answer)
        except Exception as error:  # whatever moto raises, ours must too
            return type(error)

    with _moto_s_own(DynamoType, to_regular_json="regular_json"):
        utilities.dynamo_to_dict = dynamodb_speed.MOTO["to_dict"]
        try:
            expected = written()
        finally:
            utilities.dynamo_to_dict = dynamodb_speed.plain_answer
    assert written() == expected


def _hollow(value: Any) -> None:
    """Empties every list and map inside a value, deepest first."""
    inner = getattr(value, "value", value)
    if isinstance(inner, (list, dict)):
        for member in list(inner.values() if isinstance(inner, dict) else inner):
            _hollow(member)
        inner.clear()


def _tree(value: Any) -> Any:
    """A value's content, moto's objects spelled out (their == reads numbers, malformed or not)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if isinstance(value, DynamoType):
        return ("DynamoType", value.type, _tree(value.value))
    if isinstance(value, list):
        return [_tree(member) for member in value]
    if isinstance(value, dict):
        return {name: _tree(member) for name, member in value.items()}
    return value


def test_an_item_grown_past_its_limit_by_an_update_is_refused_as_moto_refuses_it(aws: None) -> None:
    """An update sizes the whole item at each attribute it sets: past 400 KB it is refused, below
    it is applied, whichever attribute grows it."""
    client = boto3.client("dynamodb", region_name=REGION)
    _tables(client)
    key = {"pk": {"S": "big"}}
    client.put_item(TableName="flat", Item={**key, "a": {"L": [{"S": "x" * 100_000}] * 3}, "n": {"N": "1"}})
    grow = {"TableName": "flat", "Key": key, "UpdateExpression": "SET #b = :b",
            "ExpressionAttributeNames": {"#b": "b"}}
    with pytest.raises(client.exceptions.ClientError, match="Item size to update has exceeded the maximum"):
        client.update_item(**grow, ExpressionAttributeValues={":b": {"M": {"m": {"SS": ["y" * 60_000, "z" * 60_000]}}}})
    client.update_item(**grow, ExpressionAttributeValues={":b": {"M": {"m": {"SS": ["y" * 50_000, "z" * 50_000]}}}})
    item = client.get_item(TableName="flat", Key=key)["Item"]
    assert (len(item["a"]["L"]), sorted(len(text) for text in item["b"]["M"]["m"]["SS"])) == (3, [50_000, 50_000])
