"""Starting the feature server under uvicorn (what ``ladle serve`` calls).

Every worker process imports :func:`ladle.server.app.app_from_env` and builds its own app from the
settings passed in the environment. SIGINT/SIGTERM stop accepting connections and let requests in
flight finish (up to :data:`GRACEFUL_SHUTDOWN_S`), then the registry thread stops and the stores close.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from typing import Any

from ladle.config import load_repo_config
from ladle.errors import MissingExtra
from ladle.server.settings import ENV_VAR, ServerSettings

__all__ = ["DEFAULT_PORT", "GRACEFUL_SHUTDOWN_S", "serve"]

DEFAULT_PORT = 6566
#: how long in-flight requests may take to finish once shutdown starts
GRACEFUL_SHUTDOWN_S = 30
_FACTORY = "ladle.server.app:app_from_env"
#: how long a worker may take to answer uvicorn's health check before it is restarted
WORKER_HEALTHCHECK_S = 60


def serve(
    settings: ServerSettings,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    workers: int = 1,
    access_log: bool = True,
    keep_alive_timeout: int = 5,
) -> None:
    """Run the server until it is stopped (blocks)."""
    _require_extra()
    import uvicorn

    from ladle.server.protocol import ENV_VAR as LIMITS_ENV_VAR
    from ladle.server.protocol import GuardedHttpToolsProtocol, connection_limits

    os.environ[ENV_VAR] = dataclasses.replace(settings, bind_host=host).to_env()
    section = load_repo_config(settings.repo_path, settings.fs_yaml_file).feature_server
    os.environ[LIMITS_ENV_VAR] = connection_limits(section.header_timeout_sec, section.max_connections)
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # workers share their metrics through files (prometheus_client's multiprocess mode)
        metrics_dir = tempfile.mkdtemp(prefix="ladle-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run(
            _FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=access_log,
            timeout_keep_alive=keep_alive_timeout,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            lifespan="on",
            http=GuardedHttpToolsProtocol,
            server_header=False,
            **_worker_health_options(),
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


def _worker_health_options() -> dict[str, Any]:
    """A generous worker health-check timeout where uvicorn has one (>= 0.54 kills a worker that does not
    answer within 5 s, which a loaded machine's first import can exceed)."""
    import inspect

    import uvicorn

    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.run).parameters:
        return {"timeout_worker_healthcheck": WORKER_HEALTHCHECK_S}
    return {}


def _require_extra() -> None:
    """A missing server dependency is one line naming the extra, not an ImportError at worker start."""
    import importlib.util

    for module in ("fastapi", "uvicorn", "prometheus_client", "httpx"):
        if importlib.util.find_spec(module) is None:
            raise MissingExtra("the feature server (ladle serve)", "server", module)
