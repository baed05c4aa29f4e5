"""Which segments a contact can be in, from their criteria alone (criteria.requirements): the
index that lets contact.created evaluate only candidate segments. Property tests: whatever the
criteria and the contact, a segment the contact matches is always a candidate."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import criteria
from chalicelib.criteria.deps import requirements

NOW = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
TYPES = ["purchase", "page_view", "download"]
LISTS = ["vip", "newsletter"]
SEGMENTS = ["buyers", "fans"]
OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "exists", "not_exists"]


def _criteria():
    value = st.one_of(st.integers(-2, 5), st.sampled_from(["pro", "free", "a"]))
    counts = st.dictionaries(st.sampled_from(["gte", "gt", "lte", "lt", "eq"]), st.integers(0, 3),
                             min_size=1, max_size=2)

    def leaf(name: str, op: str, val: object) -> dict:
        if op in ("exists", "not_exists"):
            return {"field": name, "op": op}
        if op in ("gt", "gte", "lt", "lte") and isinstance(val, str):
            val = len(val)
        return {"field": name, "op": op, "value": [val] if op in ("in", "not_in") else val}

    field = st.builds(leaf,
                      st.sampled_from(["attributes.plan", "score", "first_name"]), st.sampled_from(OPS), value)
    event = st.fixed_dictionaries(
        {"event": st.sampled_from(TYPES)},
        optional={"within": st.sampled_from(["P1D", "P30D"]), "count": counts,
                  "where": st.fixed_dictionaries({"field": st.just("properties.sku"), "op": st.just("eq"),
                                                  "value": st.sampled_from(["a", "b"])})})
    leaves = st.one_of(field, event, st.builds(lambda name: {"in_list": name}, st.sampled_from(LISTS)),
                       st.builds(lambda name: {"in_segment": name}, st.sampled_from(SEGMENTS)))
    return st.recursive(leaves, lambda children: st.one_of(
        st.fixed_dictionaries({"all": st.lists(children, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"any": st.lists(children, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"not": children})), max_leaves=10)


def _contacts():
    event = st.fixed_dictionaries({"type": st.sampled_from(TYPES), "days_ago": st.integers(0, 60),
                                   "sku": st.sampled_from(["a", "b"])})
    return st.fixed_dictionaries({
        "fields": st.fixed_dictionaries({}, optional={"plan": st.sampled_from(["pro", "free", "a"]),
                                                      "score": st.integers(-2, 5),
                                                      "first_name": st.sampled_from(["Ana", "a"])}),
        "events": st.lists(event, max_size=6),
        "lists": st.sets(st.sampled_from(LISTS)),
        "segments": st.sets(st.sampled_from(SEGMENTS)),
    })


def _subject(contact: dict) -> criteria.ContactSubject:
    fields = contact["fields"]
    data = {"attributes": {"plan": fields["plan"]} if "plan" in fields else {},
            "score": fields.get("score"), "first_name": fields.get("first_name")}
    stored = [{"type": item["type"], "timestamp": NOW - timedelta(days=item["days_ago"]),
               "properties": {"sku": item["sku"]}} for item in contact["events"]]

    def events(event_type: str, since: datetime | None) -> list[dict]:
        return [item for item in stored if item["type"] == event_type and (since is None or item["timestamp"] >= since)]

    return criteria.ContactSubject(data, events=events, lists=contact["lists"], segments=contact["segments"])


def _facts(contact: dict) -> set[str]:
    return ({f"event:{item['type']}" for item in contact["events"]} | {f"list:{name}" for name in contact["lists"]}
            | {f"segment:{name}" for name in contact["segments"]})


@settings(max_examples=1500, deadline=None)
@given(_criteria(), _contacts())
def test_a_contact_that_matches_always_has_one_of_the_facts_required(tree, contact):
    assert criteria.validate(tree, "criteria", scope="contact") == []
    needed = requirements(tree)
    if criteria.matches(tree, _subject(contact), now=NOW):
        assert needed is None or needed & _facts(contact), (tree, contact, needed)


@settings(max_examples=500, deadline=None)
@given(_criteria(), _contacts())
def test_a_new_contact_without_events_lists_or_segments_matches_only_unbounded_criteria(tree, contact):
    fresh = {**contact, "events": [], "lists": set(), "segments": set()}
    if criteria.matches(tree, _subject(fresh), now=NOW):
        assert requirements(tree) is None


def test_behaviour_bounds_the_candidates():
    assert requirements({"event": "purchase", "within": "P30D"}) == {"event:purchase"}
    assert requirements({"all": [{"field": "attributes.plan", "op": "eq", "value": "pro"},
                                 {"event": "email.clicked", "within": "P90D"}]}) == {"event:email.clicked"}
    assert requirements({"any": [{"event": "download"}, {"in_list": "vip"}]}) == {"event:download", "list:vip"}
    assert requirements({"in_segment": "buyers"}) == {"segment:buyers"}


def test_what_a_contact_can_meet_without_any_event_is_unbounded():
    assert requirements({"field": "attributes.plan", "op": "eq", "value": "pro"}) is None
    assert requirements({"not": {"event": "purchase", "within": "P6M"}}) is None
    assert requirements({"event": "purchase", "count": {"lte": 2}}) is None  # zero purchases count
    assert requirements({"event": "purchase", "count": {"eq": 0}}) is None
    assert requirements({"any": [{"event": "download"}, {"field": "score", "op": "gt", "value": 3}]}) is None
    assert requirements({}) is None


@settings(max_examples=1000, deadline=None)
@given(_criteria(), _contacts())
def test_what_brought_a_contact_where_it_is_reaches_every_segment_it_matches(tree, contact):
    """A contact created with its fields, then its events, list joins and segment entries, each
    handled as automation does: the index keys they touch find every segment the contact matches."""
    from chalicelib.segments.engine import keys_for
    from chalicelib.segments.service import dependency_keys

    if not criteria.matches(tree, _subject(contact), now=NOW):
        return
    touched = set(keys_for("contact.created", {}, []))
    for item in contact["events"]:
        touched |= set(keys_for(item["type"], {"sku": item["sku"]}, []))
    for name in contact["lists"]:
        touched |= set(keys_for("list.joined", {"list": name}, []))
    touched |= {f"segment:{name}" for name in contact["segments"]}  # the cascade of segment.entered
    assert touched & set(dependency_keys(tree)), (tree, contact)
