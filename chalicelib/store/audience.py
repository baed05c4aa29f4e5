"""Audience tables (lists, segments, settings, imports): registered here, created with the rest."""
from __future__ import annotations

from pynamodb.models import Model

AUDIENCE_MODELS: list[type[Model]] = []
