"""Local stack only (admin, 404 elsewhere): play SES feedback on a sent email and an SMS reply.

POST /local/ses-events  {"message_id": ID from GET /local/outbox, "event": "bounce" | "soft_bounce" |
                         "complaint" | "delivery" | "open" | "click", "url": for a click}
POST /local/sms-inbound {"from": "+33612345678", "text": "STOP"}
Both go through SNS to the app's own handlers, as on AWS.
"""
from __future__ import annotations

from chalice import Response

from chalicelib.api.auth import ADMIN
from chalicelib.api.http import not_found, read_object
from chalicelib.api.routing import ApiBlueprint
from chalicelib.config import settings
from chalicelib.problems import Invalid, Problem

bp = ApiBlueprint(__name__)


def _body() -> dict:
    if not settings().local:
        raise not_found("This resource")
    return read_object(bp.current_request)


@bp.route("/local/ses-events", methods=["POST"], roles=ADMIN)
def play_ses_event() -> Response:
    body = _body()
    from chalicelib.local import feedback  # imports moto: only ever on the local stack

    if not isinstance(body.get("message_id"), str):
        raise Invalid([Problem("message_id", "message_id is the id of an email in GET /local/outbox")])
    played = feedback.play_ses(body["message_id"], body.get("event"), body.get("url"))
    if played is None:
        raise not_found("This email")
    return Response(played, status_code=202)


@bp.route("/local/sms-inbound", methods=["POST"], roles=ADMIN)
def play_sms_reply() -> Response:
    body = _body()
    from chalicelib.local import feedback  # imports moto: only ever on the local stack

    played = feedback.play_sms_reply(body.get("from"), body.get("text"))
    return Response(played, status_code=202)
