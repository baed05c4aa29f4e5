"""Parcours: the switchboard. Routes, event sources and schedules, each wired to one service."""
from __future__ import annotations

from chalice import Chalice

from chalicelib.api import contacts, events, health, keys

app = Chalice(app_name="parcours")

for blueprint in (health, events, contacts, keys):
    app.register_blueprint(blueprint.bp)
