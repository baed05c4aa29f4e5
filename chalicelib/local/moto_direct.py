"""The app's most frequent AWS calls handed to moto's handlers directly, on the local stack.

Through moto's botocore stubber a call is serialized, given a user agent, signed, wrapped as an
HTTP request, parsed back by moto, answered, serialized again and parsed by botocore: a
millisecond or two of CPU, several times what moto's backend does for a GetItem, and the local
stack makes thousands of such calls a second at volume.

Here botocore still builds and validates the parameters against the service model (what AWS
would refuse, the local stack refuses) and emits `before-call` and `after-call`, so hooks
(a meter, an injected fault) see the call; then moto's own response class (DynamoHandler,
SQSResponse, StepFunctionResponse, SESV2Response, LambdaResponse) runs the same action on the
same backend, with the same checks, given the request as moto reads it off the wire: the
parameters for JSON-protocol services, botocore's serialized path, query, headers and body for
REST ones. An answer that is plain data (DynamoDB's items, SQS's ids) is returned as botocore
would have parsed it; any other answer, and every error, goes through moto's serializer and
botocore's parser, as before. Other services and operations take moto's usual path, and so
does everything once moto is stopped.
"""
from __future__ import annotations

import functools
import io
import json
import random
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.client import BaseClient
from botocore.exceptions import ParamValidationError
from botocore.parsers import create_parser
from botocore.response import StreamingBody
from botocore.utils import is_json_value_header
from botocore.validate import ParamValidator
from moto.awslambda.responses import LambdaResponse
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import ServiceException
from moto.core.models import botocore_stubber
from moto.core.responses import ActionResult
from moto.core.utils import camelcase_to_underscores
from moto.dynamodb.responses import DynamoHandler
from moto.sesv2.responses import SESV2Response
from moto.sqs.responses import SQSResponse
from moto.stepfunctions.responses import StepFunctionResponse
from werkzeug.exceptions import HTTPException

# Calls whose answers are plain data (AttributeValue maps, ids, numbers and strings: the same
# before and after a JSON round trip), handed back without serializing and parsing them.
PLAIN = {
    "dynamodb": frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                           "BatchWriteItem", "TransactWriteItems", "TransactGetItems"}),
    "sqs": frozenset({"SendMessage", "SendMessageBatch", "DeleteMessage", "DeleteMessageBatch"}),
}
# Calls whose answers moto's serializer writes and botocore's parser reads (message objects, dates,
# a Lambda function's payload): each journey's steps make them.
SERIALIZED = {
    "sqs": frozenset({"ReceiveMessage"}),
    "stepfunctions": frozenset({"StartExecution"}),
    "sesv2": frozenset({"SendEmail"}),
    "lambda": frozenset({"Invoke"}),
}
DIRECT = {service: PLAIN.get(service, frozenset()) | SERIALIZED.get(service, frozenset())
          for service in {*PLAIN, *SERIALIZED}}
HANDLERS: dict[str, Any] = {"dynamodb": DynamoHandler, "sqs": SQSResponse, "stepfunctions": StepFunctionResponse,
                            "sesv2": SESV2Response, "lambda": LambdaResponse}


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
    if client.meta.config.parameter_validation and not accepted(api_params, operation.input_shape):
        report = _VALIDATOR.validate(api_params, operation.input_shape)
        if report.has_errors():
            raise ParamValidationError(report=report.generate_report())
    request = {"url_path": "/", "query_string": "", "method": "POST", "headers": {}, "body": b"",
               "url": client.meta.endpoint_url, "context": context}
    service = client.meta.service_model.service_name
    _, answer = client.meta.events.emit_until_response(
        f"before-call.{service}.{operation_name}", model=operation, params=request,
        request_signer=None, context=context)
    if answer is None:
        status, headers, body = _answer(client, operation, api_params)
        http = AWSResponse(client.meta.endpoint_url, status, headers, None)
        if isinstance(body, dict):  # what the answer's shape has (moto adds a field or two botocore drops)
            parsed = {name: value for name, value in body.items() if name in operation.output_shape.members}
        else:
            parsed = _parse(operation, status, http.headers, body)
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


