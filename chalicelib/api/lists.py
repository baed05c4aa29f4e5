"""Static lists and their members."""
from __future__ import annotations

from chalice import Response

from chalicelib.api.auth import READ, WRITE
from chalicelib.api.http import ApiError, decode_cursor, not_found, page, page_limit, read_object
from chalicelib.api.routing import ApiBlueprint
from chalicelib.contacts import service as contacts
from chalicelib.lists import service as lists
from chalicelib.problems import Invalid, Problem

bp = ApiBlueprint(__name__)


def _list_or_404(list_id: str):
    found = lists.get(list_id)
    if found is None:
        raise not_found("This list")
    return found


@bp.route("/lists", methods=["POST"], roles=WRITE, body=lists.body_schema)
def create_list() -> Response:
    try:
        created = lists.create(read_object(bp.current_request))
    except lists.Exists:
        raise ApiError(409, "conflict", "A list with this id exists already.") from None
    return Response(lists.to_api(created), status_code=201)


@bp.route("/lists", methods=["GET"], roles=READ)
def list_lists() -> dict:
    items, next_key = lists.page(page_limit(bp.current_request), decode_cursor(bp.current_request))
    return page([lists.to_api(item) for item in items], next_key)


@bp.route("/lists/{list_id}", methods=["GET"], roles=READ)
def get_list(list_id: str) -> dict:
    return lists.to_api(_list_or_404(list_id))


@bp.route("/lists/{list_id}", methods=["PUT"], roles=WRITE)
def update_list(list_id: str) -> dict:
    found = _list_or_404(list_id)
    return lists.to_api(lists.update(found, read_object(bp.current_request)))


@bp.route("/lists/{list_id}", methods=["DELETE"], roles=WRITE)
def delete_list(list_id: str) -> Response:
    job = lists.delete(_list_or_404(list_id))
    return Response({"id": list_id, "status": "deleting", "job": job}, status_code=202)


@bp.route("/lists/{list_id}/members", methods=["GET"], roles=READ)
def list_members(list_id: str) -> dict:
    _list_or_404(list_id)
    items, next_key = lists.members_page(list_id, page_limit(bp.current_request), decode_cursor(bp.current_request))
    return page(items, next_key)


@bp.route("/lists/{list_id}/members", methods=["POST"], roles=WRITE)
def add_member(list_id: str) -> Response:
    _list_or_404(list_id)
    body = read_object(bp.current_request)
    problems = [Problem(str(key), f"unknown field '{key}'; a member is {{\"contact_id\"}}")
                for key in body if key != "contact_id"]
    contact_id = body.get("contact_id")
    if not isinstance(contact_id, str) or not contact_id.strip():
        problems.append(Problem("contact_id", "contact_id is required: the id of an existing contact"))
    if problems:
        raise Invalid(problems)
    if contacts.get(str(contact_id)) is None:
        raise Invalid([Problem("contact_id", "no contact has this id")])
    joined = lists.add(list_id, str(contact_id))
    return Response({"list": list_id, "contact_id": contact_id, "member": True, "changed": joined},
                    status_code=201 if joined else 200)


@bp.route("/lists/{list_id}/members/{contact_id}", methods=["DELETE"], roles=WRITE)
def remove_member(list_id: str, contact_id: str) -> dict:
    _list_or_404(list_id)
    left = lists.remove(list_id, contact_id)
    return {"list": list_id, "contact_id": contact_id, "member": False, "changed": left}
