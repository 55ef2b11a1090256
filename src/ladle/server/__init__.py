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

from ladle.server.app import create_app
from ladle.server.run import serve
from ladle.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app", "serve"]
