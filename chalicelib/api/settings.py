"""Scoring and activity-rank settings, and the on-demand activity recomputation."""
from __future__ import annotations

from chalice import Response

from chalicelib.activity import service as activity
from chalicelib.api.auth import READ, WRITE
from chalicelib.api.http import read_object
from chalicelib.api.routing import ApiBlueprint
from chalicelib.audience import jobs
from chalicelib.problems import Invalid
from chalicelib.scoring import service as scoring

bp = ApiBlueprint(__name__)


@bp.route("/settings/scoring", methods=["GET"], roles=READ)
def get_scoring() -> dict:
    return scoring.to_api()


@bp.route("/settings/scoring", methods=["PUT"], roles=WRITE)
def put_scoring() -> dict:
    body = read_object(bp.current_request)
    problems = scoring.validate(body)
    if problems:
        raise Invalid(problems, "These scoring settings are not valid.")
    return scoring.put(body)


@bp.route("/settings/activity", methods=["GET"], roles=READ)
def get_activity() -> dict:
    return activity.to_api()


@bp.route("/settings/activity", methods=["PUT"], roles=WRITE)
def put_activity() -> dict:
    body = read_object(bp.current_request)
    problems = activity.validate(body)
    if problems:
        raise Invalid(problems, "These activity settings are not valid.")
    return activity.put(body)


@bp.route("/activity/recompute", methods=["POST"], roles=WRITE)
def recompute_activity() -> Response:
    job, started = activity.recompute()
    return Response({"job": jobs.summary(job), "started": started}, status_code=202)
