"""`make run`: the HTTP API on http://127.0.0.1:8000 (PORT overrides), backed by the embedded AWS."""
from __future__ import annotations

import os

from chalice.config import Config
from chalice.local import LocalDevServer

from chalicelib.local.runtime import boot


def main() -> None:
    runtime = boot(schedules=True)
    port = int(os.environ.get("PORT", "8000"))
    if runtime.generated_key:
        print(f"Admin key for this run (set PARCOURS_ADMIN_KEY to choose one): {runtime.admin_key}")
    config = Config.create(chalice_stage="local", app_name="parcours", chalice_app=runtime.app)
    server = LocalDevServer(runtime.app, config, "127.0.0.1", port)
    try:
        server.serve_forever()
    finally:
        runtime.stop()


if __name__ == "__main__":
    main()
