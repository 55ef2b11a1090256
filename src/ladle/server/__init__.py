"""The feature server: ``ladle serve``, Feast's HTTP API over a :class:`~ladle.store.FeatureStore`.

Modules, one job each: :mod:`.app` (``create_app``: wiring), :mod:`.routes` (the endpoints),
:mod:`.schemas` (request/response models → OpenAPI), :mod:`.online_json` (the response encoding),
:mod:`.errors` (exception → status), :mod:`.auth` (scoped API keys), :mod:`.limits` (body size and
deadline), :mod:`.same_origin` (JSON only, Host and Origin checks), :mod:`.event_times` (far-future rows),
:mod:`.state` (request work off the event loop), :mod:`.breaker` (the online store's circuit breaker),
:mod:`.metrics` (Prometheus), :mod:`.refresh` (background registry refresh), :mod:`.health`
(readiness), :mod:`.settings`, :mod:`.protocol` (header deadline, connection cap) and :mod:`.run` (uvicorn).

>>> # from ladle.server import ServerSettings, create_app
>>> # app = create_app(ServerSettings(repo_path="feature_repo"))   # any ASGI server can run it
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ServerSettings", "create_app", "serve"]

# Imported on first use: uvicorn's worker processes import ``ladle.server.protocol`` before they answer the
# parent's health check, and must not pay for FastAPI and the whole store there (a slow start got workers
# killed as hung).
_WHERE = {"ServerSettings": "ladle.server.settings", "create_app": "ladle.server.app", "serve": "ladle.server.run"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'ladle.server' has no attribute {name!r}")
