"""``ladle ui``: a read-only web UI of a feature repo — registry, lineage, freshness, values, history.

:func:`~ladle.ui.app.create_ui_app` builds the app (pages + JSON API under ``/api/``); :func:`serve_ui`
runs it under uvicorn. Needs the ``server`` extra. See docs/ui.md.
"""

from __future__ import annotations

from ladle.ui.run import DEFAULT_UI_PORT, serve_ui

__all__ = ["DEFAULT_UI_PORT", "serve_ui"]
