"""Scenario lifecycle through the HTTP API: validation, versions, publishing, entry rules, pause, archive."""
from __future__ import annotations

import copy
import time
from datetime import timedelta

import pytest

from examples import lists_for
from tests.helpers import CONSENT, DAY, contact_id, eventually, journey, journeys, post, publish, reference, sent_steps


def test_validate_lists_every_problem_with_its_path(api):
    broken = reference("abandoned-cart")
    broken["steps"][0]["timeout"] = "one hour"
    broken["steps"][1]["duration"] = "P2Y"
    broken["steps"].append({"id": "why", "type": "teleport"})
    response = api.post("/scenarios/validate", broken)
    assert response.status_code == 200
    assert response.data["valid"] is False
    paths = {problem["path"] for problem in response.data["problems"]}
    assert {"steps[0].timeout", "steps[1].duration", "steps[3].type"} <= paths
    assert any(problem["path"].startswith("steps[3]") and "why" in problem["message"] or "duplicate" in
               problem["message"] for problem in response.data["problems"])
    assert api.post("/scenarios/validate", reference("birthday")).data == {
        "valid": True, "problems": [], "publishable": True, "missing": []}


def test_invalid_scenario_is_refused_and_valid_versions_are_kept(api):
    refused = api.post("/scenarios", {"id": "x", "name": "X", "trigger": {"event": "signup"}, "steps": []})
    assert refused.status_code == 422
    assert refused.data["error"]["details"][0]["path"] == "steps"
    assert api.post("/scenarios", raw="{oops").status_code == 400
    created = api.post("/scenarios", reference("welcome-series"))
    assert created.status_code == 201
    assert created.data["status"] == "draft" and created.data["version"] == 1
    assert api.post("/scenarios", reference("welcome-series")).status_code == 409
    second = reference("welcome-series")
    second["name"] = "Bienvenue v2"
    updated = api.put("/scenarios/welcome-series", second)
    assert updated.status_code == 200 and updated.data["version"] == 2
    bad = copy.deepcopy(second)
    bad["steps"][1]["duration"] = "PT0S"
    assert api.put("/scenarios/welcome-series", bad).status_code == 422
    current = api.get("/scenarios/welcome-series").data
    assert current["versions"] == [1, 2]
    assert api.get("/scenarios/welcome-series?version=1").data["definition"]["name"] == "Série de bienvenue"
    assert api.get("/scenarios/welcome-series?version=9").status_code == 404
    assert [item["id"] for item in api.get("/scenarios").data["items"]] == ["welcome-series"]



def test_a_stored_version_the_validator_now_refuses_is_not_published(api):
    # Saved when scenario event types could start with a digit, which ingestion never accepted.
    from chalicelib.store.models import Scenario

    definition = {**reference("welcome-series"), "trigger": {"event": "1st_signup"}}
    at = "2026-01-05T10:00:00Z"
    Scenario("welcome-series", Scenario.HEAD, name=definition["name"], status="draft", latest_version=1,
             created_at=at, updated_at=at).save()
    Scenario("welcome-series", 1, definition=definition, created_at=at).save()
    refused = api.post("/scenarios/welcome-series/publish")
    assert refused.status_code == 422
    assert [detail["path"] for detail in refused.data["error"]["details"]] == ["trigger.event"]
    assert api.get("/scenarios/welcome-series").data["status"] == "draft"

