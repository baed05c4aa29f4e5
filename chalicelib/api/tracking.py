"""The public links in sent emails: open pixel, click redirect, unsubscribe page and one-click POST.

No API key: the signed token is the authority. A token that does not verify is 404.
"""
from __future__ import annotations

import base64
import html

from chalice import Response

from chalicelib.api.http import not_found
from chalicelib.api.routing import PUBLIC, ApiBlueprint
from chalicelib.channels import engagement

bp = ApiBlueprint(__name__)

# A transparent 1x1 GIF (42 bytes).
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
Headers = dict[str, str | list[str]]  # what chalice.Response takes
NO_STORE: Headers = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0", "Pragma": "no-cache",
                     "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
PAGE_HEADERS: Headers = {**NO_STORE, "Content-Type": "text/html; charset=utf-8", "X-Frame-Options": "DENY",
                         "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                                    "form-action 'self'; frame-ancestors 'none'"}
# Mailbox providers post RFC 8058's `List-Unsubscribe=One-Click` form-encoded; browsers post the form.
FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain", "application/json"]

_PAGE = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:32rem;margin:4rem auto;
padding:0 1rem;color:#222;line-height:1.5}}button{{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}}</style>
</head><body><h1>{title}</h1>{body}</body></html>
"""


def page(title: str, body: str, status: int = 200) -> Response:
    return Response(_PAGE.format(title=html.escape(title), body=body), status_code=status, headers=PAGE_HEADERS)


def messages_of(channel: str) -> str:
    """The messages of a channel, in the pages' two languages."""
    return "les SMS / text messages" if channel == "sms" else "les emails / emails"


@bp.route("/t/o/{token}", methods=["GET"], roles=PUBLIC)
def open_pixel(token: str) -> Response:
    if not engagement.open_(token):
        raise not_found("This link")
    headers = bp.current_request.headers
    accept = (headers.get("accept", "") if headers else "").lower()
    if "*/*" not in accept and "image/gif" not in accept:
        # API Gateway returns binary bodies only to clients that accept them (images do: */*);
        # anything else gets an empty answer, the open being recorded all the same.
        return Response(body="", status_code=204, headers=NO_STORE)
    return Response(PIXEL, status_code=200, headers={**NO_STORE, "Content-Type": "image/gif"})


@bp.route("/t/c/{token}", methods=["GET"], roles=PUBLIC)
def click(token: str) -> Response:
    url = engagement.click(token)
    if url is None:
        raise not_found("This link")
    return Response("", status_code=302, headers={**NO_STORE, "Location": url})


@bp.route("/u/{token}", methods=["GET"], roles=PUBLIC)
def unsubscribe_page(token: str) -> Response:
    target = engagement.unsubscribe_target(token)
    if target is None:
        raise not_found("This link")
    body = (f"<p>Ne plus recevoir {messages_of(target['channel'])} ?<br>Stop receiving these messages?</p>"
            '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
            '<button type="submit">Se désinscrire / Unsubscribe</button></form>')
    return page("Désinscription / Unsubscribe", body)


@bp.route("/u/{token}", methods=["POST"], roles=PUBLIC, content_types=FORM_TYPES)
def unsubscribe(token: str) -> Response:
    if engagement.unsubscribe(token) is None:
        raise not_found("This link")
    return page("Désinscription confirmée / Unsubscribed",
                 "<p>Vous ne recevrez plus ces messages.<br>You will not receive these messages any more.</p>")
