"""Email and SMS templates: CRUD and preview (Jinja2, sandboxed; checked at save time)."""
from __future__ import annotations

from chalice import Response

from chalicelib.api.auth import READ, WRITE
from chalicelib.api.http import ApiError, decode_cursor, not_found, page, page_limit, read_object
from chalicelib.api.routing import ApiBlueprint
from chalicelib.channels import template_store
from chalicelib.problems import Invalid, Problem

bp = ApiBlueprint(__name__)


def _template_or_404(template_id: str) -> template_store.Template:
    item = template_store.get(template_id) if template_store.ID.fullmatch(template_id or "") else None
    if item is None:
        raise not_found("This template")
    return item


@bp.route("/templates", methods=["POST"], roles=WRITE, body=template_store.body_schema)
def create_template() -> Response:
    cleaned, problems = template_store.validate(read_object(bp.current_request))
    if problems:
        raise Invalid(problems, "The template is not valid.")
    try:
        item = template_store.create(cleaned)
    except template_store.Conflict:
        raise ApiError(409, "conflict", "A template with this id exists; PUT /templates/{id} replaces it.") from None
    return Response(template_store.to_api(item), status_code=201)


@bp.route("/templates", methods=["GET"], roles=READ)
def list_templates() -> dict:
    items, next_key = template_store.list_page(page_limit(bp.current_request), decode_cursor(bp.current_request))
    return page([template_store.to_api(item) for item in items], next_key)


@bp.route("/templates/{template_id}", methods=["GET"], roles=READ)
def get_template(template_id: str) -> dict:
    return template_store.to_api(_template_or_404(template_id))


@bp.route("/templates/{template_id}", methods=["PUT"], roles=WRITE)
def put_template(template_id: str) -> Response:
    if not template_store.ID.fullmatch(template_id or ""):
        raise not_found("This template")
    cleaned, problems = template_store.validate(read_object(bp.current_request), template_id=template_id)
    if problems:
        raise Invalid(problems, "The template is not valid.")
    item, created = template_store.replace(cleaned)
    return Response(template_store.to_api(item), status_code=201 if created else 200)


@bp.route("/templates/{template_id}", methods=["DELETE"], roles=WRITE)
def delete_template(template_id: str) -> Response:
    _template_or_404(template_id)
    users = template_store.used_by(template_id)
    if users:
        raise ApiError(409, "in_use", "Live or paused scenarios send this template: " + ", ".join(users) + ".",
                       [Problem("", f"used by scenario '{scenario}'") for scenario in users])
    template_store.delete(template_id)
    return Response(body="", status_code=204)


@bp.route("/templates/{template_id}/preview", methods=["POST"], roles=READ)
def preview_template(template_id: str) -> dict:
    item = _template_or_404(template_id)
    variables, problems = template_store.preview_variables(read_object(bp.current_request))
    if problems or variables is None:
        raise Invalid(problems)
    rendered, problems = template_store.preview(item, variables)
    if problems or rendered is None:
        raise Invalid(problems, "The template cannot be rendered for this contact.")
    return rendered
