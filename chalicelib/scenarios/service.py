"""Scenarios: every accepted version kept; publish compiles and deploys; pause, resume, archive."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib import clock, faults
from chalicelib.channels import caps, messages, templates, webhooks
from chalicelib.config import settings
from chalicelib.events import readers, routing
from chalicelib.lists import service as lists
from chalicelib.problems import Invalid, Problem, WrongState
from chalicelib.scenarios import deployer, journeys, references, schema, simulate
from chalicelib.scoring import service as scoring
from chalicelib.segments import service as segments
from chalicelib.store.models import Scenario, Trigger

HEAD = Scenario.HEAD


class ScenarioExists(Exception):
    pass


def validate(definition: object) -> list[Problem]:
    return schema.validate(definition)


def check(body: object) -> tuple[list[Problem], list[Problem]]:
    """What refuses saving the scenario, and, when nothing does, what refuses publishing it now."""
    problems = validate(body)
    return problems, ([] if problems or not isinstance(body, dict) else missing_references(body))


def missing_references(body: dict) -> list[Problem]:
    """The templates, lists and segments the scenario names that do not exist, and the templates
    it names that the sandbox refuses or that belong to another channel. Checked at publish: a
    draft may name what is created later."""
    problems = []
    for found in references.references(body):
        if found.kind == "template":
            template = messages.template_content(found.id, consistent_read=True)  # one saved just before
            if template is None:
                problems.append(Problem(found.path, f"no template '{found.id}'; create it with POST /templates"))
            elif template["channel"] != found.channel:
                problems.append(Problem(found.path, f"template '{found.id}' is an {template['channel']} template, "
                                                    f"not an {found.channel} one"))
            else:
                problems.extend(Problem(found.path, f"template '{found.id}', {part}: {error}")
                                for part, error in _sandbox_errors(template))
        elif found.kind == "list" and lists.get(found.id) is None:
            problems.append(Problem(found.path, f"no list '{found.id}'; create it with POST /lists"))
        elif found.kind == "segment" and found.id not in segments.BUILTIN and segments.get(found.id) is None:
            problems.append(Problem(found.path, f"no segment '{found.id}'; create it with POST /segments"))
    return problems


def _sandbox_errors(template: dict[str, Any]) -> list[tuple[str, templates.TemplateError]]:
    # a template saved before the sandbox learnt a rule is held to today's rules
    errors = []
    for part in ("subject", "html", "text"):
        source = template.get(part)
        if source:
            try:
                templates.check(source)
            except templates.TemplateError as error:
                errors.append((part, error))
    return errors


def webhook_endpoints(scenario_id: str, version: int) -> list[dict]:
    """The webhook steps of a version, each with the secret its receiver verifies signatures with."""
    def secret(step: Mapping[str, Any]) -> str | None:
        try:
            return webhooks.endpoint_secret(scenario_id, step["id"], step["url"])
        except webhooks.Refused:  # no PARCOURS_WEBHOOK_SECRET: nothing is signed, nothing is sent
            return None

    return [{"step": step["id"], "path": path, "url": step["url"], "secret": secret(step)}
            for path, step in references.steps(definition(scenario_id, version)) if step.get("type") == "webhook"]


def _refuse_if(problems: list[Problem]) -> None:
    if problems:
        raise Invalid(problems, "The scenario is not valid.")


def head(scenario_id: str) -> Scenario | None:
    try:
        return Scenario.get(scenario_id, HEAD, consistent_read=True)
    except DoesNotExist:
        return None


@lru_cache(maxsize=256)
def definition(scenario_id: str, version: int) -> dict:
    """A stored version's definition; versions never change, so a warm Lambda caches them."""
    return Scenario.get(scenario_id, version).definition


def timeouts(scenario_id: str, version: int) -> dict[str, int]:
    """A published version's wait_for timeouts, which its state machine reads from the execution
    input (compiler.Compiled.timeouts): stored at its publication, by the same code at each, so
    a warm Lambda keeps them."""
    return dict(_timeouts(scenario_id, version))


@lru_cache(maxsize=256)
def _timeouts(scenario_id: str, version: int) -> tuple[tuple[str, int], ...]:
    return tuple(dict(Scenario.get(scenario_id, version).timeouts or {}).items())


def forget() -> None:
    """Drop what this process keeps of stored versions (a new local stack reuses the ids)."""
    definition.cache_clear()
    _timeouts.cache_clear()


def create(body: Any) -> Scenario:
    _refuse_if(validate(body))
    now = clock.iso(clock.now())
    scenario = Scenario(body["id"], HEAD, name=body["name"], status="draft", latest_version=1, created_at=now,
                        updated_at=now)
    try:
        scenario.save(condition=Scenario.id.does_not_exist())
    except PutError as error:
        if not faults.lost_to_condition(error):
            raise
        raise ScenarioExists(body["id"]) from None
    Scenario(body["id"], 1, definition=body, created_at=now).save()
    return scenario


