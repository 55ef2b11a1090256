"""``Aggregation``: one windowed aggregate of a source column (Feast's ``feast.aggregation.Aggregation``).

Function names are spelled as in Feast (``sum``, ``count``, ``mean``, ``min``, ``max``, ``std``...), with
aliases (``avg`` -> ``mean``, ``stddev`` -> ``std``, ``variance`` -> ``var``); the list-valued functions
take their size in the name: ``last_5`` keeps the 5 latest values, ``first_3`` the 3 earliest.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from ladle.errors import InvalidDefinition

__all__ = ["AGGREGATION_FUNCTIONS", "Aggregation", "parse_function"]

#: canonical function names; ``last_k``/``first_k`` are written ``last_<n>``/``first_<n>``
AGGREGATION_FUNCTIONS: tuple[str, ...] = (
    "sum",
    "count",
    "mean",
    "min",
    "max",
    "std",
    "var",
    "count_distinct",
    "first",
    "last",
    "last_k",
    "first_k",
)
_ALIASES = {
    "avg": "mean",
    "average": "mean",
    "stddev": "std",
    "stddev_samp": "std",
    "std_samp": "std",
    "variance": "var",
    "var_samp": "var",
    "nunique": "count_distinct",
    "distinct_count": "count_distinct",
}
_SIZED = re.compile(r"^(last|first)_(\d+)$")
#: the largest n of ``last_<n>``/``first_<n>`` (per-key state holds n values per window)
MAX_K = 1000


def parse_function(function: str) -> tuple[str, int | None]:
    """``(canonical name, parameter)`` of a function as written: ``"avg"`` -> ``("mean", None)``,
    ``"last_5"`` -> ``("last_k", 5)``. Raises ``ValueError`` naming the known functions otherwise."""
    text = function.strip().lower() if isinstance(function, str) else ""
    sized = _SIZED.match(text)
    if sized:
        k = int(sized.group(2))
        if not 1 <= k <= MAX_K:
            raise ValueError(f"'{function}' keeps {k} values; the size must be between 1 and {MAX_K}")
        return f"{sized.group(1)}_k", k
    canonical = _ALIASES.get(text, text)
    if canonical in AGGREGATION_FUNCTIONS and canonical not in ("last_k", "first_k"):
        return canonical, None
    if text.startswith("approx_"):
        raise ValueError(
            f"'{function}' is not supported: ladle's windows are exact, offline and online alike "
            "(use count_distinct, or last_<n> for recent values)"
        )
    known = [f for f in AGGREGATION_FUNCTIONS if not f.endswith("_k")] + ["last_<n>", "first_<n>"]
    raise ValueError(f"unknown aggregation function {function!r}; known: {', '.join(known)} (aliases: avg, stddev)")


class Aggregation:
    """One aggregate over a time window: the events of a key with ``t - time_window < ts <= t``.

    ``name`` names the output feature; without it the name is Feast's default,
    ``{function}_{column}_{seconds}s`` (``sum_amount_3600s``), unless the view's schema lists one field per
    aggregation in order (then the i-th field names the i-th aggregation). ``slide_interval`` is a storage
    hint only: every value served or trained on is the exact window ending at the request time.

    >>> agg = Aggregation(column="amount", function="avg", time_window=timedelta(hours=1))
    >>> agg.canonical_function, agg.default_name
    ('mean', 'avg_amount_3600s')
    """

    def __init__(
        self,
        column: str = "",
        function: str = "",
        time_window: timedelta | None = None,
        slide_interval: timedelta | None = None,
        name: str | None = None,
    ) -> None:
        label = name or f"{function}({column})"
        if not isinstance(column, str) or not column:
            raise InvalidDefinition("Aggregation", label, f"column must be a non-empty string, got {column!r}")
        if not isinstance(function, str) or not function:
            raise InvalidDefinition("Aggregation", label, f"function must be a non-empty string, got {function!r}")
        for what, value in (("time_window", time_window), ("slide_interval", slide_interval)):
            if value is not None and not isinstance(value, timedelta):
                raise InvalidDefinition(
                    "Aggregation",
                    label,
                    f"{what} must be a datetime.timedelta, got {value!r}",
                    "e.g. timedelta(hours=1)",
                )
        if name is not None and (not isinstance(name, str) or not name):
            raise InvalidDefinition("Aggregation", label, f"name must be a non-empty string, got {name!r}")
        self.column = column
        self.function = function
        self.time_window = time_window
        self.slide_interval = slide_interval
        self.name = name

    @property
    def canonical_function(self) -> str:
        """The function's canonical name (``avg`` -> ``mean``); raises ``ValueError`` for an unknown one."""
        return parse_function(self.function)[0]

    @property
    def param(self) -> int | None:
        """The size of ``last_<n>``/``first_<n>``, else None."""
        return parse_function(self.function)[1]

    @property
    def default_name(self) -> str:
        """Feast's default output name: ``{function}_{column}``, plus ``_{seconds}s`` for a time window."""
        base = f"{self.function}_{self.column}"
        if self.time_window is not None and self.time_window.total_seconds() > 0:
            return f"{base}_{int(self.time_window.total_seconds())}s"
        return base

    @property
    def label(self) -> str:
        """How errors name this aggregation: ``sum(amount, 1:00:00)``."""
        return self.name or f"{self.function}({self.column}, {self.time_window})"

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description."""
        return {
            "column": self.column,
            "function": self.function,
            "time_window_seconds": None if self.time_window is None else self.time_window.total_seconds(),
            "slide_interval_seconds": None if self.slide_interval is None else self.slide_interval.total_seconds(),
            "name": self.name,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Aggregation:
        """Inverse of :meth:`to_dict`."""
        window, slide = data.get("time_window_seconds"), data.get("slide_interval_seconds")
        return cls(
            column=data["column"],
            function=data["function"],
            time_window=None if window is None else timedelta(seconds=window),
            slide_interval=None if slide is None else timedelta(seconds=slide),
            name=data.get("name"),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Aggregation) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.column, self.function, self.time_window, self.slide_interval, self.name))

    def __repr__(self) -> str:
        extra = "" if self.name is None else f", name={self.name!r}"
        return (
            f"Aggregation(column={self.column!r}, function={self.function!r}, time_window={self.time_window!r}{extra})"
        )
