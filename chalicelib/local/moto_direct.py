"""The app's DynamoDB item calls and SQS sends and deletes handed to moto's handlers directly,
on the local stack.

Through moto's botocore stubber a call is serialized to JSON, given a user agent, signed,
wrapped as an HTTP request, parsed back by moto, answered, serialized again and parsed by
botocore: about a millisecond of CPU, several times what moto's backend does for a GetItem,
and the local stack makes thousands of such calls a second at volume.

Here botocore still builds and validates the parameters against the service model (what AWS
would refuse, the local stack refuses) and emits `before-call` and `after-call`, so hooks
(a meter, an injected fault) see the call; then moto's own response class (DynamoHandler,
SQSResponse) runs the same action on the same backend, with the same checks. A success is
returned as botocore would have parsed it; an error goes through moto's serializer and
botocore's parser, as before. Other services and operations take moto's usual path, and so
does everything once moto is stopped.
"""
from __future__ import annotations

import functools
import json
import random
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.client import BaseClient
from botocore.parsers import create_parser
from botocore.validate import validate_parameters
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import ServiceException
from moto.core.models import botocore_stubber
from moto.core.responses import ActionResult
from moto.core.utils import camelcase_to_underscores
from moto.dynamodb.responses import DynamoHandler
from moto.sqs.responses import SQSResponse
from werkzeug.exceptions import HTTPException

# Calls of the JSON protocol whose answers are plain data (AttributeValue maps, ids, numbers and
# strings: the same before and after a JSON round trip). SQS's ReceiveMessage is not among them:
# moto answers it with message objects its serializer picks fields from.
DIRECT = {
    "dynamodb": frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                           "BatchWriteItem", "TransactWriteItems", "TransactGetItems"}),
    "sqs": frozenset({"SendMessage", "SendMessageBatch", "DeleteMessage", "DeleteMessageBatch"}),
}


def install() -> None:
    """Patch botocore's client once per process (moto's answers unchanged). A wrapper of
    `_make_api_call` installed afterwards (a meter, injected faults) sees every call; one
    installed before is skipped by the direct calls, so install this first."""
    global _installed
    if _installed:
        return
    _installed = True
    original = BaseClient._make_api_call

    def _make_api_call(client: Any, operation_name: str, api_params: dict) -> Any:
        if operation_name not in DIRECT.get(client.meta.service_model.service_name, ()) or not _moto_running():
            return original(client, operation_name, api_params)
        return _call(client, operation_name, api_params)

    BaseClient._make_api_call = _make_api_call


_installed = False


def _moto_running() -> bool:
    return bool(botocore_stubber.enabled) and not getattr(_bypass, "on", False)


_bypass = threading.local()


@contextmanager
def bypassed() -> Iterator[None]:
    """Calls on this thread take moto's usual path (a test compares the two)."""
    _bypass.on = True
    try:
        yield
    finally:
        _bypass.on = False


def _call(client: Any, operation_name: str, api_params: dict) -> Any:
    operation = client.meta.service_model.operation_model(operation_name)
    context = {"client_region": client.meta.region_name, "client_config": client.meta.config}
    api_params = client._emit_api_params(api_params=api_params, operation_model=operation, context=context)
    if client.meta.config.parameter_validation:
        validate_parameters(api_params, operation.input_shape)
    request = {"url_path": "/", "query_string": "", "method": "POST", "headers": {}, "body": b"",
               "url": client.meta.endpoint_url, "context": context}
    service = client.meta.service_model.service_name
    _, answer = client.meta.events.emit_until_response(
        f"before-call.{service}.{operation_name}", model=operation, params=request,
        request_signer=None, context=context)
    if answer is None:
        status, headers, body = _answer(operation, client.meta.region_name, api_params)
        http = AWSResponse(client.meta.endpoint_url, status, headers, None)
        if isinstance(body, dict):  # what the answer's shape has (moto adds a field or two botocore drops)
            parsed = {name: value for name, value in body.items() if name in operation.output_shape.members}
        else:
            parsed = _parse_error(operation, status, http.headers, body)
        parsed.setdefault("ResponseMetadata", {}).update(
            {"RequestId": headers.get("x-amzn-RequestId", ""), "HTTPStatusCode": status, "HTTPHeaders": headers,
             "RetryAttempts": 0})
        answer = (http, parsed)
    http, parsed = answer
    client.meta.events.emit(f"after-call.{service}.{operation_name}", http_response=http, parsed=parsed,
                            model=operation, context=context)
    if http.status_code >= 300:
        error_class = client.exceptions.from_code(parsed.get("Error", {}).get("Code"))
        raise error_class(parsed, operation_name)
    return parsed


def _parse_error(operation: Any, status: int, headers: Any, body: str | bytes) -> dict:
    """The error as botocore parses it off the wire, its modeled fields (CancellationReasons...) too."""
    parser = create_parser("json")
    response = {"status_code": status, "headers": headers, "body": body.encode() if isinstance(body, str) else body}
    parsed = parser.parse(response, operation.output_shape)
    shape = operation.service_model.shape_for_error_code(parsed.get("Error", {}).get("Code"))
    if shape is not None:
        parsed.update(parser.parse(response, shape))
    return parsed


def _answer(operation: Any, region: str, params: dict) -> tuple[int, dict[str, str], Any]:
    """(status, headers, body): body the answer itself on success, else moto's serialized error."""
    service = operation.service_model.service_name
    handler = _handler_class(service)()
    handler.current_account, handler.region = DEFAULT_ACCOUNT_ID, region
    handler.headers = {"X-Amz-Target": f"{operation.service_model.metadata['targetPrefix']}.{operation.name}"}
    if service == "sqs":  # moto's SQS fills in the caller's batch entries: it gets a copy, as from the wire
        params = json.loads(json.dumps(params))
    handler.params = handler.body = params
    handler.querystring, handler.response_headers, handler.uri_match = {}, {}, {}
    # not uuid4: os.urandom lets go of the GIL, and a busy thread then keeps it for up to 5 ms
    request_id = str(uuid.UUID(int=random.getrandbits(128), version=4))
    headers = {"x-amzn-RequestId": request_id, "content-type": "application/x-amz-json-1.0"}
    try:
        with _serialized(service):
            result = getattr(handler, python_name(operation.name))()
    except ServiceException as error:
        status, more, body = handler.serialized(ActionResult(error))
        return status, {**headers, **{k: str(v) for k, v in more.items()}}, body
    except HTTPException as error:
        more = {k: v for k, v in (error.get_headers() or [])}
        return int(error.code or 400), {**headers, **more}, error.description or ""
    # a JSON round trip, as the wire makes: the caller gets its own copy of moto's items
    if isinstance(result, ActionResult):
        return 200, headers, json.loads(json.dumps(result.result))
    body = result if isinstance(result, str) else result[-1]  # an older action's JSON text
    return 200, headers, json.loads(body) if body else {}


@functools.cache
def python_name(name: str) -> str:
    """moto's camelcase_to_underscores (a regular-expression walk), once per name: an operation's
    method name, a queue attribute's."""
    return camelcase_to_underscores(name)


def _handler_class(service: str) -> Any:
    return SQSResponse if service == "sqs" else DynamoHandler


def _serialized(service: str) -> Any:
    """The lock the local stack puts around moto's DynamoDB handler (stack._serialize_dynamodb)."""
    lock = getattr(DynamoHandler.call_action, "lock", None) if service == "dynamodb" else None
    return nullcontext() if lock is None else lock
