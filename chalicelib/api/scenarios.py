"""Scenarios: upload and version, validate, publish and the lifecycle, compiled views, simulate."""
from __future__ import annotations

from chalice import Response

from chalicelib import clock
from chalicelib.api.auth import READ, WRITE
from chalicelib.api.http import ApiError, date_range, is_whole_number, not_found, query, read_json, read_object
from chalicelib.api.routing import ApiBlueprint
from chalicelib.contacts import service as contacts
from chalicelib.problems import Invalid, Problem
from chalicelib.reports import service as reports
from chalicelib.scenarios import deployer, diagram, simulate
from chalicelib.scenarios import service as scenarios
from chalicelib.scenarios.json_schema import scenario_schema

bp = ApiBlueprint(__name__)


def _scenario_or_404(scenario_id: str) -> scenarios.Scenario:
    scenario = scenarios.head(scenario_id)
    if scenario is None:
        raise not_found("This scenario")
    return scenario


def _version(scenario: scenarios.Scenario) -> int:
    params = bp.current_request.query_params
    raw = params.get("version") if params else None
    if raw is None:
        return int(scenario.latest_version)
    if not is_whole_number(raw) or int(raw) not in scenarios.versions(scenario.id):
        raise not_found(f"Version {raw} of this scenario")
    return int(raw)


def _lifecycle(action, scenario_id: str) -> dict:
    result = action(_scenario_or_404(scenario_id))
    scenario, extra = result if isinstance(result, tuple) else (result, None)
    body = scenarios.to_api(_scenario_or_404(scenario.id))
    if extra is not None:
        body["stopped_journeys"] = extra
    return body


@bp.route("/scenarios/validate", methods=["POST"], roles=WRITE, body=scenario_schema)
def validate_scenario() -> dict:
    problems, missing = scenarios.check(read_json(bp.current_request))
    return {"valid": not problems, "problems": [problem.as_dict() for problem in problems],
            "publishable": not problems and not missing, "missing": [problem.as_dict() for problem in missing]}


@bp.route("/scenarios", methods=["POST"], roles=WRITE, body=scenario_schema)
def create_scenario() -> Response:
    try:
        scenario = scenarios.create(read_json(bp.current_request))
    except scenarios.ScenarioExists:
        raise ApiError(409, "conflict", "A scenario with this id exists; PUT /scenarios/{id} adds a version.") from None
    return Response(scenarios.to_api(scenario), status_code=201)


@bp.route("/scenarios", methods=["GET"], roles=READ)
def list_scenarios() -> dict:
    return {"items": [scenarios.to_api(item) for item in scenarios.list_heads()], "next": None}


@bp.route("/scenarios/{scenario_id}", methods=["GET"], roles=READ)
def get_scenario(scenario_id: str) -> dict:
    scenario = _scenario_or_404(scenario_id)
    return {**scenarios.to_api(scenario, version=_version(scenario)), "versions": scenarios.versions(scenario_id)}


@bp.route("/scenarios/{scenario_id}", methods=["PUT"], roles=WRITE, body=scenario_schema)
def put_scenario(scenario_id: str) -> dict:
    scenario = _scenario_or_404(scenario_id)
    scenarios.new_version(scenario, read_json(bp.current_request))
    return scenarios.to_api(_scenario_or_404(scenario_id))


@bp.route("/scenarios/{scenario_id}/publish", methods=["POST"], roles=WRITE)
def publish_scenario(scenario_id: str) -> dict:
    return _lifecycle(scenarios.publish, scenario_id)


@bp.route("/scenarios/{scenario_id}/pause", methods=["POST"], roles=WRITE)
def pause_scenario(scenario_id: str) -> dict:
    return _lifecycle(scenarios.pause, scenario_id)


@bp.route("/scenarios/{scenario_id}/resume", methods=["POST"], roles=WRITE)
def resume_scenario(scenario_id: str) -> dict:
    return _lifecycle(scenarios.resume, scenario_id)


@bp.route("/scenarios/{scenario_id}/archive", methods=["POST"], roles=WRITE)
def archive_scenario(scenario_id: str) -> dict:
    return _lifecycle(scenarios.archive, scenario_id)


@bp.route("/scenarios/{scenario_id}/asl", methods=["GET"], roles=READ)
def scenario_asl(scenario_id: str) -> dict:
    scenario = _scenario_or_404(scenario_id)
    return deployer.compiled_asl(scenarios.definition(scenario_id, _version(scenario)))


@bp.route("/scenarios/{scenario_id}/diagram", methods=["GET"], roles=READ)
def scenario_diagram(scenario_id: str) -> dict:
    scenario = _scenario_or_404(scenario_id)
    version = _version(scenario)
    counts = reports.step_counts(scenario_id, int(scenario.latest_version), version,
                                 *date_range(bp.current_request)) \
        if query(bp.current_request).get("counts") in ("1", "true") else None
    return {"format": "mermaid", "diagram": diagram.mermaid(scenarios.definition(scenario_id, version), counts)}


@bp.route("/scenarios/{scenario_id}/webhooks", methods=["GET"], roles=WRITE)
def scenario_webhooks(scenario_id: str) -> dict:
    scenario = _scenario_or_404(scenario_id)
    return {"items": scenarios.webhook_endpoints(scenario_id, _version(scenario))}


@bp.route("/scenarios/{scenario_id}/simulate", methods=["POST"], roles=WRITE)
def simulate_scenario(scenario_id: str) -> dict:
    scenario = _scenario_or_404(scenario_id)
    contact, timeline, options = _simulation_input(read_object(bp.current_request))
    return scenarios.simulation(scenario_id, _version(scenario), contact, timeline, **options)


def _simulation_input(body: dict) -> tuple[dict, list, dict]:
    """{"contact_id" | "contact", "timeline": [...], "bucket"?, "start"?}, checked."""
    problems = [Problem(key, f"unknown field '{key}'") for key in body
                if key not in ("contact_id", "contact", "timeline", "bucket", "start")]
    contact: dict = {}
    if "contact_id" in body:
        found = contacts.get(str(body["contact_id"]))
        if found is None:
            problems.append(Problem("contact_id", "no contact has this id"))
        else:
            contact = contacts.to_api(found)
    elif isinstance(body.get("contact"), dict):
        contact = {"id": "simulated", "attributes": {}, "consent": {}, "lists": [], **body["contact"]}
    else:
        problems.append(Problem("contact", "give contact_id, or contact with the fields to simulate"))
    timeline = body.get("timeline", [])
    problems += simulate.validate_timeline(timeline) if isinstance(timeline, list) else [
        Problem("timeline", "timeline must be a list of events")]
    options: dict = {}
    if "bucket" in body:
        if not isinstance(body["bucket"], int) or isinstance(body["bucket"], bool) or not 0 <= body["bucket"] <= 99:
            problems.append(Problem("bucket", "bucket must be a whole number from 0 to 99"))
        else:
            options["bucket"] = body["bucket"]
    if "start" in body:
        try:
            options["start"] = clock.parse_iso(str(body["start"]))
        except ValueError:
            problems.append(Problem("start", "start must be an ISO 8601 date-time"))
    if problems:
        raise Invalid(problems)
    return contact, timeline, options
