"""The criteria engine: validation, evaluation and dependencies (plain Python, no AWS)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.criteria import (
    BUILTIN_FIELDS,
    OPERATORS,
    ContactSubject,
    Dependencies,
    PropertiesSubject,
    Subject,
    dependencies,
    matches,
    matches_properties,
    validate,
)
from chalicelib.problems import Problem

NOW = datetime(2026, 8, 31, 12, 0, tzinfo=timezone.utc)


def contact(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "c-1",
        "email": "ana@example.com",
        "first_name": "Ana",
        "score": Decimal("42"),
        "stage": "lead",
        "created_at": "2026-01-15T10:00:00.000Z",
        "birthday": "1990-05-01",
        "attributes": {"plan": "pro", "seats": Decimal("5"), "tags": ["vip", "beta"], "trial": True},
        "consent": {"email": {"granted": True, "at": "2026-01-15T10:00:00Z", "source": "form"},
                    "sms": None},
        "lists": ["newsletter"],
    }
    base.update(fields)
    return base


def check(op: str, actual: Any, value: Any = None, field: str = "attributes.x", *,
          now: datetime = NOW) -> bool:
    """Evaluate one field condition against a contact whose `field` is `actual` (missing when None)."""
    node: dict[str, Any] = {"field": field, "op": op}
    if op not in ("exists", "not_exists"):
        node["value"] = value
    if field.startswith("attributes."):
        subject = ContactSubject({"attributes": {} if actual is None else {field[11:]: actual}})
    else:
        subject = ContactSubject({} if actual is None else {field: actual})
    return matches(node, subject, now=now)


def paths(problems: list[Problem]) -> list[str]:
    return [problem.path for problem in problems]


class FakeEvents:
    """An event store for one contact: answers Subject.events and records the `since` asked."""

    def __init__(self, *events: tuple[str, datetime, Mapping]) -> None:
        self.events = [{"type": t, "timestamp": ts, "properties": props} for t, ts, props in events]
        self.asked: list[tuple[str, datetime | None]] = []
        self.yielded = 0

    def __call__(self, event_type: str, since: datetime | None) -> Iterable[Mapping]:
        self.asked.append((event_type, since))
        for event in self.events:
            if event["type"] == event_type and (since is None or event["timestamp"] >= since):
                self.yielded += 1
                yield event


# --- public constants -------------------------------------------------------------------

def test_constants() -> None:
    assert "consent.email" in BUILTIN_FIELDS and "external_id" in BUILTIN_FIELDS
    assert "attributes.plan" not in BUILTIN_FIELDS
    assert len(OPERATORS) == 18 and {"before", "after", "not_ends_with"} <= OPERATORS


def test_subjects_satisfy_protocol() -> None:
    subjects: list[Subject] = [ContactSubject(contact()), PropertiesSubject({})]
    assert all(hasattr(s, "field") for s in subjects)


# --- eq / ne ----------------------------------------------------------------------------

@pytest.mark.parametrize(("actual", "value", "expected"), [
    ("pro", "pro", True),
    ("pro", "Pro", False),                      # case-sensitive
    (5, 5, True),
    (5, 5.0, True),
    (Decimal("5"), 5, True),
    (Decimal("59.9"), 59.9, True),               # DynamoDB Decimal vs JSON float
    (Decimal("59.90"), Decimal("59.9"), True),
    (0.1 + 0.2, 0.3, False),                     # floats are not rounded
    (Decimal("42"), "42", True),                 # number vs numeric string: numeric
    ("42", 42, True),
    ("42.0", 42, True),
    ("42abc", 42, False),
    ("042", "42", False),                        # two strings: never numbers
    (True, True, True),
    (True, 1, False),                            # bool is strict
    (1, True, False),
    (Decimal("1"), True, False),
    (False, 0, False),
    ("true", True, False),
    (["a", "b"], ["a", "b"], True),
    ([True], [1], False),
    ([1, 2], [Decimal("1"), 2.0], True),
])
def test_eq_and_ne(actual: Any, value: Any, expected: bool) -> None:
    assert check("eq", actual, value) is expected
    assert check("ne", actual, value) is not expected


def test_eq_email_is_case_insensitive() -> None:
    assert check("eq", "ana@example.com", "Ana@Example.COM", field="email")
    assert not check("ne", "ana@example.com", "ANA@example.com", field="email")
    assert not check("eq", "Ana", "ana", field="first_name")


def test_eq_datetime_value_against_string() -> None:
    subject = ContactSubject(contact(created_at=datetime(2026, 1, 15, 10, tzinfo=timezone.utc)))
    assert matches({"field": "created_at", "op": "eq", "value": "2026-01-15T10:00:00Z"}, subject)


# --- ordering ---------------------------------------------------------------------------

@pytest.mark.parametrize(("op", "actual", "value", "expected"), [
    ("gt", 5, 4, True), ("gt", 5, 5, False), ("gte", 5, 5, True), ("gte", 4, 5, False),
    ("lt", 4, 5, True), ("lt", 5, 5, False), ("lte", 5, 5, True), ("lte", 6, 5, False),
    ("gt", Decimal("10.5"), 10, True), ("lt", Decimal("10.5"), 10.6, True),
    ("gte", 10, Decimal("10.0"), True),
    ("gt", Decimal("10"), "9", True),            # numeric string with a number on the other side
    ("gt", "10", 9, True),
    ("gt", "10", "9", False),                    # two plain strings: no order at all
    ("lt", "9", "10", False),
    ("gt", "b", "a", False),
    ("gt", True, 0, False),                      # bools are not numbers
    ("gt", "abc", 1, False),
    ("gt", [5], 1, False),
    ("gt", "2026-02-01T00:00:00Z", "2026-01-31T23:59:59Z", True),
    ("lt", "2026-02-01", "2026-02-01T00:00:01+00:00", True),     # a date is midnight UTC
    ("gte", "2026-02-01T02:00:00+02:00", "2026-02-01", True),     # offsets honoured (00:00Z)
    ("gt", "2026-02-01T02:00:00+02:00", "2026-02-01", False),
    ("lte", datetime(2026, 1, 1, tzinfo=timezone.utc), "2026-01-01", True),
    ("gt", date(2026, 1, 2), "2026-01-01T23:00:00Z", True),
    ("gt", "2026-01-02", 5, False),              # date vs number: not comparable
])
def test_ordering(op: str, actual: Any, value: Any, expected: bool) -> None:
    assert check(op, actual, value) is expected


def test_ordering_on_builtin_number_from_dynamodb() -> None:
    subject = ContactSubject(contact())
    assert matches({"field": "score", "op": "gte", "value": 42}, subject)
    assert not matches({"field": "score", "op": "gt", "value": 42.5}, subject)
    assert matches({"field": "attributes.seats", "op": "lt", "value": 5.5}, subject)


# --- in / contains / starts_with / ends_with ---------------------------------------------

@pytest.mark.parametrize(("actual", "value", "expected"), [
    ("pro", ["free", "pro"], True),
    ("team", ["free", "pro"], False),
    (Decimal("2"), [1, 2, 3], True),
    (True, [1], False),
    (["vip", "beta"], ["vip", "gold"], True),    # list field: any item in the list
    (["beta"], ["vip", "gold"], False),
    ("pro", [], False),
])
def test_in_and_not_in(actual: Any, value: Any, expected: bool) -> None:
    assert check("in", actual, value) is expected
    assert check("not_in", actual, value) is not expected


def test_in_email_case_insensitive() -> None:
    assert check("in", "ana@example.com", ["ANA@example.com", "bob@example.com"], field="email")


@pytest.mark.parametrize(("actual", "value", "expected"), [
    ("professional", "fess", True),
    ("professional", "FESS", False),
    (["vip", "beta"], "vip", True),
    (["vip", "beta"], "vi", False),              # list membership, not substring of items
    ([1, 2], Decimal("2"), True),
    ([1, 2], True, False),
    (12345, "23", False),                        # numbers are not strings
])
def test_contains_and_not_contains(actual: Any, value: Any, expected: bool) -> None:
    assert check("contains", actual, value) is expected
    assert check("not_contains", actual, value) is not expected


def test_contains_email_case_insensitive() -> None:
    assert check("contains", "ana@example.com", "@EXAMPLE.", field="email")
    assert check("ends_with", "ana@example.com", "@Example.com", field="email")
    assert check("starts_with", "ana@example.com", "ANA", field="email")


@pytest.mark.parametrize(("op", "actual", "value", "expected"), [
    ("starts_with", "professional", "pro", True),
    ("starts_with", "professional", "Pro", False),
    ("ends_with", "professional", "nal", True),
    ("ends_with", "professional", "pro", False),
    ("starts_with", 12345, "12", False),
    ("ends_with", ["a", "b"], "b", False),
])
def test_starts_and_ends_with(op: str, actual: Any, value: Any, expected: bool) -> None:
    assert check(op, actual, value) is expected
    assert check("not_" + op, actual, value) is not expected


# --- missing fields ---------------------------------------------------------------------

@pytest.mark.parametrize(("op", "value"), [
    ("eq", "x"), ("gt", 1), ("gte", 1), ("lt", 1), ("lte", 1), ("in", ["x"]), ("contains", "x"),
    ("starts_with", "x"), ("ends_with", "x"), ("before", "-P1D"), ("after", "2020-01-01"),
    ("exists", None),
])
def test_missing_field_positive_operators_are_false(op: str, value: Any) -> None:
    assert check(op, None, value) is False


@pytest.mark.parametrize(("op", "value"), [
    ("ne", "x"), ("not_in", ["x"]), ("not_contains", "x"), ("not_starts_with", "x"),
    ("not_ends_with", "x"), ("not_exists", None),
])
def test_missing_field_negative_operators_are_true(op: str, value: Any) -> None:
    assert check(op, None, value) is True


def test_exists_on_present_falsy_values() -> None:
    assert check("exists", 0) and check("exists", False) and check("exists", "")
    assert not check("not_exists", 0)


def test_missing_attributes_object_and_unknown_builtin() -> None:
    subject = ContactSubject({"email": "a@b.c"})
    assert not matches({"field": "attributes.plan", "op": "eq", "value": "pro"}, subject)
    assert matches({"field": "attributes.plan", "op": "not_exists"}, subject)
    assert matches({"field": "phone", "op": "ne", "value": "+33600000000"}, subject)


# --- before / after ---------------------------------------------------------------------

@pytest.mark.parametrize(("op", "actual", "value", "expected"), [
    ("after", "2026-08-01T00:00:00Z", "-P31D", True),        # 31 days ago = Jul 31 12:00
    ("after", "2026-07-31T11:59:59Z", "-P31D", False),
    ("before", "2026-07-31T11:59:59Z", "-P31D", True),
    ("before", "2026-07-31T12:00:00Z", "-P31D", False),       # strict
    ("after", "2026-08-31T12:00:00Z", "-P31D", True),
    ("before", "2026-09-01", "P1D", True),                    # before tomorrow 12:00
    ("after", "2026-09-01T12:00:01Z", "P1D", True),
    ("after", "2026-08-31T11:00:00Z", "-PT2H", True),
    ("before", "2026-01-01", "2026-01-01T00:00:01Z", True),
    ("after", "2026-01-15T10:00:00.000Z", "2026-01-15", True),
    ("after", "2026-01-15", "2026-01-15", False),
    ("before", datetime(2025, 12, 31), "2026-01-01", True),   # naive datetimes are UTC
    ("after", date(2026, 8, 30), "-P2D", True),
    ("before", "not a date", "2026-01-01", False),
    ("before", "--05-01", "2026-01-01", False),               # birthday without year
    ("before", 20250101, "2026-01-01", False),                # numbers are not dates
])
def test_before_after(op: str, actual: Any, value: Any, expected: bool) -> None:
    assert check(op, actual, value) is expected


def test_months_use_calendar_arithmetic() -> None:
    # 1 month before Aug 31 12:00 is Jul 31 12:00; 6 months before is Feb 28 12:00 (2026 not leap).
    assert check("after", "2026-07-31T12:00:01Z", "-P1M")
    assert not check("after", "2026-07-31T11:59:59Z", "-P1M")
    assert check("after", "2026-02-28T12:00:01Z", "-P6M")
    assert not check("after", "2026-02-28T11:59:59Z", "-P6M")
    march = datetime(2026, 3, 31, tzinfo=timezone.utc)
    assert check("after", "2026-02-28T00:00:01Z", "-P1M", now=march)
    assert check("before", "2026-02-27T23:59:59Z", "-P1M", now=march)


def test_age_from_birthday_with_years() -> None:
    now = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
    adult = {"field": "birthday", "op": "before", "value": "-P18Y"}
    assert matches(adult, ContactSubject({"birthday": "2008-11-23"}), now=now)  # 18 today
    assert not matches(adult, ContactSubject({"birthday": "2008-11-24"}), now=now)


def test_relative_dates_default_to_clock_now() -> None:
    recent = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    subject = ContactSubject({"last_activity_at": recent})
    assert matches({"field": "last_activity_at", "op": "after", "value": "-P7D"}, subject)
    assert not matches({"field": "last_activity_at", "op": "before", "value": "-P7D"}, subject)


# --- consent, attributes, lists, segments ------------------------------------------------

def test_consent_resolves_to_granted() -> None:
    subject = ContactSubject(contact())
    assert matches({"field": "consent.email", "op": "eq", "value": True}, subject)
    assert not matches({"field": "consent.sms", "op": "exists"}, subject)          # no record
    assert matches({"field": "consent.sms", "op": "ne", "value": True}, subject)
    revoked = ContactSubject(contact(consent={"email": {"granted": False, "at": None, "source": "x"}}))
    assert matches({"field": "consent.email", "op": "eq", "value": False}, revoked)
    assert not matches({"field": "consent.email", "op": "eq", "value": 0}, revoked)
    bare = ContactSubject({"consent": {"email": True}})
    assert matches({"field": "consent.email", "op": "eq", "value": True}, bare)
    assert not matches({"field": "consent.email", "op": "exists"}, ContactSubject({}))


def test_attributes_and_field_resolution() -> None:
    subject = ContactSubject(contact())
    assert subject.field("attributes.plan") == "pro"
    assert subject.field("attributes.missing") is None
    assert subject.field("email") == "ana@example.com"
    assert subject.field("nope.deeper") is None
    assert matches({"field": "attributes.tags", "op": "contains", "value": "vip"}, subject)
    assert matches({"field": "attributes.trial", "op": "eq", "value": True}, subject)


def test_lists_and_segments() -> None:
    subject = ContactSubject(contact(), segments=["s-active"])
    assert matches({"in_list": "newsletter"}, subject)           # default: the contact's lists
    assert not matches({"in_list": "other"}, subject)
    assert matches({"in_segment": "s-active"}, subject)
    assert not matches({"in_segment": "s-other"}, subject)
    overridden = ContactSubject(contact(), lists=["other"])
    assert matches({"in_list": "other"}, overridden)
    assert not matches({"in_list": "newsletter"}, overridden)
    assert not matches({"in_list": "newsletter"}, ContactSubject(contact(), lists=()))


# --- all / any / not --------------------------------------------------------------------

def test_boolean_nesting() -> None:
    subject = ContactSubject(contact())
    pro = {"field": "attributes.plan", "op": "eq", "value": "pro"}
    free = {"field": "attributes.plan", "op": "eq", "value": "free"}
    lead = {"field": "stage", "op": "eq", "value": "lead"}
    assert matches({"all": [pro, lead]}, subject)
    assert not matches({"all": [pro, free]}, subject)
    assert matches({"any": [free, pro]}, subject)
    assert not matches({"any": [free, {"not": lead}]}, subject)
    assert matches({"not": free}, subject)
    assert matches({"not": {"not": pro}}, subject)
    assert matches({"all": [{"any": [free, {"not": {"all": [free, lead]}}]}, {"in_list": "newsletter"}]},
                   subject)
    assert matches({}, subject)  # empty criteria filter nothing


def test_all_short_circuits() -> None:
    calls: list[str] = []

    def events(event_type: str, since: datetime | None) -> Iterable[Mapping]:
        calls.append(event_type)
        return ()

    subject = ContactSubject(contact(), events=events)
    never = {"field": "stage", "op": "eq", "value": "customer"}
    assert not matches({"all": [never, {"event": "purchase"}]}, subject)
    assert matches({"any": [{"in_list": "newsletter"}, {"event": "purchase"}]}, subject)
    assert calls == []


def test_malformed_criteria_raise() -> None:
    subject = ContactSubject(contact())
    with pytest.raises(ValueError):
        matches({"field": "email", "op": "equals", "value": "x"}, subject)
    with pytest.raises(ValueError):
        matches({"field": "attributes.none", "op": "equals", "value": "x"}, subject)
    with pytest.raises(ValueError):
        matches({"bogus": 1}, subject)
    with pytest.raises(ValueError):
        matches({"all": ["x"]}, subject)


# --- event conditions -------------------------------------------------------------------

def purchase(days_ago: float, **properties: Any) -> tuple[str, datetime, Mapping]:
    return ("purchase", NOW - timedelta(days=days_ago), properties)


def test_event_default_count_is_at_least_one() -> None:
    store = FakeEvents(purchase(3, amount=10))
    subject = ContactSubject(contact(), events=store)
    assert matches({"event": "purchase"}, subject, now=NOW)
    assert not matches({"event": "signup"}, subject, now=NOW)
    assert store.asked == [("purchase", None), ("signup", None)]


def test_event_within_passes_since_and_filters() -> None:
    store = FakeEvents(purchase(40), purchase(10))
    subject = ContactSubject(contact(), events=store)
    assert matches({"event": "purchase", "within": "P30D"}, subject, now=NOW)
    assert store.asked[-1] == ("purchase", NOW - timedelta(days=30))
    assert not matches({"event": "purchase", "within": "P7D"}, subject, now=NOW)
    assert matches({"event": "purchase", "within": "P30D", "count": {"eq": 1}}, subject, now=NOW)
    assert matches({"event": "purchase", "count": {"eq": 2}}, subject, now=NOW)


def test_event_within_months_calendar() -> None:
    store = FakeEvents(("purchase", datetime(2026, 2, 28, 12, 0, 1, tzinfo=timezone.utc), {}))
    subject = ContactSubject(contact(), events=store)
    assert matches({"event": "purchase", "within": "P6M"}, subject, now=NOW)
    assert store.asked[-1][1] == datetime(2026, 2, 28, 12, 0, tzinfo=timezone.utc)
    later = datetime(2026, 9, 1, 0, 0, tzinfo=timezone.utc)  # window now starts Mar 1
    assert not matches({"event": "purchase", "within": "P6M"}, subject, now=later)


def test_has_not_done_in_six_months() -> None:
    lapsed = {"not": {"event": "purchase", "within": "P6M"}}
    assert matches(lapsed, ContactSubject(contact(), events=FakeEvents(purchase(200))), now=NOW)
    assert not matches(lapsed, ContactSubject(contact(), events=FakeEvents(purchase(20))), now=NOW)
    assert matches(lapsed, ContactSubject(contact()), now=NOW)


def test_event_source_ignoring_since_is_filtered_anyway() -> None:
    old = {"type": "purchase", "timestamp": "2025-01-01T00:00:00Z", "properties": {}}
    subject = ContactSubject(contact(), events=lambda t, s: [old])
    assert not matches({"event": "purchase", "within": "P30D"}, subject, now=NOW)
    assert matches({"event": "purchase"}, subject, now=NOW)


@pytest.mark.parametrize(("count", "expected"), [
    ({"gte": 3}, True), ({"gte": 4}, False), ({"gt": 2}, True), ({"gt": 3}, False),
    ({"lte": 3}, True), ({"lte": 2}, False), ({"lt": 4}, True), ({"lt": 3}, False),
    ({"eq": 3}, True), ({"eq": 2}, False), ({"gte": 2, "lte": 3}, True), ({"gte": 1, "lt": 3}, False),
    ({"eq": 0}, False), ({"gte": Decimal("3")}, True),
])
def test_event_count_bounds(count: dict, expected: bool) -> None:
    store = FakeEvents(purchase(1), purchase(2), purchase(3))
    assert matches({"event": "purchase", "count": count}, ContactSubject(contact(), events=store),
                   now=NOW) is expected


def test_event_count_zero_means_never() -> None:
    node = {"event": "purchase", "within": "P30D", "count": {"eq": 0}}
    assert matches(node, ContactSubject(contact()), now=NOW)
    assert not matches(node, ContactSubject(contact(), events=FakeEvents(purchase(1))), now=NOW)


def test_event_counting_stops_when_settled() -> None:
    store = FakeEvents(*(purchase(day) for day in range(1, 100)))
    subject = ContactSubject(contact(), events=store)
    assert matches({"event": "purchase"}, subject, now=NOW)
    assert store.yielded == 1
    assert not matches({"event": "purchase", "count": {"lte": 2}}, subject, now=NOW)
    assert store.yielded == 1 + 3


def test_event_where_filters_properties() -> None:
    store = FakeEvents(purchase(1, amount=Decimal("20"), category="shoes"),
                       purchase(2, amount=Decimal("150"), category="bags"),
                       purchase(3, amount=Decimal("300"), category="shoes"))
    subject = ContactSubject(contact(), events=store)
    big = {"field": "properties.amount", "op": "gte", "value": 100}
    assert matches({"event": "purchase", "where": big, "count": {"eq": 2}}, subject, now=NOW)
    shoes_big = {"all": [big, {"field": "properties.category", "op": "eq", "value": "shoes"}]}
    assert matches({"event": "purchase", "where": shoes_big, "count": {"eq": 1}}, subject, now=NOW)
    assert not matches({"event": "purchase", "where": shoes_big, "within": "P2D"}, subject, now=NOW)
    assert matches({"event": "purchase", "where": {}}, subject, now=NOW)


def test_event_where_relative_date_uses_same_now() -> None:
    store = FakeEvents(purchase(1, delivery="2026-09-02"))
    subject = ContactSubject(contact(), events=store)
    where = {"field": "properties.delivery", "op": "after", "value": "P1D"}
    assert matches({"event": "purchase", "where": where}, subject, now=NOW)
    assert not matches({"event": "purchase", "where": where}, subject, now=NOW + timedelta(days=2))


# --- properties subject / matches_properties ----------------------------------------------

def test_matches_properties() -> None:
    props = {"amount": 59.9, "first_purchase": True, "items": ["a", "b"],
             "address": {"city": "Lyon"}, "utm.source": "mail"}
    assert matches_properties(None, props)
    assert matches_properties({}, props)
    assert matches_properties({"field": "properties.amount", "op": "eq", "value": Decimal("59.9")}, props)
    assert matches_properties({"field": "properties.address.city", "op": "eq", "value": "Lyon"}, props)
    assert matches_properties({"field": "properties.utm.source", "op": "eq", "value": "mail"}, props)
    assert matches_properties({"field": "properties.first_purchase", "op": "eq", "value": True}, props)
    assert not matches_properties({"field": "properties.first_purchase", "op": "eq", "value": 1}, props)
    assert matches_properties({"field": "properties.items", "op": "contains", "value": "b"}, props)
    assert matches_properties({"field": "properties.coupon", "op": "not_exists"}, props)
    assert not matches_properties({"field": "properties.address.zip", "op": "exists"}, props)
    assert matches_properties({"any": [{"field": "properties.amount", "op": "gt", "value": 100},
                                       {"not": {"field": "properties.coupon", "op": "exists"}}]}, props)


def test_properties_subject_scope() -> None:
    subject = PropertiesSubject({"amount": 1, "email": "x"})
    assert subject.field("properties.amount") == 1
    assert subject.field("email") is None
    assert subject.field("properties") is None
    assert not subject.in_list("l") and not subject.in_segment("s")
    assert list(subject.events("purchase", None)) == []


# --- validate ---------------------------------------------------------------------------

VALID_CONTACT = [
    {"field": "email", "op": "ends_with", "value": "@example.com"},
    {"field": "attributes.plan", "op": "in", "value": ["pro", "team"]},
    {"field": "score", "op": "gte", "value": 10},
    {"field": "score", "op": "gte", "value": "10"},
    {"field": "created_at", "op": "gt", "value": "2026-01-01"},
    {"field": "created_at", "op": "after", "value": "-P30D"},
    {"field": "created_at", "op": "before", "value": "P1D"},
    {"field": "birthday", "op": "before", "value": "2000-01-01"},
    {"field": "last_activity_at", "op": "after", "value": "2026-01-01T10:00:00+02:00"},
    {"field": "consent.email", "op": "eq", "value": True},
    {"field": "phone", "op": "exists"},
    {"field": "phone", "op": "not_exists", "value": None},
    {"field": "attributes.tags", "op": "contains", "value": "vip"},
    {"field": "attributes.tags", "op": "eq", "value": ["a", "b"]},
    {"event": "purchase"},
    {"event": "email.opened", "within": "P6M", "count": {"gte": 2, "lt": 10},
     "where": {"field": "properties.scenario", "op": "eq", "value": "welcome"}},
    {"event": "purchase", "where": {}, "within": None, "count": None},
    {"event": "purchase", "count": {"eq": Decimal("0")}},
    {"not": {"event": "purchase", "within": "P6M"}},
    {"in_list": "newsletter"},
    {"in_segment": "s-1"},
    {"all": [{"any": [{"in_list": "a"}, {"not": {"in_segment": "b"}}]}]},
]


@pytest.mark.parametrize("criteria", VALID_CONTACT)
def test_valid_contact_criteria(criteria: dict) -> None:
    assert validate(criteria) == []


@pytest.mark.parametrize("criteria", [
    {"field": "properties.amount", "op": "gt", "value": 10},
    {"field": "properties.address.city", "op": "eq", "value": "Lyon"},
    {"all": [{"field": "properties.a", "op": "exists"}, {"not": {"field": "properties.b", "op": "exists"}}]},
])
def test_valid_properties_criteria(criteria: dict) -> None:
    assert validate(criteria, "trigger.filter", scope="properties") == []


def test_validate_reports_every_problem_with_paths() -> None:
    criteria = {"all": [
        {"field": "email", "op": "exists"},
        {"field": "email", "op": "equals", "value": "x"},
        {"field": "plan", "op": "eq", "value": "pro"},
        {"any": []},
        {"not": {"field": "score", "op": "gt"}},
        {"event": "", "within": "-P30D", "count": {"gte": -1, "most": 2},
         "where": {"field": "amount", "op": "gt", "value": 1}},
        {"in_list": ""},
        {"field": "stage", "op": "eq", "value": "x", "extra": 1},
    ]}
    problems = validate(criteria, "steps[2].condition")
    assert paths(problems) == [
        "steps[2].condition.all[1].op",
        "steps[2].condition.all[2].field",
        "steps[2].condition.all[3].any",
        "steps[2].condition.all[4].not.value",
        "steps[2].condition.all[5].event",
        "steps[2].condition.all[5].where.field",
        "steps[2].condition.all[5].within",
        "steps[2].condition.all[5].count.gte",
        "steps[2].condition.all[5].count.most",
        "steps[2].condition.all[6].in_list",
        "steps[2].condition.all[7].extra",
    ]
    op = problems[0].message
    assert op.startswith("unknown operator 'equals'; expected one of eq, ne, ")
    assert "attributes.NAME" in problems[1].message
    assert "properties.NAME" in problems[5].message


def test_validate_top_level_path() -> None:
    problems = validate({"all": [{"field": "email", "op": "nope", "value": 1}]})
    assert paths(problems) == ["all[0].op"]
    assert paths(validate([1])) == [""]
    assert paths(validate({"any": [{"in_list": 3}]}, "segment.criteria")) == ["segment.criteria.any[0].in_list"]


@pytest.mark.parametrize(("criteria", "path", "fragment"), [
    ("x", "c", "must be an object"),
    (None, "c", "must be an object"),
    ({}, "c", "the object is empty"),
    ({"fild": "email"}, "c", "found keys 'fild'"),
    ({"all": [], "any": []}, "c", "found all, any"),
    ({"field": "email", "event": "x"}, "c", "found field, event"),
    ({"all": {"field": "email"}}, "c.all", "non-empty list"),
    ({"all": [1]}, "c.all[0]", "must be an object"),
    ({"not": []}, "c.not", "must be an object"),
    ({"field": 3, "op": "exists"}, "c.field", "non-empty string"),
    ({"field": "attributes.", "op": "exists"}, "c.field", "unknown field"),
    ({"field": "attributes.a.b", "op": "exists"}, "c.field", "unknown field"),
    ({"field": "consent.push", "op": "exists"}, "c.field", "unknown field"),
    ({"field": "email"}, "c.op", "op is required"),
    ({"field": "email", "op": "eq"}, "c.value", "value is required for eq"),
    ({"field": "email", "op": "eq", "value": None}, "c.value", "exists or not_exists"),
    ({"field": "email", "op": "eq", "value": {"a": 1}}, "c.value", "string, number, boolean or list"),
    ({"field": "email", "op": "exists", "value": "x"}, "c.value", "takes no value"),
    ({"field": "email", "op": "in", "value": "x"}, "c.value", "must be a list for in"),
    ({"field": "email", "op": "not_in", "value": "x"}, "c.value", "must be a list for not_in"),
    ({"field": "email", "op": "in", "value": ["a", {"b": 1}]}, "c.value[1]", "string, number or boolean"),
    ({"field": "email", "op": "contains", "value": ["a"]}, "c.value", "string, number or boolean"),
    ({"field": "email", "op": "starts_with", "value": 1}, "c.value", "must be a string"),
    ({"field": "score", "op": "gt", "value": "high"}, "c.value", "number or an ISO date"),
    ({"field": "score", "op": "gt", "value": True}, "c.value", "number or an ISO date"),
    ({"field": "created_at", "op": "gt", "value": "-P30D"}, "c.value", "use before/after"),
    ({"field": "created_at", "op": "before", "value": "yesterday"}, "c.value", "ISO date-time"),
    ({"field": "created_at", "op": "before", "value": "P"}, "c.value", "ISO date-time"),
    ({"field": "created_at", "op": "after", "value": "2026-13-01"}, "c.value", "ISO date-time"),
    ({"field": "created_at", "op": "after", "value": 20260101}, "c.value", "ISO date-time"),
    ({"event": 5}, "c.event", "event must be an event type such as 'purchase'"),
    ({"event": "x", "within": "P0D"}, "c.within", "positive ISO duration"),
    ({"event": "x", "within": "30 days"}, "c.within", "positive ISO duration"),
    ({"event": "x", "within": 30}, "c.within", "positive ISO duration"),
    ({"event": "x", "count": {}}, "c.count", "one or more of gte"),
    ({"event": "x", "count": 1}, "c.count", "one or more of gte"),
    ({"event": "x", "count": {"gte": 1.5}}, "c.count.gte", "non-negative integer"),
    ({"event": "x", "count": {"gte": True}}, "c.count.gte", "non-negative integer"),
    ({"event": "x", "count": {"lt": Decimal("1.5")}}, "c.count.lt", "non-negative integer"),
    ({"event": "x", "where": []}, "c.where", "must be an object"),
    ({"event": "x", "where": {"in_list": "l"}}, "c.where.in_list", "not allowed here"),
    ({"event": "x", "where": {"event": "y"}}, "c.where.event", "not allowed here"),
    ({"in_segment": None}, "c.in_segment", "non-empty id"),
])
def test_validate_single_problem(criteria: Any, path: str, fragment: str) -> None:
    problems = validate(criteria, "c")
    assert len(problems) == 1, problems
    assert problems[0].path == path
    assert fragment in problems[0].message


def test_validate_properties_scope_rules() -> None:
    criteria = {"any": [
        {"field": "email", "op": "exists"},
        {"field": "attributes.plan", "op": "exists"},
        {"field": "properties", "op": "exists"},
        {"event": "purchase"},
        {"in_list": "l"},
        {"in_segment": "s"},
        {"field": "properties.ok", "op": "exists"},
    ]}
    problems = validate(criteria, "goal", scope="properties")
    assert paths(problems) == ["goal.any[0].field", "goal.any[1].field", "goal.any[2].field",
                               "goal.any[3].event", "goal.any[4].in_list", "goal.any[5].in_segment"]
    assert "only properties.NAME" in problems[0].message


def test_validate_contact_scope_refuses_properties() -> None:
    problems = validate({"field": "properties.amount", "op": "gt", "value": 1})
    assert paths(problems) == ["field"]


def test_validate_unknown_scope_is_a_bug() -> None:
    with pytest.raises(ValueError):
        validate({"in_list": "l"}, scope="event")  # type: ignore[arg-type]


def test_validate_depth_limit() -> None:
    node: dict = {"in_list": "l"}
    for _ in range(40):
        node = {"not": node}
    problems = validate(node)
    assert len(problems) == 1 and "nested" in problems[0].message


def test_validate_accepts_stored_decimals() -> None:
    stored = {"all": [{"field": "score", "op": "gte", "value": Decimal("10.5")},
                      {"field": "score", "op": "in", "value": [Decimal("1"), Decimal("2")]},
                      {"event": "purchase", "count": {"gte": Decimal("2")}}]}
    assert validate(stored) == []


# --- dependencies -----------------------------------------------------------------------

def test_dependencies_collects_everything() -> None:
    criteria = {"all": [
        {"field": "email", "op": "exists"},
        {"any": [{"field": "attributes.plan", "op": "eq", "value": "pro"},
                 {"not": {"in_list": "newsletter"}}]},
        {"event": "purchase", "where": {"field": "properties.amount", "op": "gt", "value": 10}},
        {"not": {"event": "email.opened"}},
        {"in_segment": "s-vip"},
        {"field": "created_at", "op": "after", "value": "2026-01-01"},
    ]}
    assert dependencies(criteria) == Dependencies(
        fields=frozenset({"email", "attributes.plan", "created_at"}),
        event_types=frozenset({"purchase", "email.opened"}),
        lists=frozenset({"newsletter"}),
        segments=frozenset({"s-vip"}),
        time_relative=False,
    )


@pytest.mark.parametrize(("criteria", "relative"), [
    ({"event": "purchase", "within": "P30D"}, True),
    ({"not": {"event": "purchase", "within": "P6M"}}, True),
    ({"event": "purchase", "count": {"gte": 2}}, False),
    ({"field": "created_at", "op": "after", "value": "-P30D"}, True),
    ({"field": "created_at", "op": "before", "value": "P1D"}, True),
    ({"field": "created_at", "op": "before", "value": "2026-01-01"}, False),
    ({"field": "created_at", "op": "gt", "value": "2026-01-01"}, False),
    ({"event": "purchase", "where": {"field": "properties.ship", "op": "after", "value": "-P1D"}}, True),
    ({"any": [{"in_list": "a"}, {"all": [{"field": "last_activity_at", "op": "before", "value": "-P90D"}]}]},
     True),
])
def test_dependencies_time_relative(criteria: dict, relative: bool) -> None:
    assert dependencies(criteria).time_relative is relative


def test_dependencies_are_hashable_and_empty_for_empty() -> None:
    deps = dependencies({})
    assert deps == Dependencies(frozenset(), frozenset(), frozenset(), frozenset(), False)
    assert hash(deps) == hash(dependencies({}))
    with pytest.raises(AttributeError):
        deps.time_relative = True  # type: ignore[misc]
