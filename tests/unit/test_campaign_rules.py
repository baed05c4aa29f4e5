"""The campaign rules without AWS: what a valid campaign is, who tries which A/B variant, who
wins, and when each recipient's message goes."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from chalicelib.campaigns import ab, definition, moments

UTC = timezone.utc
START = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def body(**extra) -> dict:
    base = {"id": "winter", "name": "Winter", "channel": "email", "subject": "Hi", "html": "<p>Hi</p>",
            "audience": {"lists": ["news"]}}
    base.update(extra)
    return base


def paths(found) -> list[str]:
    return [problem.path for problem in found]


def test_a_campaign_is_checked_as_scenario_messages_are():
    assert definition.problems(body()) == []
    assert definition.problems(body(channel="sms", subject=None)) != []
    sms = {"id": "s", "name": "S", "channel": "sms", "text": "Promo {{ contact.first_name }}",
           "audience": {"segments": ["vip"]}}
    assert definition.problems(sms) == []
    assert paths(definition.problems(body(html="{% include 'x' %}"))) == ["html"]
    assert paths(definition.problems(body(audience={"exclude_lists": ["x"]}))) == ["audience"]
    assert paths(definition.problems(body(audience={"lists": "news"}))) == ["audience.lists"]
    assert paths(definition.problems(body(colour="red"))) == ["colour"]
    assert paths(definition.problems(body(settings={"quiet_hours": {"from": "21:00"}}))) == \
        ["settings.quiet_hours.to"]
    assert paths(definition.problems(body(), path_id="other")) == ["id"]
    assert paths(definition.problems([])) == [""]


def test_an_ab_test_names_two_to_five_variants_a_share_and_a_winner_rule():
    good = {"variants": [{"subject": "A"}, {"subject": "B"}], "share": 20, "winner": {"by": "clicks",
                                                                                       "after": "PT2H"}}
    assert definition.problems(body(ab_test=good)) == []
    assert definition.variant_names(body(ab_test=good)) == ["A", "B"]
    assert definition.content(body(ab_test=good), "B") == {"subject": "B", "html": "<p>Hi</p>"}
    assert definition.content(body(ab_test={"variants": [{"template": "t1"}, {"subject": "x"}]}), "A") == \
        {"template": "t1"}
    bad = {"variants": [{"subject": "{{ x | shout }}"}], "share": 0, "winner": {"by": "likes", "after": "P99D"}}
    assert set(paths(definition.problems(body(ab_test=bad)))) == {
        "ab_test.variants", "ab_test.share", "ab_test.winner.by", "ab_test.winner.after"}
    broken = {"variants": [{"subject": "{{ x | shout }}"}, {"colour": "red"}]}
    assert paths(definition.problems(body(ab_test=broken))) == ["ab_test.variants[0].subject",
                                                                "ab_test.variants[1].colour"]
    alone = {key: value for key, value in body(ab_test=good).items() if key not in ("subject", "html")}
    assert paths(definition.problems(alone)) == ["ab_test.variants[0]", "ab_test.variants[1]"]  # no body
    sms = {"id": "s", "name": "S", "channel": "sms", "text": "t", "audience": {"lists": ["l"]},
           "ab_test": {"variants": [{"text": "a"}, {"text": "b"}]}}
    assert paths(definition.problems(sms)) == ["ab_test.winner.by"]  # an SMS is never seen opened


def test_the_test_share_is_split_evenly_and_the_rest_waits_for_the_winner():
    tried = Counter(ab.assignment("winter", f"contact-{number}", ["A", "B"], 20) for number in range(10000))
    assert 850 < tried["A"] < 1150 and 850 < tried["B"] < 1150  # 20 % tried, half each
    assert tried["A"] + tried["B"] + tried[ab.HELD] == 10000
    assert ab.assignment("winter", "contact-1", [], 20) is None
    assert {ab.assignment("winter", f"c{n}", ["A", "B", "C"], 100) for n in range(300)} == {"A", "B", "C"}
    assert ab.assignment("winter", "contact-7", ["A", "B"], 20) == ab.assignment("winter", "contact-7", ["A", "B"], 20)


def test_the_winner_has_the_best_rate_of_unique_opens_or_clicks():
    counts = {"A": {"sent": 100, "opened": 30, "clicked": 9}, "B": {"sent": 50, "opened": 20, "clicked": 2}}
    assert ab.winner(["A", "B"], counts, "opens") == "B"  # 40 % against 30 %
    assert ab.winner(["A", "B"], counts, "clicks") == "A"
    assert ab.winner(["A", "B"], {}, "opens") == "A"  # nothing measured: the first


def test_a_local_time_is_the_first_such_moment_in_the_contacts_zone_from_the_start():
    paris, tokyo, new_york = ZoneInfo("Europe/Paris"), ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York")
    assert moments.local_moment(START, "09:00", paris) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert moments.local_moment(START, "09:00", tokyo) == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    assert moments.local_moment(START, "09:00", new_york) == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    assert moments.local_moment(START, "08:59", tokyo) == datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
    spring = datetime(2027, 3, 28, 0, 30, tzinfo=UTC)  # 02:30 does not exist in Paris that night
    assert moments.local_moment(spring, "02:30", paris) == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)  # 03:30 there


def test_a_send_waits_for_its_local_time_and_for_the_end_of_quiet_hours():
    plan = {"at": "2026-12-01T00:00:00Z", "local_time": "09:00"}
    paris = ZoneInfo("Europe/Paris")
    assert moments.send_moment(body(), plan, START, paris, START) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert moments.send_moment(body(), plan, START, paris, datetime(2026, 12, 1, 9, tzinfo=UTC)) is None
    assert moments.send_moment(body(), {"at": "now"}, START, paris, START) is None
    quiet = body(settings={"quiet_hours": {"from": "21:00", "to": "08:00"}})
    late = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)  # 23:00 in Paris
    assert moments.send_moment(quiet, {"at": "now"}, late, paris, late) == datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


def test_a_schedule_is_now_or_a_date_time_with_its_offset_within_a_year():
    assert definition.schedule_problems({"at": "now"}, START) == []
    assert definition.schedule_problems({"at": "2026-12-02T09:00:00+01:00", "local_time": "10:30"}, START) == []
    assert paths(definition.schedule_problems({"at": "2026-12-02T09:00:00"}, START)) == ["at"]
    assert paths(definition.schedule_problems({"at": "2028-12-02T09:00:00Z"}, START)) == ["at"]
    assert paths(definition.schedule_problems({"at": "now", "local_time": "25:00", "x": 1}, START)) == \
        ["x", "local_time"]
