"""The web console's files: static, shipped inside chalicelib (Chalice packages it whole), read once.

Only the files present in `static/` at start are served, by exact name: a requested name is a
key of that table, never a path joined onto the disk, so nothing outside the folder can be read.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

STATIC = Path(__file__).parent / "static"
PAGE = "index.html"
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml; charset=utf-8",
          ".json": "application/json; charset=utf-8"}


@dataclass(frozen=True)
class Asset:
    name: str
    content_type: str
    text: str


@cache
def _all() -> dict[str, Asset]:
    return {path.name: Asset(path.name, _TYPES[path.suffix], path.read_text(encoding="utf-8"))
            for path in sorted(STATIC.iterdir()) if path.is_file() and path.suffix in _TYPES}


def page() -> Asset:
    """The console's one HTML page."""
    return _all()[PAGE]


def asset(name: str) -> Asset | None:
    """A script, style sheet or picture of the console, by its file name (None when there is none)."""
    found = _all().get(name)
    return None if found is None or found.name == PAGE else found


def names() -> list[str]:
    return sorted(_all())