def test_asl_and_diagram(api):
    publish(api, reference("abandoned-cart"))
    asl = api.get("/scenarios/abandoned-cart/asl").data
    wait_for = asl["States"]["wait-purchase"]
    assert wait_for["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert wait_for["Catch"][0]["ErrorEquals"] == ["States.Timeout"]
    assert asl["States"]["wait-answer"]["Type"] == "Wait"
    evaluate = asl["States"]["shipping-answer"]["Parameters"]["Payload"]  # it sends the branch's email too
    assert (evaluate["action"], evaluate["then"]["step"], evaluate["else"]["step"]) == (
        "evaluate", "free-shipping", "similar")
    diagram = api.get("/scenarios/abandoned-cart/diagram").data
    assert diagram["format"] == "mermaid" and diagram["diagram"].startswith("flowchart TD")
    assert api.get("/scenarios/nope/asl").status_code == 404


def test_roles_on_scenarios(api):
    analyst = api.key_for("analyst")
    assert api.post("/scenarios", reference("birthday"), key=analyst).status_code == 403
    publish(api, reference("birthday"))
    assert api.get("/scenarios/birthday", key=analyst).status_code == 200
    assert api.post("/scenarios/birthday/pause", key=analyst).status_code == 403


@pytest.mark.time_scale(DAY)
def test_duplicate_trigger_event_starts_one_journey(api):
    for body in lists_for("loyal-customers"):
        api.post("/lists", body)
    publish(api, reference("loyal-customers"))  # re-entry "always": one journey per purchase event
    for _ in range(3):
        post(api, "purchase", "ana@example.com", consent=CONSENT, id="order-42")
    journey(api, "ana@example.com", "loyal-customers", status="completed")
    time.sleep(0.5)
    assert len(journeys(api, "ana@example.com")) == 1
    assert sent_steps(api, "ana@example.com") == ["coupon"]


@pytest.mark.time_scale(DAY)
def test_reentry_never(api):
    publish(api, reference("welcome-series"))
    post(api, "signup", "ana@example.com", consent=CONSENT)
    post(api, "signup", "ana@example.com")
    journey(api, "ana@example.com", "welcome-series", status="completed")
    assert len(journeys(api, "ana@example.com")) == 1


@pytest.mark.time_scale(DAY)
def test_reentry_after_a_delay(api):
    from chalicelib import clock

    definition = reference("abandoned-cart")
    publish(api, definition)
    post(api, "cart_updated", "ana@example.com", consent=CONSENT, properties={"items": 1})
    journey(api, "ana@example.com", "abandoned-cart", status="completed")
    post(api, "cart_updated", "ana@example.com", properties={"items": 2})
    time.sleep(0.5)
    assert len(journeys(api, "ana@example.com")) == 1  # within P7D of the first entry
    clock.advance(timedelta(days=8))
    post(api, "cart_updated", "ana@example.com", properties={"items": 3})
    eventually(lambda: len(journeys(api, "ana@example.com")) == 2)


@pytest.mark.time_scale(DAY)
def test_max_contacts_caps_entries(api):
    definition = reference("loyal-customers")
    definition["entry"]["max_contacts"] = 2
    for body in lists_for("loyal-customers"):
        api.post("/lists", body)
    publish(api, definition)
    for name in ("a", "b", "c"):
        post(api, "purchase", f"{name}@example.com", consent=CONSENT)
    journey(api, "a@example.com", "loyal-customers", status="completed")
    journey(api, "b@example.com", "loyal-customers", status="completed")
    time.sleep(0.5)
    assert journeys(api, "c@example.com") == []
    assert api.get("/scenarios/loyal-customers").data["entered"] == 2


@pytest.mark.time_scale(DAY)
def test_pause_stops_new_entries_and_resume_restarts_them(api):
    publish(api, reference("lead-magnet"))
    post(api, "download", "ana@example.com", consent=CONSENT, properties={"resource": "marketing-plan"})
    journey(api, "ana@example.com", "lead-magnet")
    paused = api.post("/scenarios/lead-magnet/pause")
    assert paused.status_code == 200 and paused.data["status"] == "paused"
    assert api.post("/scenarios/lead-magnet/pause").status_code == 409
    post(api, "download", "bob@example.com", consent=CONSENT, properties={"resource": "marketing-plan"})
    # contacts already inside go on to the end
    ana = journey(api, "ana@example.com", "lead-magnet", status="completed")
    assert ana["path"] == ["template", "method", "secret"]
    assert journeys(api, "bob@example.com") == []
    assert api.post("/scenarios/lead-magnet/resume").data["status"] == "live"
    post(api, "download", "cy@example.com", consent=CONSENT, properties={"resource": "marketing-plan"})
    journey(api, "cy@example.com", "lead-magnet")


@pytest.mark.time_scale(DAY)
def test_archive_stops_running_journeys(api):
    publish(api, reference("lead-magnet"))
    post(api, "download", "ana@example.com", consent=CONSENT, properties={"resource": "marketing-plan"})
    eventually(lambda: "template" in sent_steps(api, "ana@example.com"))
    archived = api.post("/scenarios/lead-magnet/archive")
    assert archived.status_code == 200
    assert archived.data["status"] == "archived" and archived.data["stopped_journeys"] == 1
    assert journey(api, "ana@example.com", "lead-magnet")["status"] == "stopped"
    time.sleep(4)  # past the first P3D wait: nothing more is sent
    assert sent_steps(api, "ana@example.com") == ["template"]
    assert api.post("/scenarios/lead-magnet/publish").status_code == 409


@pytest.mark.time_scale(DAY)
def test_new_version_while_contacts_are_mid_journey(api):
    publish(api, reference("lead-magnet"))
    post(api, "download", "ana@example.com", consent=CONSENT, properties={"resource": "marketing-plan"})
    eventually(lambda: "template" in sent_steps(api, "ana@example.com"))
    second = reference("lead-magnet")
    second["steps"][2]["id"] = "method-v2"
    assert api.put("/scenarios/lead-magnet", second).status_code == 200
    assert api.post("/scenarios/lead-magnet/publish").data["live_version"] == 2
    post(api, "download", "bob@example.com", consent=CONSENT, properties={"resource": "marketing-plan"})
    ana = journey(api, "ana@example.com", "lead-magnet", status="completed")
    bob = journey(api, "bob@example.com", "lead-magnet", status="completed")
    assert (ana["version"], ana["path"]) == (1, ["template", "method", "secret"])
    assert (bob["version"], bob["path"]) == (2, ["template", "method-v2", "secret"])


@pytest.mark.time_scale(DAY)
def test_exit_when_ends_the_journey_before_an_action(api):
    definition = reference("lead-magnet")
    definition["exit_when"] = {"field": "consent.email", "op": "ne", "value": True}
    publish(api, definition)
    post(api, "download", "ana@example.com", consent=CONSENT, properties={"resource": "marketing-plan"})
    eventually(lambda: "template" in sent_steps(api, "ana@example.com"))
    post(api, "preferences", "ana@example.com", consent={"email": False, "source": "preference center"})
    done = journey(api, "ana@example.com", "lead-magnet", status="exited")
    assert done["path"] == ["template", "method"]
    assert done["steps"][-1]["result"] == "exit_when"
    assert sent_steps(api, "ana@example.com") == ["template"]


def test_simulate_shows_path_and_rendered_messages_and_stores_nothing(api):
    api.post("/scenarios", reference("abandoned-cart"))
    response = api.post("/scenarios/abandoned-cart/simulate", {
        "contact": {"email": "sim@example.com", "first_name": "Sim", "consent": {"email": {"granted": True}}},
        "timeline": [{"type": "cart_updated", "properties": {"items": 1}, "at": "+PT0S"},
                     {"type": "email.clicked", "at": "+PT2H",
                      "properties": {"step": "why", "url": "https://shop.example.com/why?r=shipping-cost"}}]})
    assert response.status_code == 200, response.data
    assert [entry["step"] for entry in response.data["path"]] == [
        "wait-purchase", "why", "wait-answer", "shipping-answer", "free-shipping"]
    assert [message["subject"] for message in response.data["messages"]] == [
        "Un souci avec votre panier ?", "La livraison est pour nous"]
    assert api.get("/contacts?email=sim@example.com").data["items"] == []
    bad = api.post("/scenarios/abandoned-cart/simulate", {"contact": {}, "timeline": [{"type": 3}], "bucket": 200})
    assert bad.status_code == 422
    paths = {detail["path"] for detail in bad.data["error"]["details"]}
    assert "bucket" in paths and any(path.startswith("timeline[0]") for path in paths)


def test_simulate_for_a_stored_contact(api):
    api.post("/scenarios", reference("welcome-series"))
    api.post("/contacts", {"email": "ana@example.com", "first_name": "Ana", "consent": {"email": True},
                           "attributes": {"profile_completed": True}})
    cid = contact_id(api, "ana@example.com")
    result = api.post("/scenarios/welcome-series/simulate", {"contact_id": cid,
                                                            "timeline": [{"type": "signup", "at": "+PT0S"}]}).data
    assert [entry["step"] for entry in result["path"]][-1] == "discover"
    assert result["messages"][0]["subject"] == "Bienvenue Ana !"
    assert sent_steps(api, "ana@example.com") == []


@pytest.mark.slow
@pytest.mark.time_scale(DAY)
def test_throttled_starts_are_retried_from_the_queue_and_nothing_is_lost(api):
    """Step Functions answers ThrottlingException (StartExecution refills at 25-200/s): the
    automation batch goes back to SQS and is retried; every contact enters exactly once."""
    from chalicelib.scenarios import deployer

    publish(api, reference("welcome-series"))
    refusals = {"left": 12}

    def throttle(**kwargs):
        if refusals["left"] > 0:
            refusals["left"] -= 1
            from botocore.awsrequest import AWSResponse

            return AWSResponse("https://states", 400, {}, None), {
                "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                "ResponseMetadata": {"HTTPStatusCode": 400}}
        return None

    client = deployer._sfn()
    client.meta.events.register("before-call.states.StartExecution", throttle)
    try:
        emails = [f"burst{index}@example.com" for index in range(5)]
        response = api.post("/events", {"events": [{"type": "signup", "contact": {"email": email},
                                                    "consent": CONSENT} for email in emails]})
        assert response.data["accepted"] == 5
        for email in emails:
            journey(api, email, "welcome-series", status="completed")
        assert refusals["left"] == 0
        for email in emails:
            assert len(journeys(api, email)) == 1
            assert sent_steps(api, email) == ["complete-profile", "welcome"]
    finally:
        client.meta.events.unregister("before-call.states.StartExecution", throttle)
