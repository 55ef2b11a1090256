"""Lets a script's ``import feast`` give ladle when Feast itself is not installed.

Python runs this at start-up, through ``ladle_feast_shim.pth`` in site-packages (installed with ladle).
It only appends a finder to the *end* of ``sys.meta_path``: Python asks it about ``feast`` only after
every other finder (a real Feast on ``sys.path`` included) found nothing, so it never shadows Feast,
and nothing of ladle is imported until a script imports ``feast``. ``LADLE_NO_FEAST_SHIM=1`` turns it
off. Kept tiny, importing only what Python has loaded at start-up anyway (not even ``typing``): it
runs in every Python process.
"""

import os
import sys

# no `typing` and no `from __future__ import annotations`: each would cost every Python start-up ~10 ms
TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

__all__ = ["LadleFeastFinder", "install"]


class LadleFeastFinder:
    """The last meta-path finder: answers ``feast`` with ladle's stand-in (see ``ladle.repo.feast_compat``)."""

    ladle_feast_shim = True

    @classmethod
    def find_spec(cls, fullname: str, path: object = None, target: object = None) -> "ModuleSpec | None":
        if fullname != "feast":
            return None
        from ladle.repo.feast_compat import stand_in_spec

        return stand_in_spec()


def install() -> None:
    """Append :class:`LadleFeastFinder` to ``sys.meta_path`` once (unless ``LADLE_NO_FEAST_SHIM`` is set)."""
    if os.environ.get("LADLE_NO_FEAST_SHIM"):
        return
    if not any(getattr(f, "ladle_feast_shim", False) for f in sys.meta_path):
        sys.meta_path.append(LadleFeastFinder)
