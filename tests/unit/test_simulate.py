"""The dry-run simulator: reference scenarios walked for one contact and a timeline, no AWS."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest

from chalicelib.scenarios.simulate import Installation, InvalidTimeline, simulate, validate_timeline
from examples import SCENARIO_DIR

SCENARIOS = SCENARIO_DIR
START = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)  # a Monday, 11:00 in Paris


def reference(name: str) -> dict:
    return json.loads((SCENARIOS / f"{name}.json").read_text())


def contact(**fields) -> dict:
    base = {"id": "c-1", "email": "ana@example.com", "phone": None, "first_name": "Ana",
            "attributes": {}, "consent": {"email": {"granted": True, "at": "2026-01-01T00:00:00Z",
                                                    "source": "form"}},
            "email_status": "valid", "score": 0, "lists": [], "timezone": "Europe/Paris"}
    base.update(fields)
    return base


def run(definition: dict, timeline: list[dict], who: dict | None = None, **options) -> dict:
    return simulate(definition, who or contact(), timeline, start=START, **options)


def steps(result: dict) -> list[tuple[str, str]]:
    return [(entry["step"], entry["result"]) for entry in result["path"]]


def sent(result: dict) -> list[str]:
    return [message["step"] for message in result["messages"]]


def scenario(steps: list[dict], **fields) -> dict:
    return {"id": "custom", "name": "Custom", "trigger": {"event": "signup"}, "steps": steps, **fields}


SIGNUP = {"type": "signup", "at": "+PT0S"}
CART = {"type": "cart_updated", "properties": {"items": 2}, "at": "+PT0S"}


# -- abandoned cart --------------------------------------------------------------------------


def test_abandoned_cart_bought_within_the_hour_converts_without_email():
    result = run(reference("abandoned-cart"), [CART, {"type": "purchase", "at": "+PT30M"}])
    assert result["status"] == "converted"
    assert result["messages"] == []
    assert result["ended_at"] == "2026-03-02T10:30:00.000Z"
    assert steps(result) == [("wait-purchase", "converted")]  # the goal beats the wait_for's then


def test_abandoned_cart_not_bought_and_clicked_shipping_gets_free_shipping():
    click = {"type": "email.clicked", "at": "+PT5H",
             "properties": {"step": "why", "url": "https://shop.example.com/why?r=shipping-cost"}}
    result = run(reference("abandoned-cart"), [CART, click])
    assert result["status"] == "completed"
    assert steps(result) == [("wait-purchase", "timeout"), ("why", "sent"), ("wait-answer", "waited"),
                             ("shipping-answer", "then"), ("free-shipping", "sent")]
    why, free = result["messages"]
    assert why["at"] == "2026-03-02T11:00:00.000Z" and free["at"] == "2026-03-04T11:00:00.000Z"
    assert why["to"] == "ana@example.com" and why["subject"] == "Un souci avec votre panier ?"
    assert "r=shipping-cost" in why["html"] and "(unsubscribe link)" in why["html"]
    assert "Les frais de port (https://shop.example.com/why?r=shipping-cost)" in why["text"]
    assert result["ended_at"] == "2026-03-04T11:00:00.000Z"


def test_abandoned_cart_not_bought_and_no_click_gets_similar_products():
    other_click = {"type": "email.clicked", "at": "+PT5H",
                   "properties": {"step": "why", "url": "https://shop.example.com/why?r=changed-mind"}}
    result = run(reference("abandoned-cart"), [CART, other_click])
    assert sent(result) == ["why", "similar"]
    assert ("shipping-answer", "else") in steps(result)


def test_abandoned_cart_trigger_filter_and_a_late_purchase():
    empty_cart = {"type": "cart_updated", "properties": {"items": 0}, "at": "+PT0S"}
    late = {"type": "purchase", "at": "+P1D"}
    result = run(reference("abandoned-cart"), [empty_cart, {**CART, "at": "+PT10M"}, late])
    assert result["entered_at"] == "2026-03-02T10:10:00.000Z"  # the empty cart does not trigger
    assert steps(result)[:3] == [("wait-purchase", "timeout"), ("why", "sent"), ("wait-answer", "converted")]
    assert result["status"] == "converted" and result["ended_at"] == "2026-03-03T10:00:00.000Z"
    assert any("converted: goal purchase" in note for note in result["notes"])


# -- welcome series --------------------------------------------------------------------------


def test_welcome_series_profile_completed():
    who = contact(attributes={"profile_completed": True})
    result = run(reference("welcome-series"), [SIGNUP], who)
    assert sent(result) == ["welcome", "discover"]
    welcome = result["messages"][0]
    assert welcome["subject"] == "Bienvenue Ana !"
    assert welcome["text"].startswith("Bonjour Ana, merci de votre inscription.")
    assert "Bonjour Ana," in welcome["html"]
    assert result["messages"][1]["at"] == "2026-03-09T10:00:00.000Z"


def test_welcome_series_profile_not_completed():
    result = run(reference("welcome-series"), [SIGNUP])
    assert sent(result) == ["welcome", "complete-profile"]
    assert ("profile-done", "else") in steps(result)


def test_welcome_series_escapes_html_only():
    result = run(reference("welcome-series"), [SIGNUP], contact(first_name="<b>Ana</b>"))
    welcome = result["messages"][0]
    assert welcome["subject"] == "Bienvenue <b>Ana</b> !"
    assert "&lt;b&gt;Ana&lt;/b&gt;" in welcome["html"]
    assert welcome["text"].startswith("Bonjour <b>Ana</b>,")


def test_no_matching_trigger_starts_at_start_with_a_note():
    result = run(reference("welcome-series"), [{"type": "page_view", "at": "+PT1H"}])
    assert result["entered_at"] == "2026-03-02T10:00:00.000Z"
    assert sent(result) == ["welcome", "complete-profile"]
    assert any("no signup event" in note for note in result["notes"])


# -- lead magnet -----------------------------------------------------------------------------


def test_lead_magnet_meeting_booked_after_day_four():
    download = {"type": "download", "properties": {"resource": "marketing-plan"}, "at": "+PT0S"}
    result = run(reference("lead-magnet"), [download, {"type": "meeting_booked", "at": "+P4D"}])
    assert result["status"] == "converted"
    assert sent(result) == ["template", "method"]
    assert result["ended_at"] == "2026-03-06T10:00:00.000Z"
    assert steps(result)[-1] == ("d6", "converted")


def test_lead_magnet_without_meeting_sends_all_three():
    download = {"type": "download", "properties": {"resource": "marketing-plan"}, "at": "+PT0S"}
    result = run(reference("lead-magnet"), [download])
    assert result["status"] == "completed"
    assert [m["at"][:10] for m in result["messages"]] == ["2026-03-02", "2026-03-05", "2026-03-08"]


# -- loyal customers -------------------------------------------------------------------------


def test_loyal_customers_first_purchase_gets_the_coupon():
    result = run(reference("loyal-customers"), [{"type": "purchase", "at": "+PT0S"}])
    assert steps(result) == [("first-purchase", "then"), ("coupon", "sent")]
    assert result["contact"]["lists"] == []


def test_loyal_customers_second_purchase_joins_the_list():
    history = {"type": "purchase", "at": "-P30D"}  # before the start: history, not the trigger
    result = run(reference("loyal-customers"), [history, {"type": "purchase", "at": "+PT0S"}], contact(score=5))
    assert steps(result) == [("first-purchase", "else"), ("join-loyal", "joined"), ("loyal-points", "+10")]
    assert result["messages"] == []
    assert result["contact"]["lists"] == ["loyal-customers"] and result["contact"]["score"] == 15


def test_loyal_customers_already_a_member():
    timeline = [{"type": "purchase", "at": "-P30D"}, {"type": "purchase", "at": "+PT0S"}]
    result = run(reference("loyal-customers"), timeline, contact(lists=["loyal-customers"]))
    assert ("join-loyal", "member") in steps(result)


# -- zero waste ------------------------------------------------------------------------------

ENTERED = {"type": "segment.entered", "properties": {"segment": "inactive-6-months"}, "at": "+PT0S"}


def test_zero_waste_click_keeps_the_contact():
    result = run(reference("zero-waste"), [ENTERED, {"type": "email.clicked", "at": "+P3D"}])
    assert steps(result) == [("last-chance", "sent"), ("react", "then"), ("kept", "exit")]
    assert result["status"] == "exited" and result["ended_at"] == "2026-03-05T10:00:00.000Z"


def test_zero_waste_no_click_deletes_the_contact():
    late_click = {"type": "email.clicked", "at": "+P20D"}
    result = run(reference("zero-waste"), [ENTERED, late_click])
    assert steps(result) == [("last-chance", "sent"), ("react", "timeout"), ("delete", "deleted")]
    assert result["status"] == "completed" and result["ended_at"] == "2026-03-17T10:00:00.000Z"
    assert any("erased" in note for note in result["notes"])


# -- birthday --------------------------------------------------------------------------------


def test_birthday_enters_at_nine_local_time_and_renders_the_first_name():
    result = run(reference("birthday"), [], contact(birthday="1990-03-05"))
    assert result["entered_at"] == "2026-03-05T08:00:00.000Z"  # 09:00 in Paris (UTC+1)
    (message,) = result["messages"]
    assert message["subject"] == "Joyeux anniversaire Ana !"
    assert message["at"] == "2026-03-05T08:00:00.000Z"
    assert result["notes"] == ["date trigger: enters on birthday at 2026-03-05T08:00:00.000Z"]


def test_birthday_without_a_birthday_is_noted():
    result = run(reference("birthday"), [])
    assert result["entered_at"] == "2026-03-02T10:00:00.000Z"
    assert any("no usable birthday" in note for note in result["notes"])


# -- the send gate, templates, channels ------------------------------------------------------


def test_consent_missing_skips_the_email():
    result = run(reference("welcome-series"), [SIGNUP], contact(consent={}))
    assert steps(result)[0] == ("welcome", "skipped:no_consent")
    assert result["messages"] == []
    assert result["status"] == "completed"


def test_unsubscribed_and_no_address_and_hard_bounce():
    definition = reference("welcome-series")
    refused = contact(consent={"email": {"granted": False}})
    assert steps(run(definition, [SIGNUP], refused))[0] == ("welcome", "skipped:unsubscribed")
    assert steps(run(definition, [SIGNUP], contact(email=None)))[0] == ("welcome", "skipped:no_address")
    bounced = contact(email_status="hard_bounce")
    assert steps(run(definition, [SIGNUP], bounced))[0] == ("welcome", "skipped:suppressed")


def test_transactional_email_needs_no_consent_and_has_no_unsubscribe_footer():
    definition = scenario([{"id": "receipt", "type": "email", "subject": "Reçu", "html": "<p>Merci</p>",
                            "transactional": True}])
    result = run(definition, [SIGNUP], contact(consent={}))
    (message,) = result["messages"]
    assert message["html"] == "<p>Merci</p>" and message["text"] == "Merci"


def test_template_lookup_missing_template_and_template_error_fail_the_journey_as_the_step_does():
    library = {
        "hello": {"subject": "Hi {{ contact.first_name }}", "html": "<p>Order {{ event.order }}</p>", "text": None},
        "broken": {"subject": "Oops {{ contact.first_name", "html": "<p>x</p>", "text": None},
    }
    signup = [{"type": "signup", "properties": {"order": "o-9"}, "at": "+PT0S"}]
    steps_ = [
        {"id": "one", "type": "email", "template": "hello"},
        {"id": "four", "type": "email", "subject": "Scenario {{ scenario.name }}", "text": "a\nb"},
    ]
    result = run(scenario(steps_), signup, installation=Installation(template=library.get))
    assert steps(result) == [("one", "sent"), ("four", "sent")]
    one, four = result["messages"]
    assert one["subject"] == "Hi Ana" and "Order o-9" in one["html"] and one["text"].startswith("Order o-9")
    assert four["subject"] == "Scenario Custom" and four["html"].startswith("<p>a<br>b</p>")

    missing = run(scenario([steps_[0], {"id": "two", "type": "email", "template": "gone"}, steps_[1]]), signup,
                  installation=Installation(template=library.get))
    assert missing["status"] == "failed"
    assert steps(missing) == [("one", "sent"), ("two", "failed:template 'gone' does not exist")]
    broken = run(scenario([{"id": "three", "type": "email", "template": "broken"}, steps_[1]]), signup,
                 installation=Installation(template=library.get))
    assert broken["status"] == "failed" and steps(broken)[0][1].startswith("failed:")
    assert broken["messages"] == []


def test_sms_is_rendered_without_escaping():
    definition = scenario([{"id": "txt", "type": "sms", "text": "Salut {{ contact.first_name }} & co"}])
    who = contact(phone="+33612345678", consent={"sms": {"granted": True}})
    result = run(definition, [SIGNUP], who)
    assert result["messages"] == [{"step": "txt", "channel": "sms", "at": "2026-03-02T10:00:00.000Z",
                                   "to": "+33612345678", "text": "Salut Ana & co"}]
    assert steps(run(definition, [SIGNUP]))[0] == ("txt", "skipped:no_address")


def test_quiet_hours_hold_a_send_until_morning():
    definition = scenario([{"id": "w", "type": "wait", "duration": "PT12H"},
                           {"id": "mail", "type": "email", "subject": "S", "text": "T"}],
                          settings={"quiet_hours": {"from": "21:00", "to": "08:00"}})
    result = run(definition, [SIGNUP])  # 22:00 UTC is 23:00 in Paris: held until 08:00 Paris
    assert result["messages"][0]["at"] == "2026-03-03T07:00:00.000Z"


# -- exit_when, split, update_contact, waits --------------------------------------------------


def test_exit_when_checked_before_each_action_against_the_updated_contact():
    definition = scenario([
        {"id": "first", "type": "email", "subject": "S", "text": "T"},
        {"id": "upgrade", "type": "update_contact", "set": {"attributes.plan": "pro"}},
        {"id": "second", "type": "email", "subject": "S", "text": "T"},
    ], exit_when={"field": "attributes.plan", "op": "eq", "value": "pro"})
    result = run(definition, [SIGNUP])
    assert steps(result) == [("first", "sent"), ("upgrade", "updated"), ("second", "exit_when")]
    assert result["status"] == "exited" and sent(result) == ["first"]


def test_exit_when_on_an_event_of_the_timeline():
    definition = scenario([
        {"id": "w", "type": "wait", "duration": "P1D"},
        {"id": "mail", "type": "email", "subject": "S", "text": "T"},
    ], exit_when={"event": "email.unsubscribed"})
    result = run(definition, [SIGNUP, {"type": "email.unsubscribed", "at": "+PT2H"}])
    assert steps(result)[-1] == ("mail", "exit_when") and result["status"] == "exited"
    assert run(definition, [SIGNUP, {"type": "email.unsubscribed", "at": "+P2D"}])["status"] == "completed"


def test_split_follows_the_bucket_over_cumulative_weights():
    definition = scenario([{"id": "ab", "type": "split", "branches": [
        {"weight": 30, "steps": [{"id": "a", "type": "score", "points": 1}]},
        {"weight": 50, "steps": [{"id": "b", "type": "score", "points": 2}]},
        {"weight": 20, "steps": [{"id": "c", "type": "score", "points": 3}]},
    ]}, {"id": "after", "type": "add_to_list", "list": "tested"}])
    assert steps(run(definition, [SIGNUP], bucket=0)) == [("ab", "branch:0"), ("a", "+1"), ("after", "joined")]
    assert steps(run(definition, [SIGNUP], bucket=29))[1] == ("a", "+1")
    assert steps(run(definition, [SIGNUP], bucket=30))[1] == ("b", "+2")
    assert steps(run(definition, [SIGNUP], bucket=79))[1] == ("b", "+2")
    assert steps(run(definition, [SIGNUP], bucket=80))[1] == ("c", "+3")
    first, second = run(definition, [SIGNUP]), run(definition, [SIGNUP])
    assert steps(first) == steps(second)  # derived from the contact, deterministically
    assert any("A/B bucket" in note for note in first["notes"])
    with pytest.raises(ValueError):
        run(definition, [SIGNUP], bucket=100)


def test_update_contact_affects_a_later_condition_and_the_caller_contact_is_untouched():
    definition = scenario([
        {"id": "set", "type": "update_contact", "set": {"attributes.vip": True, "first_name": "Anna"}},
        {"id": "check", "type": "if", "condition": {"field": "attributes.vip", "op": "eq", "value": True},
         "then": [{"id": "vip-mail", "type": "email", "subject": "Hi {{ contact.first_name }}", "text": "VIP"}],
         "else": [{"id": "plain-mail", "type": "email", "subject": "Hi", "text": "plain"}]},
        {"id": "again", "type": "update_contact", "set": {"attributes.vip": True}},
        {"id": "bad", "type": "update_contact", "set": {"stage": "MQL"}},
    ])
    who = contact()
    before = copy.deepcopy(who)
    result = run(definition, [SIGNUP], who)
    assert steps(result)[:4] == [("set", "updated"), ("check", "then"), ("vip-mail", "sent"), ("again", "unchanged")]
    assert steps(result)[4][1].startswith("invalid:")  # as the step runner answers
    assert result["messages"][0]["subject"] == "Hi Anna"
    assert who == before


def test_list_membership_counts_for_later_conditions_and_events():
    definition = scenario([
        {"id": "join", "type": "add_to_list", "list": "news"},
        {"id": "in", "type": "if", "condition": {"all": [{"in_list": "news"}, {"event": "list.joined"}]},
         "then": [{"id": "leave", "type": "remove_from_list", "list": "news"}]},
        {"id": "leave-again", "type": "remove_from_list", "list": "news"},
    ])
    result = run(definition, [SIGNUP])
    assert steps(result) == [("join", "joined"), ("in", "then"), ("leave", "left"), ("leave-again", "absent")]


def test_event_conditions_see_only_events_up_to_the_simulated_moment():
    definition = scenario([
        {"id": "w", "type": "wait", "duration": "P1D"},
        {"id": "viewed", "type": "if", "condition": {"event": "page_view", "within": "PT12H"},
         "then": [{"id": "yes", "type": "exit"}], "else": [{"id": "no", "type": "exit"}]},
    ])
    assert steps(run(definition, [SIGNUP, {"type": "page_view", "at": "+PT20H"}]))[-1] == ("yes", "exit")
    assert steps(run(definition, [SIGNUP, {"type": "page_view", "at": "+PT2H"}]))[-1] == ("no", "exit")
    assert steps(run(definition, [SIGNUP, {"type": "page_view", "at": "+PT25H"}]))[-1] == ("no", "exit")


def test_wait_for_takes_the_first_matching_event_after_the_wait_began():
    definition = scenario([
        {"id": "w", "type": "wait", "duration": "PT1H"},
        {"id": "buy", "type": "wait_for", "event": "purchase", "timeout": "P1D",
         "where": {"field": "properties.amount", "op": "gte", "value": 50},
         "then": [{"id": "thanks", "type": "score", "points": 5}]},
        {"id": "end", "type": "score", "points": 1},
    ])
    timeline = [SIGNUP, {"type": "purchase", "properties": {"amount": 80}, "at": "+PT30M"},
                {"type": "purchase", "properties": {"amount": 10}, "at": "+PT2H"},
                {"type": "purchase", "properties": {"amount": 60}, "at": "+PT3H"}]
    result = run(definition, timeline)
    assert steps(result) == [("w", "waited"), ("buy", "then"), ("thanks", "+5"), ("end", "+1")]
    assert result["path"][1]["until"] == "2026-03-02T13:00:00.000Z"
    timed_out = run(definition, timeline[:3])
    assert steps(timed_out) == [("w", "waited"), ("buy", "timeout"), ("end", "+1")]
    assert timed_out["ended_at"] == "2026-03-03T11:00:00.000Z"


def test_wait_until_a_time_and_a_date_field_in_the_contact_zone():
    definition = scenario([
        {"id": "nine", "type": "wait", "until": {"time": "09:00"}},
        {"id": "trial", "type": "wait", "until": {"date_field": "attributes.trial_ends_at", "offset": "-P2D"}},
    ])
    who = contact(timezone="America/New_York", attributes={"trial_ends_at": "2026-03-20"})
    result = run(definition, [SIGNUP], who)
    assert [entry["until"] for entry in result["path"]] == [
        "2026-03-02T14:00:00.000Z",  # 09:00 in New York (UTC-5)
        "2026-03-18T04:00:00.000Z",  # midnight in New York (UTC-4 after the DST change), two days early
    ]
    no_date = run(definition, [SIGNUP], contact())
    assert no_date["path"][1]["until"] == no_date["path"][1]["at"]
    assert any("no usable attributes.trial_ends_at" in note for note in no_date["notes"])


def test_absolute_timeline_dates():
    result = simulate(reference("welcome-series"), contact(),
                      [{"type": "signup", "at": "2026-05-01T08:30:00Z"}], start=START)
    assert result["entered_at"] == "2026-05-01T08:30:00.000Z"
    assert result["messages"][1]["at"] == "2026-05-08T08:30:00.000Z"


# -- timeline validation -----------------------------------------------------------------------


def test_validate_timeline_reports_every_problem_with_its_path():
    problems = validate_timeline([
        {"type": "signup", "at": "+PT0S"},
        {"type": "purchase", "properties": {"amount": 5}, "at": "2026-11-22T10:00:00Z"},
        {"type": "bad type!", "at": "+P1D"},
        {"at": "soon", "properties": [1], "extra": 1},
        "not an event",
        {"type": "purchase"},
        {"type": "purchase", "at": "++P1D"},
        {"type": "purchase", "at": 5},
    ])
    assert [problem.path for problem in problems] == [
        "timeline[2].type", "timeline[3].extra", "timeline[3].type", "timeline[3].properties", "timeline[3].at",
        "timeline[4]", "timeline[5].at", "timeline[6].at", "timeline[7].at"]
    assert validate_timeline([]) == []
    assert [p.path for p in validate_timeline({"type": "signup"})] == ["timeline"]
    assert [p.path for p in validate_timeline([SIGNUP] * 1001)] == ["timeline"]


def test_simulate_refuses_an_invalid_timeline():
    with pytest.raises(InvalidTimeline) as caught:
        run(reference("welcome-series"), [{"type": "signup", "at": "tomorrow"}])
    assert caught.value.problems[0].path == "timeline[0].at"


@pytest.mark.parametrize("name", sorted(path.stem for path in SCENARIOS.glob("*.json")))
def test_every_reference_scenario_simulates_with_an_empty_timeline(name):
    result = run(reference(name), [])
    assert result["status"] in ("completed", "exited", "converted")
    assert result["path"]


def test_a_condition_that_cannot_be_evaluated_fails_the_journey_instead_of_raising():
    definition = scenario([{"id": "odd", "type": "if", "condition": {"bogus": 1},
                            "then": [{"id": "x", "type": "exit"}]}])
    result = run(definition, [SIGNUP])
    assert result["status"] == "failed" and steps(result)[0][1].startswith("failed:")


def test_inline_contact_with_loose_shapes():
    who = {"email": "bo@example.com", "consent": {"email": True}, "score": "n/a", "lists": None}
    definition = scenario([{"id": "mail", "type": "email", "subject": "S", "text": "T"},
                           {"id": "pts", "type": "score", "points": 3}])
    result = run(definition, [SIGNUP], who)
    assert steps(result) == [("mail", "sent"), ("pts", "+3")] and result["contact"]["score"] == 3


def test_score_points_decay_with_the_half_life_and_move_the_stage_as_stored_points_do():
    definition = scenario([
        {"id": "first", "type": "score", "points": 20},
        {"id": "later", "type": "wait", "duration": "P30D"},
        {"id": "second", "type": "score", "points": 10},
    ])
    scoring = {"rules": [], "half_life": "P30D", "stages": {"lead": 1, "MQL": 25, "SQL": 60}}
    result = run(definition, [SIGNUP], contact(score=10, stage="lead"), installation=Installation(scoring=scoring))
    assert steps(result) == [("first", "+20"), ("later", "waited"), ("second", "+10")]
    assert result["contact"]["score"] == 25.0  # (10 + 20) halved by 30 days, plus 10
    assert result["contact"]["stage"] == "MQL"


def test_the_bucket_is_the_one_the_stack_gives_this_contact_for_this_entry():
    from chalicelib.scenarios import semantics

    definition = scenario([{"id": "ab", "type": "split", "branches": [
        {"weight": 50, "steps": [{"id": "a", "type": "exit"}]},
        {"weight": 50, "steps": [{"id": "b", "type": "exit"}]}]}], entry={"reentry": "always"})
    for number in range(20):
        who = contact(id=f"c-{number}")
        result = run(definition, [{**SIGNUP, "id": f"evt-{number}"}], who)
        name = semantics.execution_name(f"c-{number}", "custom", f"custom#c:evt-{number}")  # as stored
        expected = semantics.branch_of(definition["steps"][0], semantics.bucket_of(name))
        assert steps(result)[0] == ("ab", f"branch:{expected}")
