"""What a scenario holds is checked like the rest of the API: inline content through the template
sandbox at save, and what it names (templates, lists, segments) must exist when it is published."""
from __future__ import annotations

import pytest

from tests.helpers import error_paths, scenario

MAIL = {"subject": "Hello", "html": "<p>Hello</p>"}
SANDBOX_ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ contact.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ x | attr('__class__') }}",
    "{% include 'secrets.html' %}",
    "{% import 'macros' as m %}",
    "{{ contact.first_name | shout }}",
    "{% if contact is shouting %}x{% endif %}",
    "{{ 'a' * 100000000 }}",
    "{% for x in contact %}",
]


def _nested(**content) -> dict:
    return scenario("checked", "signup", [
        {"id": "wait", "type": "wait", "duration": "PT1H"},
        {"id": "vip", "type": "if", "condition": {"field": "attributes.plan", "op": "eq", "value": "vip"},
         "then": [{"id": "mail", "type": "email", **content}],
         "else": [{"id": "ab", "type": "split", "branches": [
             {"weight": 50, "steps": [{"id": "sms-a", "type": "sms", "text": "Hi A"}]},
             {"weight": 50, "steps": [{"id": "sms-b", "type": "sms", "text": content.get("html", "Hi B")}]}]}]},
    ])


@pytest.mark.parametrize("payload", SANDBOX_ESCAPES)
def test_inline_content_goes_through_the_template_sandbox_at_save(api, payload):
    definition = _nested(subject="Hello", html=payload)
    checked = api.post("/scenarios/validate", definition)
    assert checked.status_code == 200 and checked.data["valid"] is False and checked.data["publishable"] is False
    paths = [problem["path"] for problem in checked.data["problems"]]
    assert paths == ["steps[1].then[0].html", "steps[1].else[0].branches[1].steps[0].text"]
    assert all(problem["message"].startswith("line 1:") for problem in checked.data["problems"])
    created = api.post("/scenarios", definition)
    assert created.status_code == 422 and created.data["error"]["code"] == "invalid"
    assert error_paths(created) == paths
    assert api.get("/scenarios/checked").status_code == 404


def test_a_new_version_with_a_bad_subject_is_refused(api):
    assert api.post("/scenarios", _nested(**MAIL)).status_code == 201
    refused = api.put("/scenarios/checked", _nested(subject="{{ contact.name | upper(", html="<p>Hi</p>"))
    assert refused.status_code == 422 and error_paths(refused) == ["steps[1].then[0].subject"]
    assert api.get("/scenarios/checked").data["latest_version"] == 1


def test_what_a_scenario_names_must_exist_to_publish_not_to_save(api):
    definition = scenario("refs", "signup", [
        {"id": "welcome", "type": "email", "template": "welcome"},
        {"id": "vip", "type": "if", "condition": {"any": [{"in_list": "vips"}, {"in_segment": "big-spenders"}]},
         "then": [{"id": "join", "type": "add_to_list", "list": "newsletter"},
                  {"id": "text", "type": "sms", "template": "welcome"}],
         "else": [{"id": "leave", "type": "remove_from_list", "list": "newsletter"}]},
        {"id": "active", "type": "if", "condition": {"in_segment": "active"}, "then": [{"id": "done", "type": "exit"}]},
    ], exit_when={"not": {"in_list": "subscribers"}})
    checked = api.post("/scenarios/validate", definition).data
    assert checked["valid"] is True and checked["publishable"] is False
    missing = ["exit_when.not.in_list", "steps[0].template", "steps[1].condition.any[0].in_list",
               "steps[1].condition.any[1].in_segment", "steps[1].then[0].list", "steps[1].then[1].template",
               "steps[1].else[0].list"]
    assert [problem["path"] for problem in checked["missing"]] == missing  # "active" is built in
    assert api.post("/scenarios", definition).status_code == 201  # a draft may name what comes later

    refused = api.post("/scenarios/refs/publish")
    assert refused.status_code == 422 and error_paths(refused) == missing
    assert "no template 'welcome'" in refused.data["error"]["details"][1]["message"]
    assert api.get("/scenarios/refs").data["status"] == "draft"

    assert api.post("/templates", {"id": "welcome", "channel": "email", **MAIL}).status_code == 201
    for list_id in ("vips", "newsletter", "subscribers"):
        assert api.post("/lists", {"id": list_id, "name": list_id}).status_code == 201
    assert api.post("/segments", {"id": "big-spenders", "name": "Big spenders",
                                  "criteria": {"field": "score", "op": "gte", "value": 100}}).status_code == 201
    wrong_channel = api.post("/scenarios/refs/publish")
    assert error_paths(wrong_channel) == ["steps[1].then[1].template"]  # an email template sent as an SMS
    assert "email template" in wrong_channel.data["error"]["details"][0]["message"]

    fixed = {**definition, "steps": [*definition["steps"]]}
    fixed["steps"][1] = {**definition["steps"][1], "then": [definition["steps"][1]["then"][0]]}
    assert api.put("/scenarios/refs", fixed).status_code == 200
    assert api.post("/scenarios/validate", fixed).data["publishable"] is True
    published = api.post("/scenarios/refs/publish")
    assert published.status_code == 200 and published.data["status"] == "live"


def test_a_scenario_saved_before_the_sandbox_check_is_refused_at_publish(api):
    from chalicelib import clock
    from chalicelib.store.models import Scenario

    # as stored by an earlier version of the validator: the "unknown filter" scenario
    assert api.post("/scenarios", _nested(**MAIL)).status_code == 201
    old = _nested(subject="Hello", html="<p>{{ contact.first_name | shout }}</p>")
    Scenario("checked", 2, definition=old, created_at=clock.iso(clock.now())).save()
    Scenario.get("checked", Scenario.HEAD).update(actions=[Scenario.latest_version.set(2)])
    refused = api.post("/scenarios/checked/publish")
    assert refused.status_code == 422
    assert error_paths(refused) == ["steps[1].then[0].html", "steps[1].else[0].branches[1].steps[0].text"]
    assert "unknown filter 'shout'" in refused.data["error"]["details"][0]["message"]
    assert api.get("/scenarios/checked").data["status"] == "draft"


def test_a_stored_template_the_sandbox_now_refuses_blocks_publishing(api):
    from chalicelib import clock
    from chalicelib.store.models import Template

    now = clock.iso(clock.now())
    Template("legacy", channel="email", subject="Hi", html="<p>{{ ''.__class__ }}</p>", created_at=now,
             updated_at=now).save()
    api.post("/scenarios", scenario("uses-legacy", "signup", [{"id": "mail", "type": "email", "template": "legacy"}]))
    refused = api.post("/scenarios/uses-legacy/publish")
    assert refused.status_code == 422 and error_paths(refused) == ["steps[0].template"]
    assert "template 'legacy', html: line 1" in refused.data["error"]["details"][0]["message"]
