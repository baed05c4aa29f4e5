"""Reference scenarios run end to end on the local stack (clock-scaled), through the HTTP API."""
from __future__ import annotations

import pytest

from tests.scenarios_helpers import journey, post, publish, reference, sent_steps

CONSENT = {"email": True, "source": "test"}
DAY = 86400


@pytest.mark.time_scale(DAY)
def test_welcome_series_profile_completed_and_not(api):
    publish(api, reference("welcome-series"))
    post(api, "signup", "ana@example.com", consent=CONSENT, traits={"first_name": "Ana"})
    post(api, "signup", "bob@example.com", consent=CONSENT)
    post(api, "profile_saved", "ana@example.com", traits={"attributes": {"profile_completed": True}})
    ana = journey(api, "ana@example.com", "welcome-series", status="completed")
    bob = journey(api, "bob@example.com", "welcome-series", status="completed")
    assert ana["path"] == ["welcome", "profile-done", "discover"]
    assert bob["path"] == ["welcome", "profile-done", "complete-profile"]
    assert sent_steps(api, "ana@example.com") == ["discover", "welcome"]
    assert sent_steps(api, "bob@example.com") == ["complete-profile", "welcome"]
