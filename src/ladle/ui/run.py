"""Starting the UI under uvicorn (what ``ladle ui`` calls): one process, the app built here."""

from __future__ import annotations

import dataclasses
import importlib.util

from ladle.errors import MissingExtra
from ladle.server.run import GRACEFUL_SHUTDOWN_S
from ladle.server.settings import ServerSettings

__all__ = ["DEFAULT_UI_PORT", "serve_ui"]

#: Feast's ``feast ui`` port
DEFAULT_UI_PORT = 8888


def serve_ui(settings: ServerSettings, host: str = "127.0.0.1", port: int = DEFAULT_UI_PORT) -> None:
    """Serve the UI until stopped (blocks); SIGINT/SIGTERM let requests in flight finish."""
    for module in ("fastapi", "uvicorn"):
        if importlib.util.find_spec(module) is None:
            raise MissingExtra("the web UI (ladle ui)", "server", module)
    import uvicorn

    from ladle.ui.app import create_ui_app

    app = create_ui_app(dataclasses.replace(settings, bind_host=host))
    uvicorn.run(app, host=host, port=port, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, server_header=False)
