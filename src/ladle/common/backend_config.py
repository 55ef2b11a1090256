"""The base of every backend's settings model (an ``offline_store:``/``online_store:``/``batch_engine:`` section).

It lives at the bottom of the package so that ``ladle.config`` (which validates sections) and the backends
(which declare them beside their stores) both depend on it, never on each other.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["BackendConfig"]


class BackendConfig(BaseModel):
    """Settings of one backend: ``type`` (the name or class path that selected it) plus the backend's own keys.

    A backend's model subclasses it and narrows ``type`` to its names (``type: Literal["sqlite"] = "sqlite"``);
    unknown keys are refused, and a parsed config is immutable.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
