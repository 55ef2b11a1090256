"""The result of ``ladle check``: one row per item and object, failures naming the object and the fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["CheckItem", "CheckReport"]


@dataclass(frozen=True)
class CheckItem:
    """One checked item: ``check`` (``registry``, ``source``, ``freshness``, ``online read``, ``skew``), the
    object it is about, whether it passed, what was found and, for a failure, the fix."""

    check: str
    target: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass
class CheckReport:
    """Every item checked, in the order they ran."""

    items: list[CheckItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every item passed."""
        return all(i.ok for i in self.items)

    @property
    def failures(self) -> list[CheckItem]:
        """The items that failed."""
        return [i for i in self.items if not i.ok]

    def add(self, check: str, target: str, ok: bool, detail: str, fix: str = "") -> None:
        """Record one item (``fix`` is kept for failures only)."""
        self.items.append(CheckItem(check, target, ok, detail, "" if ok else fix))

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (what ``ladle check --json`` prints)."""
        return {
            "ok": self.ok,
            "failed": len(self.failures),
            "checked": len(self.items),
            "items": [asdict(i) for i in self.items],
        }
