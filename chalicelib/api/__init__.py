"""HTTP adapters: Chalice blueprints, one per resource. Each view parses, calls one service, shapes."""
