from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest

from chalicelib.activity.rank import DEFAULT_SETTINGS, rank, validate_settings, window_start


def paths(problems):
    return [problem.path for problem in problems]


def shuffled(counts: dict[str, int], seed: int = 7) -> dict[str, int]:
    items = list(counts.items())
    random.Random(seed).shuffle(items)
    return dict(items)


def test_500_distinct_counts_make_ten_deciles_of_50():
    counts = shuffled({f"c{index}": index + 1 for index in range(500)})
    ranks = rank(counts)
    assert Counter(ranks.values()) == {decile: 50 for decile in range(1, 11)}
    for contact, count in counts.items():
        assert ranks[contact] == (count - 1) // 50 + 1  # by count ascending: 1..50 -> 1, ..., 451..500 -> 10


def test_ranks_follow_activity_and_ties_never_split():
    generator = random.Random(42)
    counts = {f"c{index}": generator.choice([1, 1, 1, 2, 2, 3, 5, 8, 13, 40]) for index in range(500)}
    ranks = rank(counts)
    ranks_of_count: dict[int, set[int]] = defaultdict(set)
    for contact, count in counts.items():
        ranks_of_count[count].add(ranks[contact])
    assert all(len(found) == 1 for found in ranks_of_count.values())
    ordered = [ranks_of_count[count].pop() for count in sorted(ranks_of_count)]
    assert ordered == sorted(ordered)  # more activity never ranks lower
    assert ordered[-1] == 10
    assert all(1 <= value <= 10 for value in ranks.values())


def test_a_tie_takes_the_decile_of_its_top_member():
    # 10 contacts: 4 with one activity (positions 1-4 of 10), then 6 distinct counts.
    counts = {"a": 1, "b": 1, "c": 1, "d": 1, "e": 2, "f": 3, "g": 4, "h": 5, "i": 6, "j": 7}
    assert rank(counts) == {"a": 4, "b": 4, "c": 4, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, "i": 9, "j": 10}


def test_everyone_equally_active_is_ranked_10():
    assert set(rank({f"c{index}": 3 for index in range(37)}).values()) == {10}


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"a": 5}, {"a": 10}),
        ({"a": 1, "b": 9}, {"a": 5, "b": 10}),
        ({"a": 1, "b": 2, "c": 3}, {"a": 4, "b": 7, "c": 10}),
        ({f"c{n}": n for n in range(1, 11)}, {f"c{n}": n for n in range(1, 11)}),
    ],
)
def test_fewer_than_ten_active_contacts_still_span_up_to_10(counts, expected):
    assert rank(counts) == expected


def test_no_activity_is_zero_and_does_not_take_a_decile():
    counts = {"idle1": 0, "idle2": 0, **{f"c{n}": n for n in range(1, 11)}}
    ranks = rank(counts)
    assert ranks["idle1"] == ranks["idle2"] == 0
    assert [ranks[f"c{n}"] for n in range(1, 11)] == list(range(1, 11))


def test_below_min_events_is_zero():
    counts = {"a": 1, "b": 2, "c": 3, "d": 4}
    assert rank(counts, min_events=3) == {"a": 0, "b": 0, "c": 5, "d": 10}


def test_empty_and_all_idle():
    assert rank({}) == {}
    assert rank({"a": 0, "b": 0}) == {"a": 0, "b": 0}


def test_invalid_input_raises():
    with pytest.raises(ValueError):
        rank({"a": -1})
    with pytest.raises(ValueError):
        rank({"a": 1}, min_events=0)


# --- settings ------------------------------------------------------------------------


def test_default_settings():
    assert DEFAULT_SETTINGS == {
        "window": "P60D",
        "count": ["page_view", "email.opened", "email.clicked", "form_submitted", "purchase"],
        "min_events": 1,
        "every": "P30D",
    }
    assert validate_settings(DEFAULT_SETTINGS) == []
    assert validate_settings({}) == []
    assert validate_settings({"window": "P3M", "count": ["purchase"], "min_events": 2, "every": "P1D"}) == []


def test_settings_problems_have_paths():
    problems = validate_settings({
        "window": "60 days",
        "count": ["page_view", "page_view", "", 3],
        "min_events": 0,
        "every": "PT1H",
        "colour": "blue",
    })
    assert sorted(paths(problems)) == sorted(["window", "count[1]", "count[2]", "count[3]", "min_events", "every",
                                              "colour"])


@pytest.mark.parametrize(
    ("settings", "path"),
    [
        ({"window": "-P60D"}, "window"),
        ({"window": "P0D"}, "window"),
        ({"window": "P3Y"}, "window"),
        ({"count": []}, "count"),
        ({"count": "page_view"}, "count"),
        ({"min_events": True}, "min_events"),
        ({"min_events": 1.5}, "min_events"),
        ({"every": "P0D"}, "every"),
    ],
)
def test_each_setting_is_checked(settings, path):
    assert paths(validate_settings(settings)) == [path]


def test_settings_must_be_an_object():
    assert paths(validate_settings(None)) == [""]


def test_window_start():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert window_start(None, now) == datetime(2026, 4, 2, tzinfo=UTC)
    assert window_start({"window": "P1M"}, now) == datetime(2026, 5, 1, tzinfo=UTC)
