"""The compiled criteria engine answers as a plain reading of the tree does (hypothesis).

The plain reading below walks the tree node by node at every evaluation, with the field
operators of criteria.operators.apply: it is how DESIGN.md section 5 reads, and what the engine
did before compiling criteria into closures.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from chalicelib import durations
from chalicelib.criteria import ContactSubject, anchor, compile_criteria, matches
from chalicelib.criteria.operators import apply
from chalicelib.criteria.subjects import PropertiesSubject
from chalicelib.criteria.values import to_moment

NOW = datetime(2026, 8, 31, 12, 0, tzinfo=timezone.utc)


def plain(node: Any, subject: Any, now: datetime) -> bool:
    if not isinstance(node, Mapping):
        raise ValueError("criteria must be an object")
    if not node:
        return True
    if "all" in node:
        return all(plain(child, subject, now) for child in node["all"])
    if "any" in node:
        return any(plain(child, subject, now) for child in node["any"])
    if "not" in node:
        return not plain(node["not"], subject, now)
    if "field" in node:
        return apply(node.get("op", ""), node["field"], subject.field(node["field"]), node.get("value"), now)
    if "event" in node:
        since = durations.shift(now, "-" + node["within"].strip()) if node.get("within") else None
        bounds = node.get("count") or {"gte": 1}
        seen = 0
        for event in subject.events(node["event"], since):
            if event.get("type", node["event"]) != node["event"]:
                continue
            moment = to_moment(event.get("timestamp"))
            if since is not None and moment is not None and moment < since:
                continue
            if node.get("where") and not plain(node["where"], PropertiesSubject(event.get("properties") or {}), now):
                continue
            seen += 1
        return all({"gte": seen >= limit, "gt": seen > limit, "lte": seen <= limit, "lt": seen < limit,
                    "eq": seen == limit}[name] for name, limit in bounds.items())
    if "in_list" in node:
        return subject.in_list(node["in_list"])
    if "in_segment" in node:
        return subject.in_segment(node["in_segment"])
    raise ValueError("not a criteria node")


FIELDS = ["email", "score", "stage", "created_at", "consent.email", "attributes.plan", "attributes.tags",
          "attributes.n", "attributes.when", "attributes.flag"]
OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "not_contains", "starts_with",
       "not_starts_with", "ends_with", "not_ends_with", "exists", "not_exists", "before", "after"]
TEXT = st.sampled_from(["pro", "Pro", "", "1", "2.0", "ana@example.com", "ANA@EXAMPLE.COM",
                        "2026-01-15", "2026-08-30T10:00:00Z", "2027-01-01T00:00:00+02:00"])
# Few distinct values, so a contact's value and a criterion's often meet (equal, or one apart).
NUMBER = st.one_of(st.integers(0, 2), st.sampled_from([Decimal("1"), Decimal("2.0"), Decimal("NaN"), 1.0, 0.1,
                                                      float("inf"), 42]))
MOMENT = st.one_of(st.sampled_from(["-P30D", "P1D", "-P6M", "-PT1H", "-P1Y2M", "PXD", "-P"]),
                   st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1),
                                timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-5))])),
                   st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 1, 1)))
SCALAR = st.one_of(st.none(), st.booleans(), TEXT, NUMBER, MOMENT)
VALUE = st.one_of(SCALAR, st.lists(st.one_of(TEXT, NUMBER, st.booleans()), max_size=4))

FIELD = st.builds(lambda field, op, value: {"field": field, "op": op, "value": value},
                  st.sampled_from(FIELDS), st.sampled_from(OPS), VALUE)
PROPERTY = st.builds(lambda name, op, value: {"field": f"properties.{name}", "op": op, "value": value},
                     st.sampled_from(["amount", "url", "step"]), st.sampled_from(OPS), VALUE)
COUNT = st.one_of(st.none(), st.dictionaries(st.sampled_from(["gte", "gt", "lte", "lt", "eq"]),
                                             st.integers(0, 3), min_size=1, max_size=2))
EVENT = st.builds(lambda kind, within, where, count: {k: v for k, v in {
    "event": kind, "within": within, "where": where, "count": count}.items() if v is not None},
    st.sampled_from(["page_view", "purchase", "email.opened"]),
    st.one_of(st.none(), st.sampled_from(["P30D", "P6M", "PT12H", "P1Y"])),
    st.one_of(st.none(), PROPERTY), COUNT)
LEAF = st.one_of(FIELD, EVENT, st.builds(lambda name: {"in_list": name}, st.sampled_from(["a", "b"])),
                 st.builds(lambda name: {"in_segment": name}, st.sampled_from(["s", "t"])), st.just({}))
CRITERIA = st.recursive(LEAF, lambda inner: st.one_of(
    st.builds(lambda children: {"all": children}, st.lists(inner, max_size=3)),
    st.builds(lambda children: {"any": children}, st.lists(inner, max_size=3)),
    st.builds(lambda child: {"not": child}, inner)), max_leaves=6)

EVENTS = st.lists(st.builds(lambda kind, days, amount, url: {
    "type": kind, "timestamp": NOW - timedelta(hours=days), "properties": {"amount": amount, "url": url}},
    st.sampled_from(["page_view", "purchase", "email.opened"]), st.integers(-24, 24 * 400), VALUE, TEXT), max_size=5)
CONTACT = st.fixed_dictionaries({}, optional={
    "email": TEXT, "score": st.one_of(NUMBER, TEXT), "stage": TEXT, "created_at": st.one_of(MOMENT, TEXT),
    "consent": st.fixed_dictionaries({}, optional={"email": st.one_of(
        st.booleans(), st.fixed_dictionaries({"granted": st.one_of(st.booleans(), st.none())}))}),
    "attributes": st.fixed_dictionaries({}, optional={"plan": VALUE, "tags": VALUE, "n": VALUE, "when": VALUE,
                                                       "flag": VALUE})})


class Events:
    def __init__(self, events: list[dict]) -> None:
        self.events = events

    def __call__(self, event_type: str, since: datetime | None) -> Iterable[Mapping]:
        return [event for event in self.events if event["type"] == event_type
                and (since is None or event["timestamp"] >= since)]


def outcome(evaluate: Any) -> Any:
    try:
        return evaluate()
    except (ValueError, ArithmeticError) as error:
        return type(error)


@settings(max_examples=1500, deadline=None)
@given(criteria=CRITERIA, fields=CONTACT, events=EVENTS,
       lists=st.sets(st.sampled_from(["a", "b"])), segments=st.sets(st.sampled_from(["s", "t"])))
def test_compiled_criteria_answer_as_the_plain_reading(criteria: dict, fields: dict, events: list[dict],
                                                       lists: set[str], segments: set[str]) -> None:
    subject = ContactSubject(fields, events=Events(events), lists=lists, segments=segments)
    expected = outcome(lambda: plain(criteria, subject, NOW))
    assert outcome(lambda: matches(criteria, subject, now=NOW)) == expected
    predicate = compile_criteria(criteria)
    assert outcome(lambda: predicate(subject, NOW)) == expected
    assert outcome(lambda: predicate(subject, NOW)) == expected  # a second contact at the same instant


@settings(max_examples=200, deadline=None)
@given(criteria=CRITERIA, fields=CONTACT, events=EVENTS, hours=st.integers(1, 24 * 200))
def test_one_predicate_follows_the_instant_it_is_given(criteria: dict, fields: dict, events: list[dict],
                                                       hours: int) -> None:
    subject = ContactSubject(fields, events=Events(events))
    predicate = compile_criteria(criteria)
    later = NOW + timedelta(hours=hours)
    for moment in (NOW, later, NOW):
        assert outcome(lambda moment=moment: predicate(subject, moment)) == outcome(
            lambda moment=moment: plain(criteria, subject, moment))


def test_a_naive_instant_is_utc() -> None:
    assert anchor(datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_a_malformed_node_raises_only_when_reached() -> None:
    reached_first = {"any": [{"field": "stage", "op": "eq", "value": "lead"}, {"bogus": 1}]}
    subject = ContactSubject({"stage": "lead"})
    assert matches(reached_first, subject, now=NOW) is True
    predicate = compile_criteria(reached_first)
    assert outcome(lambda: predicate(ContactSubject({"stage": "sql"}), NOW)) is ValueError
    assert outcome(lambda: matches({"field": "stage", "op": "resembles", "value": "x"}, subject, now=NOW)) is ValueError


@settings(max_examples=4000, deadline=None)
@given(field=st.sampled_from(["attributes.x", "email", "consent.email"]), op=st.sampled_from(OPS), actual=VALUE,
       value=VALUE)
# The shapes the compiled conditions read on a shorter road, at their edges:
@example(field="attributes.x", op="eq", actual=1, value=True)
@example(field="attributes.x", op="eq", actual=True, value=True)
@example(field="attributes.x", op="ne", actual=Decimal("1"), value=1)
@example(field="attributes.x", op="eq", actual="1", value=1)
@example(field="attributes.x", op="gte", actual=1, value=1)
@example(field="attributes.x", op="lt", actual=True, value=2)
@example(field="attributes.x", op="gt", actual="2.0", value=1)
@example(field="attributes.x", op="not_in", actual="pro", value=["Pro", "pro"])
@example(field="attributes.x", op="in", actual=["pro"], value=["pro"])
@example(field="email", op="in", actual="ANA@EXAMPLE.COM", value=["ana@example.com"])
@example(field="email", op="eq", actual="ANA@EXAMPLE.COM", value="ana@example.com")
@example(field="attributes.x", op="after", actual="2026-08-30T10:00:00Z", value="-P30D")
def test_one_field_condition_answers_as_the_plain_reading(field: str, op: str, actual: Any, value: Any) -> None:
    fields = {"attributes": {"x": actual}, "email": actual, "consent": {"email": {"granted": actual}}}
    subject = ContactSubject(fields)
    node = {"field": field, "op": op, "value": value}
    assert outcome(lambda: compile_criteria(node)(subject, NOW)) == outcome(lambda: plain(node, subject, NOW))
