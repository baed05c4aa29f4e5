"""The domain clock: the wall clock on AWS, `scale` times faster on the local stack."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib import clock


@pytest.fixture(autouse=True)
def _unscaled():
    clock.reset()
    yield
    clock.reset()


def test_unscaled_the_domain_clock_is_the_wall_clock():
    assert abs(clock.now() - datetime.now(timezone.utc)) < timedelta(seconds=1)
    assert clock.scale() == 1 and clock.wall_seconds(60) == 60


def test_scaled_a_day_of_the_domain_passes_in_a_second():
    clock.run_scaled(86400)
    start_domain, start_wall = clock.now(), time.monotonic()
    time.sleep(0.05)
    domain = (clock.now() - start_domain).total_seconds()
    wall = time.monotonic() - start_wall
    assert 0.9 * wall * 86400 <= domain <= 1.1 * wall * 86400
    assert clock.wall_seconds(3600) == pytest.approx(3600 / 86400)


def test_scaling_starts_from_where_the_clock_is_and_keeps_jumps():
    clock.advance(timedelta(days=3))
    before = clock.now()
    clock.run_scaled(1000)
    assert abs(clock.now() - before) < timedelta(minutes=1)  # no jump when the pace changes
    clock.advance(timedelta(days=2))
    assert clock.now() - before >= timedelta(days=2)
    clock.reset()
    assert abs(clock.now() - datetime.now(timezone.utc)) < timedelta(seconds=1)


@pytest.mark.parametrize("scale", [0, -1, float("inf"), float("nan")])
def test_the_scale_is_a_positive_number(scale):
    with pytest.raises(ValueError):
        clock.run_scaled(scale)
