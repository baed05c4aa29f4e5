"""When the local stack fires the app's schedules: Chalice's Rate and Cron read as EventBridge does."""
from __future__ import annotations

from datetime import datetime, timezone
from itertools import islice

import pytest
from chalice.app import Cron, Rate

from chalicelib.local.schedules import occurrences

START = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)  # a Monday


def first(expression, count: int = 3) -> list[str]:
    return [moment.strftime("%a %Y-%m-%d %H:%M") for moment in islice(occurrences(expression, START), count)]


def test_a_rate_fires_every_period_from_the_start():
    assert first(Rate(1, unit=Rate.HOURS)) == ["Mon 2026-11-30 11:00", "Mon 2026-11-30 12:00", "Mon 2026-11-30 13:00"]
    assert first(Rate(30, unit=Rate.MINUTES), 2) == ["Mon 2026-11-30 10:30", "Mon 2026-11-30 11:00"]
    assert first(Rate(2, unit=Rate.DAYS), 1) == ["Wed 2026-12-02 10:00"]


def test_a_cron_fires_at_its_utc_times():
    assert first(Cron(5, 0, "*", "*", "?", "*")) == [
        "Tue 2026-12-01 00:05", "Wed 2026-12-02 00:05", "Thu 2026-12-03 00:05"]
    assert first(Cron(30, 1, "*", "*", "?", "*"), 1) == ["Tue 2026-12-01 01:30"]


def test_aws_weekdays_count_from_sunday():
    assert first(Cron(0, 9, "?", "*", "2", "*"), 2) == ["Mon 2026-12-07 09:00", "Mon 2026-12-14 09:00"]
    assert first(Cron(0, 9, "?", "*", "1,7", "*"), 2) == ["Sat 2026-12-05 09:00", "Sun 2026-12-06 09:00"]


def test_a_cron_restricted_to_years_is_refused():
    with pytest.raises(ValueError, match="years"):
        first(Cron(0, 9, "*", "*", "?", "2027"))
