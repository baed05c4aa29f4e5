"""bench/volume.py: each figure printed beside its goal, met or missed (no timing here)."""
from __future__ import annotations

from bench.volume import render


def test_each_figure_is_judged_against_its_goal():
    level = {"events_per_second": 600.0, "drain_seconds": 3.0}
    results = {
        "levels": [
            {**level, "contacts": 1000, "per_request_ms": {"GET /contacts/{id}": 2.0}},
            {**level, "contacts": 10000, "events_per_second": 120.0, "per_request_ms": {"GET /contacts/{id}": 5.0}},
        ],
        "import": {"rows": 5000, "rows_per_second": 2500.0, "cpu_ms_per_row": 0.45},
        "uploaded_import": {"rows": 10000, "status": "done", "rows_per_second": 900.0},
        "segment_build": {"contacts": 10000, "status": "ready", "count": 12, "seconds": 45.0},
        "burst": {"signups": 5000, "drained_seconds": 100.0, "accept_seconds": 10.0, "emails": 10000},
        "criteria": {"contacts": 1000, "criteria": {"one field": {"contacts_per_second": 250_000.0}}},
    }
    lines = render(results).splitlines()

    def verdict(start: str) -> str:
        return next(line for line in lines if line.strip().startswith(start)).split()[-1]

    assert verdict("growing to 1,000 contacts") == "ok"
    assert verdict("growing to 10,000 contacts") == "MISSED"
    assert verdict("GET /contacts/{id}") == "MISSED"  # 2.5 times its time at the smallest level
    assert verdict("CSV import, 5,000 rows") == "ok"
    assert verdict("CSV import, one uploaded file") == "MISSED"
    assert verdict("segment build over 10,000 contacts") == "MISSED"
    assert verdict("5,000 signups through welcome-series") == "ok"
    assert verdict("one field") == "ok"
    assert "0.45 ms of CPU a line, every thread of the stack" in render(results)