def _plain_value(value: Any) -> bool:
    """An AttributeValue botocore's validator finds nothing wrong with (False: it may, it looks
    itself): one member of its type, plain type checks rather than a walk of the shape at each level."""
    if type(value) is not dict or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    if kind in ("S", "N"):
        return type(inner) is str
    if kind == "M":
        return type(inner) is dict and all(type(key) is str and _plain_value(item) for key, item in inner.items())
    if kind == "L":
        return type(inner) is list and all(_plain_value(item) for item in inner)
    if kind in ("BOOL", "NULL"):
        return type(inner) is bool
    if kind in ("SS", "NS"):
        return type(inner) is list and all(type(item) is str for item in inner)
    if kind == "B":
        return type(inner) is bytes
    if kind == "BS":
        return type(inner) is list and all(type(item) is bytes for item in inner)
    return False


_VALIDATOR = ParamValidator()


def accepted(params: Any, shape: Any) -> bool:
    """True when botocore's validator would find nothing wrong with `params`: each check below is
    one of botocore's, or stricter (a tuple for a list, a bool for an integer, a Decimal, a date
    are left to botocore). False means botocore looks, and reports what it finds. botocore walks
    the shape at each call, a method or two per value; this checks each shape with a function
    built once per shape, about three times faster for a transaction of a CSV import's 88 items."""
    return shape is not None and _check(shape)(params)


def _check(shape: Any) -> Any:
    """The function checking values of `shape`, built once and kept on the shape (botocore's
    shapes are built once per client, a structure's members and a list's member with it)."""
    check = shape.__dict__.get("_parcours_check")
    if check is None:
        check = shape.__dict__["_parcours_check"] = _build(shape)
    return check


def _least(shape: Any) -> float:
    """botocore's `range_check` minimum: `min`, else 1 for a member bound to the host."""
    if "min" in shape.metadata:
        return shape.metadata["min"]
    return 1 if shape.serialization.get("hostLabel") else float("-inf")


def _never(_: Any) -> bool:
    return False


def _build(shape: Any) -> Any:
    kind, least = shape.type_name, _least(shape)
    if is_json_value_header(shape):
        return _never
    if kind == "structure":
        if shape.is_document_type:
            return _never
        if shape.name == "AttributeValue":
            return _plain_value
        return _structure(shape)
    if kind == "list":
        def check_list(value: Any) -> bool:
            if type(value) is not list or len(value) < least:
                return False
            check_item = _check(shape.member)  # here, not above: a shape may hold itself
            for item in value:
                if not check_item(item):
                    return False
            return True
        return check_list
    if kind == "map":
        def check_map(value: Any) -> bool:
            if type(value) is not dict:
                return False
            check_key, check_item = _check(shape.key), _check(shape.value)
            for name, item in value.items():
                if not (check_key(name) and check_item(item)):
                    return False
            return True
        return check_map
    if kind == "string":
        return lambda value: type(value) is str and len(value) >= least
    if kind in ("integer", "long"):
        return lambda value: type(value) is int and value >= least
    if kind in ("double", "float"):
        return lambda value: type(value) in (float, int) and value >= least
    if kind == "boolean":
        return lambda value: type(value) is bool
    if kind == "blob":
        return lambda value: type(value) in (bytes, bytearray, str)
    return _never  # a timestamp, or a type botocore may add


def _structure(shape: Any) -> Any:
    required = tuple(shape.metadata.get("required", ()))
    union = shape.is_tagged_union
    checks: dict[str, Any] = {}  # a member's check, found at its first use

    def check_structure(value: Any) -> bool:
        if type(value) is not dict or (union and len(value) != 1):
            return False
        for name in required:
            if name not in value:
                return False
        for name, item in value.items():
            check_member = checks.get(name)
            if check_member is None:
                member = shape.members.get(name) if type(name) is str else None
                if member is None:
                    return False
                check_member = checks[name] = _check(member)
            if not check_member(item):
                return False
        return True

    return check_structure


