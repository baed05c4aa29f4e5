"""The double opt-in link: GET /c/{token} shows what is confirmed, the form POSTs the confirmation.

No API key: the signed token is the authority. A token that does not verify is 404. A
mailbox that fetches links to scan them only GETs, so the GET confirms nothing.
"""
from __future__ import annotations

from chalice import Response

from chalicelib.api.http import not_found
from chalicelib.api.routing import PUBLIC, ApiBlueprint
from chalicelib.api.tracking import FORM_TYPES, messages_of, page
from chalicelib.channels import optin

bp = ApiBlueprint(__name__)


@bp.route("/c/{token}", methods=["GET"], roles=PUBLIC)
def confirm_page(token: str) -> Response:
    target = optin.target(token)
    if target is None:
        raise not_found("This link")
    body = (f"<p>Recevoir {messages_of(target['channel'])} ?<br>Receive these messages?</p>"
            '<form method="post"><button type="submit">Je confirme / I confirm</button></form>')
    return page("Confirmation", body)


@bp.route("/c/{token}", methods=["POST"], roles=PUBLIC, content_types=FORM_TYPES)
def confirm(token: str) -> Response:
    request = bp.current_request
    user_agent = request.headers.get("user-agent") if request.headers else None
    source_ip = ((request.context or {}).get("identity") or {}).get("sourceIp")
    confirmed = optin.confirm(token, ip=source_ip, user_agent=user_agent)
    if confirmed is None:
        raise not_found("This link")
    if not confirmed:
        return page("Lien expiré / Link expired",
                    "<p>Ce lien ne confirme plus rien : une demande plus récente ou une désinscription l'a remplacé."
                    "<br>This link no longer confirms anything: a newer request or an unsubscription replaced it.</p>",
                    status=410)
    return page("Inscription confirmée / Subscription confirmed",
                "<p>Merci, votre inscription est confirmée.<br>Thank you, your subscription is confirmed.</p>")
