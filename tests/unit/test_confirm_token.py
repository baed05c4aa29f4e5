"""The double opt-in link's token: kind `confirm`, naming contact, channel and the request."""
from __future__ import annotations

from chalicelib.channels.tracking import make_confirm_token, make_unsubscribe_token, read_token

SECRET = "s3cret-tracking-key"


def test_confirm_token_round_trip_and_names_its_request():
    token = make_confirm_token(SECRET, "ct-1", "email", "2026-11-30T10:00:00.000Z")
    assert read_token(token, SECRET, "confirm") == {"kind": "confirm", "contact_id": "ct-1", "channel": "email",
                                                    "requested_at": "2026-11-30T10:00:00.000Z"}
    assert read_token(token, "another-secret", "confirm") is None


def test_confirm_and_unsubscribe_tokens_never_stand_for_each_other():
    confirm = make_confirm_token(SECRET, "ct-1", "email", "2026-11-30T10:00:00.000Z")
    unsubscribe = make_unsubscribe_token(SECRET, "ct-1")
    for kind in ("open", "click", "unsubscribe"):
        assert read_token(confirm, SECRET, kind) is None
    assert read_token(unsubscribe, SECRET, "confirm") is None
