"""A/B tests of campaigns: who tries which variant, and which variant wins. Plain Python.

The bucket is the scenarios' own (scenarios.semantics.bucket_of): 0-99, fixed by the campaign
and the contact, so a selection run twice puts every contact in the same place.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from chalicelib.scenarios.semantics import bucket_of

HELD = "held"  # kept for the winner


def assignment(campaign_id: str, contact_id: str, variants: Sequence[str], share: int) -> str | None:
    """The variant a contact tries, HELD when it waits for the winner, None without a test.

    The test takes buckets 0 to share-1, cut evenly among the variants; the rest wait."""
    if not variants:
        return None
    bucket = bucket_of(f"{campaign_id}|{contact_id}")
    if bucket >= share:
        return HELD
    return variants[bucket * len(variants) // share]


def winner(variants: Sequence[str], counts: Mapping[str, Mapping[str, int]], by: str) -> str:
    """The variant with the best rate of unique opens (or clicks) per message sent; on a tie,
    the first listed. `counts` holds each variant's `sent`, `opened` and `clicked`."""
    fact = "opened" if by == "opens" else "clicked"

    def rate(variant: str) -> float:
        numbers = counts.get(variant) or {}
        sent = int(numbers.get("sent", 0))
        return int(numbers.get(fact, 0)) / sent if sent else 0.0

    best = variants[0]
    for variant in variants[1:]:
        if rate(variant) > rate(best):
            best = variant
    return best
