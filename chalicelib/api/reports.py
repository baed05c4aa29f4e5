"""Reports: a scenario's funnel per step and per version, the account's overview."""
from __future__ import annotations

from chalicelib.api.auth import READ
from chalicelib.api.http import date_range, is_whole_number, not_found, query
from chalicelib.api.routing import ApiBlueprint
from chalicelib.reports import service as reports
from chalicelib.scenarios import service as scenarios

bp = ApiBlueprint(__name__)


@bp.route("/scenarios/{scenario_id}/report", methods=["GET"], roles=READ)
def scenario_report(scenario_id: str) -> dict:
    """A scenario's funnel: totals, every step (with branches), and each day of the range."""
    head = scenarios.head(scenario_id)
    if head is None:
        raise not_found("This scenario")
    raw = query(bp.current_request).get("version")
    version = None
    if raw is not None:
        if not is_whole_number(raw) or int(raw) not in scenarios.versions(scenario_id):
            raise not_found(f"Version {raw} of this scenario")
        version = int(raw)
    start, end = date_range(bp.current_request)
    return reports.scenario_report(scenario_id, int(head.latest_version), version, start, end)


@bp.route("/reports/overview", methods=["GET"], roles=READ)
def overview() -> dict:
    """The account: contacts, consent, activity, and sends and engagement by day."""
    start, end = date_range(bp.current_request)
    return reports.overview(start, end)