def new_version(scenario: Scenario, body: Any) -> Scenario:
    problems = validate(body)
    if isinstance(body, dict) and body.get("id") not in (None, scenario.id):
        problems.append(Problem("id", f"id must stay '{scenario.id}'"))
    _refuse_if(problems)
    if scenario.status == "archived":
        raise WrongState("an archived scenario cannot change")
    version = int(scenario.latest_version) + 1
    now = clock.iso(clock.now())
    Scenario(scenario.id, version, definition=body, created_at=now).save(condition=Scenario.id.does_not_exist())
    scenario.update(actions=[Scenario.latest_version.set(version), Scenario.name.set(body["name"]),
                             Scenario.updated_at.set(now)])
    return scenario


def publish(scenario: Scenario) -> Scenario:
    if scenario.status == "archived":
        raise WrongState("an archived scenario cannot be published")
    version = int(scenario.latest_version)
    body = definition(scenario.id, version)
    # stored under an older validator, it may no longer be one we can run; and what it names must exist now
    _refuse_if(validate(body) or missing_references(body))
    routing.extend(readers.scenario_facts(body))  # before it can start, wait or convert anyone
    deployed = deployer.publish(body, state_machine_arn=scenario.state_machine_arn, alias_arn=scenario.alias_arn,
                                version=version)
    Scenario(scenario.id, version).update(actions=[Scenario.version_arn.set(deployed.version_arn),
                                                   Scenario.timeouts.set(deployed.timeouts)])
    scenario.update(actions=[Scenario.status.set("live"), Scenario.live_version.set(version),
                             Scenario.state_machine_arn.set(deployed.state_machine_arn),
                             Scenario.alias_arn.set(deployed.alias_arn),
                             Scenario.updated_at.set(clock.iso(clock.now()))])
    _set_trigger(scenario.id, body, version)
    return scenario


def pause(scenario: Scenario) -> Scenario:
    if scenario.status != "live":
        raise WrongState("only a live scenario can be paused")
    _clear_trigger(scenario.id)
    scenario.update(actions=[Scenario.status.set("paused")])
    return scenario


def resume(scenario: Scenario) -> Scenario:
    if scenario.status != "paused":
        raise WrongState("only a paused scenario can be resumed")
    _set_trigger(scenario.id, definition(scenario.id, int(scenario.live_version)), int(scenario.live_version))
    scenario.update(actions=[Scenario.status.set("live")])
    return scenario


def archive(scenario: Scenario) -> tuple[Scenario, int]:
    """Stop new entries and every running journey; the count of journeys stopped."""
    _clear_trigger(scenario.id)
    scenario.update(actions=[Scenario.status.set("archived")])
    stopped = 0
    for enrollment in journeys.running_of_scenario(scenario.id):
        if journeys.finish(enrollment, "stopped"):
            stopped += 1
            if enrollment.execution_arn:
                deployer.stop(enrollment.execution_arn, "scenario archived")
    return scenario, stopped


def trigger_type(body: dict) -> str:
    trigger = body["trigger"]
    if "event" in trigger:
        return trigger["event"]
    return f"date:{trigger['date']['field']}"


def _set_trigger(scenario_id: str, body: dict, version: int) -> None:
    _clear_trigger(scenario_id)
    Trigger(trigger_type(body), scenario_id, version=version).save()


def _clear_trigger(scenario_id: str) -> None:
    # A scenario has one trigger; its type may have changed between versions.
    for version in Scenario.query(scenario_id, Scenario.version > HEAD):
        Trigger(trigger_type(version.definition), scenario_id).delete()


def triggered_by(event_type: str) -> list[Trigger]:
    return list(Trigger.query(event_type))


def list_heads() -> list[Scenario]:
    # Scenarios number in the tens: an admin listing reads the small table's heads.
    return sorted(Scenario.scan(Scenario.version == HEAD), key=lambda item: item.id)


def versions(scenario_id: str) -> list[int]:
    return [int(item.version) for item in Scenario.query(scenario_id, Scenario.version > HEAD)]


def to_api(scenario: Scenario, *, version: int | None = None) -> dict:
    shown = version or int(scenario.latest_version)
    return {"id": scenario.id, "name": scenario.name, "status": scenario.status, "version": shown,
            "latest_version": int(scenario.latest_version),
            "live_version": int(scenario.live_version) if scenario.live_version else None,
            "entered": int(scenario.entered or 0), "created_at": scenario.created_at,
            "updated_at": scenario.updated_at, "definition": definition(scenario.id, shown)}


def simulation(scenario_id: str, version: int, contact: dict, timeline: list[dict], *,
               start: datetime | None = None, bucket: int | None = None) -> dict:
    """A dry run of this version for a contact and a timeline, with this installation's settings:
    default time zone, frequency caps, scoring rules and stored templates."""
    installation = simulate.Installation(default_timezone=settings().default_timezone, caps=caps.configured(),
                                         scoring=scoring.current(), template=messages.template_content)
    return simulate.simulate(definition(scenario_id, version), contact, timeline, start=start, bucket=bucket,
                             installation=installation)
