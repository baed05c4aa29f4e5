"""What reads each event type (events.readers): the facts the routing record holds, and what
ingestion and automation may skip with them. Plain Python, no AWS."""
from __future__ import annotations

from chalicelib.events.readers import (
    COMPLETE,
    queued,
    reads,
    scenario_facts,
    scoring_facts,
    segment_facts,
    webhook_facts,
)
from examples import scenario


def test_a_scenario_reads_its_trigger_goals_awaited_events_and_exit_events():
    facts = scenario_facts(scenario("abandoned-cart"))
    assert {"trigger:cart_updated", "goal:purchase", "wait:purchase", "event:cart_updated",
            "event:purchase"} <= facts
    assert "event:email.clicked" not in facts  # an `if` reads history when it runs, not events as they come
    exiting = {"id": "x", "trigger": {"event": "signup"}, "exit_when": {"event": "unsubscribed_everywhere"},
               "steps": [{"id": "w", "type": "wait_for", "event": "demo_booked", "timeout": "P1D",
                          "then": [{"id": "in", "type": "wait_for", "event": "call_done", "timeout": "P1D"}]}]}
    assert {"wait:demo_booked", "wait:call_done", "event:unsubscribed_everywhere"} <= scenario_facts(exiting)


def test_a_segment_reads_its_events_fields_lists_and_segments():
    tree = {"all": [{"event": "purchase", "within": "P30D"}, {"field": "attributes.plan", "op": "eq", "value": "pro"},
                    {"in_list": "vip"}, {"in_segment": "fans"}]}
    facts = segment_facts(tree, ["event:purchase", "field:attributes.plan"])
    assert {"segment-dep:event:purchase", "segment-dep:field:attributes.plan", "event:purchase",
            "field:attributes.plan", "event:list.joined", "event:list.left", "event:segment.entered"} <= facts


def test_scoring_reads_its_rule_types_and_a_criteria_rule_reads_everything():
    assert {"score:page_view", "event:page_view"} <= scoring_facts(None)  # the default rules
    assert "score:page_view" not in scoring_facts({"rules": [{"event": "demo", "points": 5}]})
    profile = scoring_facts({"rules": [{"criteria": {"field": "attributes.plan", "op": "eq", "value": "pro"},
                                        "points": 5}]})
    assert reads(frozenset(profile | {COMPLETE}), "score", "anything")
    assert queued(frozenset(profile | {COMPLETE}), "anything")


def test_an_event_nothing_reads_is_not_queued_and_its_look_ups_are_skipped():
    facts = frozenset({COMPLETE, "trigger:signup", "event:signup", "segment-dep:event:signup"})
    assert queued(facts, "signup")
    assert not queued(facts, "video_played")
    assert queued(facts, "contact.created") and queued(facts, "email.bounced")  # read by every account
    assert reads(facts, "trigger", "signup") and not reads(facts, "goal", "signup")
    assert not reads(facts, "segment-dep", "field:last_activity_at")


def test_a_segment_on_last_activity_at_reads_every_event_a_contact_does():
    facts = frozenset({COMPLETE, "field:last_activity_at"})
    assert queued(facts, "video_played")
    assert not queued(facts, "journey.entered")  # system events do not move it


def test_webhook_patterns_take_what_they_subscribe_to():
    facts = frozenset(webhook_facts(["email.*"]) | {COMPLETE})
    assert queued(facts, "email.opened") and not queued(facts, "page_view")
    assert queued(frozenset(webhook_facts(["*"]) | {COMPLETE}), "page_view")


def test_until_the_record_is_complete_nothing_is_skipped():
    assert queued(frozenset(), "video_played")
    assert reads(frozenset({"trigger:signup"}), "goal", "purchase")
