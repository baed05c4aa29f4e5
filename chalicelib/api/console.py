"""GET /console: the marketers' web page, and /console/{asset} its scripts and style sheet.

Public: the files hold no data; the page signs in with an API key and calls the API like any
client. Served under a strict Content-Security-Policy: scripts and styles from these files
only (no inline script or style, no other origin), so a template or contact field that
slipped markup into a page could not run.
"""
from __future__ import annotations

from chalice import Response

from chalicelib.api.http import not_found
from chalicelib.api.routing import PUBLIC, ApiBlueprint
from chalicelib.config import settings
from chalicelib.console import assets

bp = ApiBlueprint(__name__)

# Emails previewed in the console live in sandboxed srcdoc frames, which inherit this policy:
# their own style attributes are applied through the CSSOM by the console (preview.js), which
# the policy allows, and their remote images are not fetched (img-src keeps to this origin).
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; "
          "form-action 'self'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def _served(asset: assets.Asset) -> Response:
    return Response(asset.text, status_code=200, headers={**HEADERS, "Content-Type": asset.content_type})


@bp.route("/", methods=["GET"], roles=PUBLIC)
def home() -> Response:
    """The API's root leads a browser to the console (to the installation's own address, never elsewhere)."""
    return Response("", status_code=302, headers={"Location": f"{settings().public_base_url}/console",
                                                   "Cache-Control": "no-cache"})


@bp.route("/console", methods=["GET"], roles=PUBLIC)
def console_page() -> Response:
    """The web console (an HTML page; it signs in with an API key)."""
    return _served(assets.page())


@bp.route("/console/{asset}", methods=["GET"], roles=PUBLIC)
def console_asset(asset: str) -> Response:
    """A script or style sheet of the web console."""
    found = assets.asset(asset)
    if found is None:
        raise not_found("This file")
    return _served(found)