def _parse(operation: Any, status: int, headers: Any, body: str | bytes) -> dict:
    """The answer as botocore parses it off the wire; an error's modeled fields (CancellationReasons...) too."""
    raw = body.encode() if isinstance(body, str) else body
    response: dict[str, Any] = {"status_code": status, "headers": headers, "body": raw}
    if status < 300 and operation.has_streaming_output:  # as botocore's endpoint hands it over
        response["body"] = StreamingBody(io.BytesIO(raw), len(raw))
    parser = create_parser(operation.service_model.protocol)
    parsed = parser.parse(response, operation.output_shape)
    if status >= 300:
        shape = operation.service_model.shape_for_error_code(parsed.get("Error", {}).get("Code"))
        if shape is not None:
            parsed.update(parser.parse(response, shape))
    return parsed


def _answer(client: Any, operation: Any, params: dict) -> tuple[int, dict[str, str], Any]:
    """(status, headers, body): body the answer itself for a plain call's success, else the text
    moto's serializer wrote."""
    service = operation.service_model.service_name
    handler = _handler(client, operation, params)
    # not uuid4: os.urandom lets go of the GIL, and a busy thread then keeps it for up to 5 ms
    request_id = str(uuid.UUID(int=random.getrandbits(128), version=4))
    headers = {"x-amzn-RequestId": request_id, "content-type": "application/x-amz-json-1.0"}
    try:
        with _serialized(service):
            result = getattr(handler, python_name(operation.name))()
    except ServiceException as error:
        result = ActionResult(error)
    except HTTPException as error:
        more = {k: v for k, v in (error.get_headers() or [])}
        return int(error.code or 400), {**headers, **more}, error.description or ""
    plain = operation.name in PLAIN.get(service, ())
    if isinstance(result, ActionResult) and (isinstance(result.result, Exception) or not plain):
        status, more, body = handler.serialized(result)
    elif not plain:
        status, more, body = _response(result)
    elif isinstance(result, ActionResult):  # a JSON round trip, as the wire makes: the caller gets its own copy
        return 200, headers, json.loads(json.dumps(result.result))
    else:
        body = result if isinstance(result, str) else result[-1]  # an older action's JSON text
        return 200, headers, json.loads(body) if body else {}
    return int(status), {**headers, **{k: str(v) for k, v in more.items()}}, body


def _handler(client: Any, operation: Any, params: dict) -> Any:
    """moto's response object for the call, holding the request as moto reads it off the wire."""
    service = operation.service_model.service_name
    handler = HANDLERS[service]()
    handler.current_account, handler.region = DEFAULT_ACCOUNT_ID, client.meta.region_name
    handler.querystring, handler.response_headers, handler.uri_match = {}, {}, {}
    handler._get_action = lambda: operation.name  # the action moto's serializer answers for
    if operation.service_model.protocol == "json":
        handler.headers = {"X-Amz-Target": f"{operation.service_model.metadata['targetPrefix']}.{operation.name}",
                           "Content-Type": "application/x-amz-json-1.0"}
        if service == "sqs":  # moto's SQS fills in the caller's batch entries: it gets a copy, as from the wire
            params = json.loads(json.dumps(params))
        handler.params = handler.body = params
        if service != "dynamodb":  # moto's DynamoDB reads its body; the others their parsed parameters
            handler.automated_parameter_parsing = True
        return handler
    wire = client._serializer.serialize_to_request(params, operation)  # a REST call's path, query and body
    handler.method, handler.path = wire["method"], wire["url_path"]
    handler.querystring = {name: [value] for name, value in wire["query_string"].items()}
    handler.headers = HeadersDict(wire["headers"])
    handler.raw_body = body = wire["body"]
    handler.body = body.decode() if isinstance(body, bytes) and not handler.use_raw_body else body
    return handler


def _response(result: Any) -> tuple[int, dict[str, Any], Any]:
    """(status, headers, body) from the forms an older moto action answers in."""
    if isinstance(result, str):
        return 200, {}, result
    if len(result) == 2:
        body, headers = result
        return int(headers.get("status", 200)), headers, body
    return result


@functools.cache
def python_name(name: str) -> str:
    """moto's camelcase_to_underscores (a regular-expression walk), once per name: an operation's
    method name, a queue attribute's."""
    return camelcase_to_underscores(name)


def _serialized(service: str) -> Any:
    """The lock the local stack puts around moto's DynamoDB handler (stack._serialize_dynamodb)."""
    lock = getattr(DynamoHandler.call_action, "lock", None) if service == "dynamodb" else None
    return nullcontext() if lock is None else lock
