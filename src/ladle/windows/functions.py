"""The aggregation functions: what each computes, its output type, what state it needs, and the reference
evaluator — the semantics every backend (offline SQL, online state) must reproduce exactly.

Rules (see docs/semantics.md, "Windowed aggregations"): the window ending at ``t`` holds a key's events with
``t - W < ts <= t``; events whose column is null are skipped; an empty window gives 0 for ``count`` and
``count_distinct`` and null for every other function; ``std``/``var`` are sample statistics (n - 1; null for
one value). ``first``/``last`` (and ``first_k``/``last_k``) order events by event time, then created time
(a missing created time sorts first), then by the value itself, so ties are broken the same everywhere;
``first_k``/``last_k`` list their values in that (chronological) order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from ladle.definitions.stream_feature_view import aggregation_output_dtype
from ladle.types import from_arrow, to_arrow
from ladle.windows.spec import WindowSpec

__all__ = ["FUNCTIONS", "FunctionInfo", "evaluate", "output_arrow_type", "reduce_values", "to_micros"]


@dataclass(frozen=True)
class FunctionInfo:
    """One function of the catalog. ``numeric``: its column must be numeric; ``keeps_values``: its exact state
    needs the window's values (``count_distinct``, ``first_k``/``last_k``), not a fixed-size summary."""

    name: str
    numeric: bool
    keeps_values: bool
    description: str


FUNCTIONS: dict[str, FunctionInfo] = {
    f.name: f
    for f in (
        FunctionInfo("sum", True, False, "sum of the values"),
        FunctionInfo("count", False, False, "number of non-null values"),
        FunctionInfo("mean", True, False, "arithmetic mean (alias avg)"),
        FunctionInfo("min", False, False, "smallest value"),
        FunctionInfo("max", False, False, "largest value"),
        FunctionInfo("std", True, False, "sample standard deviation, n - 1 (alias stddev)"),
        FunctionInfo("var", True, False, "sample variance, n - 1 (alias variance)"),
        FunctionInfo("count_distinct", False, True, "number of distinct non-null values (exact)"),
        FunctionInfo("first", False, False, "earliest value"),
        FunctionInfo("last", False, False, "latest value"),
        FunctionInfo("first_k", False, True, "the k earliest values, oldest first (written first_<k>)"),
        FunctionInfo("last_k", False, True, "the k latest values, oldest first (written last_<k>)"),
    )
}


def output_arrow_type(function: str, input_type: pa.DataType) -> pa.DataType:
    """The Arrow type of canonical ``function`` over a column of ``input_type`` (see
    :func:`ladle.definitions.stream_feature_view.aggregation_output_dtype`)."""
    return to_arrow(aggregation_output_dtype(function, from_arrow(input_type)))


def to_micros(ts: datetime) -> int:
    """Epoch microseconds of ``ts`` (naive means UTC)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    delta = ts - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def reduce_values(function: str, param: int | None, values: Sequence[Any]) -> Any:
    """``function`` over the non-null ``values`` of one window, already in event order (the total order above)."""
    n = len(values)
    if function == "count":
        return n
    if function == "count_distinct":
        return len(set(values))
    if n == 0:
        return None
    if function == "sum":
        return sum(values)
    if function == "mean":
        return math.fsum(values) / n
    if function in ("var", "std"):
        if n < 2:
            return None
        mean = math.fsum(values) / n
        var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
        return var if function == "var" else math.sqrt(var)
    if function == "min":
        return min(values)
    if function == "max":
        return max(values)
    if function == "first":
        return values[0]
    if function == "last":
        return values[-1]
    if function == "first_k":
        return list(values[: param or 0])
    if function == "last_k":
        return list(values[-(param or 0) :])
    raise ValueError(f"unknown aggregation function {function!r}")


def _order_key(ts: int, created: int | None, value: Any) -> tuple[int, int, int, Any]:
    # a missing created time sorts before any present one
    return (ts, 0 if created is None else 1, created or 0, value)


def evaluate(
    specs: Sequence[WindowSpec],
    events: pa.Table,
    at: datetime,
    *,
    timestamp_field: str,
    created_field: str | None = None,
) -> dict[str, Any]:
    """Every spec over one key's ``events`` for the window ending at ``at``: ``{feature name: value}``.

    ``events`` holds the key's rows (``timestamp_field``, the specs' columns, optionally ``created_field``);
    rows after ``at`` or at/before ``at - window`` are outside. A plain-Python reference: exact and slow.

    >>> from datetime import timedelta
    >>> spec = WindowSpec("n", "x", "count", None, timedelta(hours=1), None, pa.int64())
    >>> t = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    >>> ev = pa.table({"ts": [t - timedelta(hours=1), t], "x": [1.0, 2.0]})
    >>> evaluate([spec], ev, t, timestamp_field="ts")
    {'n': 1}
    """
    rows = events.to_pylist()
    end = to_micros(at)
    out: dict[str, Any] = {}
    for spec in specs:
        start = end - spec.window_us
        picked = []
        for row in rows:
            ts_value, value = row[timestamp_field], row[spec.column]
            if ts_value is None or value is None:
                continue
            ts = to_micros(ts_value)
            if start < ts <= end:
                created = row.get(created_field) if created_field else None
                picked.append((_order_key(ts, None if created is None else to_micros(created), value), value))
        picked.sort(key=lambda item: item[0])
        out[spec.name] = reduce_values(spec.function, spec.param, [v for _, v in picked])
    return out
