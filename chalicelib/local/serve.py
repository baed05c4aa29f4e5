"""`make run`: the HTTP API on http://127.0.0.1:8000 (PORT overrides), backed by the embedded AWS,
its schedules running on the stack's clock."""
from __future__ import annotations

from typing import Any

from chalice.config import Config
from chalice.local import LocalDevServer

from chalicelib.config import LOCAL_HOST, settings
from chalicelib.local.gateway import RequestHandler
from chalicelib.local.runtime import boot


def server(app: Any) -> LocalDevServer:
    """Chalice's local HTTP server for the app, listening on PORT (links in emails say the same)."""
    config = Config.create(chalice_stage="local", app_name="parcours", chalice_app=app)
    return LocalDevServer(app, config, LOCAL_HOST, settings().port, handler_cls=RequestHandler)


def main() -> None:
    runtime = boot(schedules=True, keep_heap=True)
    if runtime.generated_key:
        print(f"Admin key for this run (set PARCOURS_ADMIN_KEY to choose one): {runtime.admin_key}")
    http = server(runtime.app)
    print(f"Serving on http://{LOCAL_HOST}:{settings().port} (clock x{settings().time_scale:g})")
    try:
        http.serve_forever()
    finally:
        runtime.stop()


if __name__ == "__main__":
    main()
