"""Dynamic segments: definitions, members, counts and previews of unsaved criteria."""
from __future__ import annotations

from chalice import Response

from chalicelib.api.auth import READ, WRITE
from chalicelib.api.http import ApiError, decode_cursor, not_found, page, page_limit, read_object
from chalicelib.api.routing import ApiBlueprint
from chalicelib.problems import Invalid, Problem
from chalicelib.scenarios.json_schema import segment_schema
from chalicelib.segments import service as segments

bp = ApiBlueprint(__name__)


def _segment_or_404(segment_id: str):
    found = segments.get(segment_id)
    if found is None:
        if segment_id in segments.BUILTIN:
            segments.ensure_builtins()
            found = segments.get(segment_id)
        if found is None:
            raise not_found("This segment")
    return found


def _refused(error: Exception) -> ApiError:
    return ApiError(409, "wrong_state", str(error).capitalize() + ".")


@bp.route("/segments", methods=["POST"], roles=WRITE, body=segment_schema)
def create_segment() -> Response:
    try:
        created = segments.create(read_object(bp.current_request))
    except segments.Exists:
        raise ApiError(409, "conflict", "A segment with this id exists already.") from None
    return Response(segments.to_api(created, with_build=True), status_code=201)


@bp.route("/segments", methods=["GET"], roles=READ)
def list_segments() -> dict:
    items, next_key = segments.page(page_limit(bp.current_request), decode_cursor(bp.current_request))
    return page([segments.to_api(item) for item in items], next_key)


@bp.route("/segments/preview", methods=["POST"], roles=READ)
def preview_segment() -> dict:
    body = read_object(bp.current_request)
    problems = [Problem(str(key), f"unknown field '{key}'; a preview takes criteria")
                for key in body if key != "criteria"]
    if "criteria" not in body:
        problems.append(Problem("criteria", "criteria are required"))
    if problems:
        raise Invalid(problems)
    return segments.preview(body["criteria"])


@bp.route("/segments/{segment_id}", methods=["GET"], roles=READ)
def get_segment(segment_id: str) -> dict:
    return segments.to_api(_segment_or_404(segment_id), with_build=True)


@bp.route("/segments/{segment_id}", methods=["PUT"], roles=WRITE)
def update_segment(segment_id: str) -> dict:
    found = _segment_or_404(segment_id)
    try:
        return segments.to_api(segments.update(found, read_object(bp.current_request)), with_build=True)
    except segments.Refused as error:
        raise _refused(error) from None


@bp.route("/segments/{segment_id}", methods=["DELETE"], roles=WRITE)
def delete_segment(segment_id: str) -> Response:
    try:
        job = segments.delete(_segment_or_404(segment_id))
    except segments.Refused as error:
        raise _refused(error) from None
    return Response({"id": segment_id, "status": "deleting", "job": job}, status_code=202)


@bp.route("/segments/{segment_id}/rebuild", methods=["POST"], roles=WRITE)
def rebuild_segment(segment_id: str) -> Response:
    return Response(segments.to_api(segments.rebuild(_segment_or_404(segment_id)), with_build=True),
                    status_code=202)


@bp.route("/segments/{segment_id}/contacts", methods=["GET"], roles=READ)
def segment_contacts(segment_id: str) -> dict:
    _segment_or_404(segment_id)
    items, next_key = segments.contacts_page(segment_id, page_limit(bp.current_request),
                                             decode_cursor(bp.current_request))
    return page(items, next_key)
