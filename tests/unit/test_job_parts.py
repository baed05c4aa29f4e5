"""How background jobs cut their work into parts (no AWS: the arithmetic alone)."""
from __future__ import annotations

import random
import uuid

import pytest

from chalicelib.audience.members import key_range
from chalicelib.store.audience import COUNTER_PREFIX, FIRST_MEMBER


@pytest.mark.parametrize("parts", [1, 2, 7, 1000])
def test_key_ranges_follow_each_other_from_the_first_member_to_the_last(parts):
    ranges = [key_range(index, parts) for index in range(parts)]
    assert ranges[0][0] == FIRST_MEMBER and ranges[-1][1] is None
    assert all(ranges[index][1] == ranges[index + 1][0] for index in range(parts - 1))
    assert all(low < high for low, high in ranges[:-1])
    assert f"{COUNTER_PREFIX}07" < FIRST_MEMBER  # counter items are never members of a range


def test_random_contact_ids_fall_in_exactly_one_range_and_spread_evenly():
    generator = random.Random(15)
    ids = [str(uuid.UUID(int=generator.getrandbits(128), version=4)) for _ in range(7000)]
    ranges = [key_range(index, 7) for index in range(7)]
    counts = [0] * 7
    for contact_id in ids:
        inside = [index for index, (low, high) in enumerate(ranges)
                  if low <= contact_id and (high is None or contact_id <= high)]
        assert len(inside) == 1
        counts[inside[0]] += 1
    assert min(counts) > 800 and max(counts) < 1200
