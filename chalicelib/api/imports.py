"""CSV imports: within the request (small files) or from an S3 upload (background job)."""
from __future__ import annotations

from chalice import Response

from chalicelib.api.auth import READ, WRITE
from chalicelib.api.http import ApiError, decode_cursor, not_found, page, query
from chalicelib.api.routing import ApiBlueprint
from chalicelib.imports import service as imports
from chalicelib.problems import Invalid, Problem

bp = ApiBlueprint(__name__)

# What spreadsheets and browsers send a CSV file as. app.py declares them binary types, so API
# Gateway passes the bytes through untouched (Latin-1 files included).
CSV_TYPES = ["text/csv", "application/csv", "text/comma-separated-values", "application/vnd.ms-excel",
             "application/octet-stream"]


def _import_or_404(import_id: str):
    head = imports.get(import_id)
    if head is None:
        raise not_found("This import")
    return head


@bp.route("/imports", methods=["POST"], roles=WRITE, content_types=CSV_TYPES)
def import_csv() -> Response:
    options = imports.parse_options(query(bp.current_request))
    body = bp.current_request.raw_body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    try:
        report = imports.run_now(body, options)
    except imports.TooLarge as error:
        raise ApiError(413, "too_large", str(error)) from None
    return Response(report, status_code=200)


@bp.route("/imports/uploads", methods=["POST"], roles=WRITE)
def create_upload() -> Response:
    return Response(imports.create_upload(imports.parse_options(query(bp.current_request))), status_code=201)


@bp.route("/imports/{import_id}", methods=["GET"], roles=READ)
def get_import(import_id: str) -> dict:
    return imports.report(_import_or_404(import_id))


@bp.route("/imports/{import_id}/start", methods=["POST"], roles=WRITE)
def start_import(import_id: str) -> Response:
    head = _import_or_404(import_id)
    try:
        head = imports.start_upload(head)
    except imports.NotUploaded as error:
        raise ApiError(409, "not_uploaded", str(error).capitalize() + ".") from None
    return Response(imports.report(head), status_code=202)


@bp.route("/imports/{import_id}/lines", methods=["GET"], roles=READ)
def import_lines(import_id: str) -> dict:
    _import_or_404(import_id)
    params = query(bp.current_request)
    outcome = params.get("outcome")
    if outcome is not None and outcome not in ("created", "updated", "skipped", "refused"):
        raise Invalid([Problem("outcome", "outcome must be created, updated, skipped or refused")])
    lines, next_key = imports.lines_page(import_id, 5, decode_cursor(bp.current_request))
    if outcome:
        lines = [line for line in lines if line["outcome"] == outcome]
    return page(lines, next_key)
