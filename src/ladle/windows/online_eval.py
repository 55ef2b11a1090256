"""Every aggregate of a read, for many keys at once, from the events fetched from the window state.

The same rules as the reference evaluator (:func:`ladle.windows.functions.evaluate`): the window ending at
``at`` holds the events with ``at - W < ts <= at``; null values are skipped; an empty window gives 0 for
``count``/``count_distinct`` and null for the rest; ``std``/``var`` are sample statistics; ``first``/``last``
and ``first_k``/``last_k`` order events by time, then created time (missing first), then value.

Vectorized with numpy over all keys of a read (a read holds a few thousand events at most, where Arrow's
group-by costs more to start than to run): sums and counts are ``bincount``s; ordered picks (min, max,
first, last) sort once by (key, order) and take each key's first or last row; values are compared through
their dense ranks, so text, timestamps and booleans need no special case.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ladle.windows.events import EventLayout
from ladle.windows.functions import reduce_values
from ladle.windows.spec import WindowSpec

__all__ = ["CREATED", "aggregate"]

#: the payload column holding the source's created timestamp (for the tie order of first/last)
CREATED = "__created"
#: up to this many fetched events, aggregates are reduced in plain Python
SMALL = 256
#: functions whose value depends on the event order
_ORDERED = {"first", "last", "first_k", "last_k"}


@dataclass
class _Column:
    """One aggregated column: its type, validity, dense ranks (order and equality), and its values as
    numbers (fixed columns: int64 or float64, booleans and timestamps as int64) or as Arrow (the rest)."""

    type: pa.DataType
    valid: np.ndarray
    ranks: np.ndarray
    numbers: np.ndarray | None
    arrow: pa.Array | None

    @classmethod
    def of_numbers(cls, t: pa.DataType, valid: np.ndarray, numbers: np.ndarray) -> _Column:
        ranks = np.unique(numbers, return_inverse=True)[1].astype(np.int64).reshape(-1)
        return cls(t, valid, ranks, numbers, None)

    @classmethod
    def of_arrow(cls, values: pa.Array) -> _Column:
        valid = values.is_valid().to_numpy(zero_copy_only=False)
        ranks = np.zeros(0, np.int64)
        if len(values):
            ranks = pc.rank(values, sort_keys="ascending", tiebreaker="dense").to_numpy().astype(np.int64)
        return cls(values.type, valid, ranks, None, values)

    def take(self, index: np.ndarray) -> pa.Array:
        """The values at ``index`` (``-1``: null), of the column's type."""
        mask = index < 0
        if self.arrow is not None:
            return self.arrow.take(pa.array(index, mask=mask))
        assert self.numbers is not None
        picked = (
            self.numbers[np.where(mask, 0, index)] if len(self.numbers) else np.zeros(len(index), self.numbers.dtype)
        )
        raw = pa.array(picked, mask=mask)
        return raw if raw.type == self.type else raw.cast(self.type)


def aggregate(
    specs: Sequence[WindowSpec],
    key_count: int,
    key_index: np.ndarray,
    ts: np.ndarray,
    layout: EventLayout,
    payloads: Sequence[bytes],
    at_us: int,
) -> dict[str, pa.Array]:
    """``{spec name: one value per key}`` for the windows ending at ``at_us``.

    Event ``i`` (``payloads[i]``, laid out by ``layout``) belongs to key ``key_index[i]``
    (``0 <= key_index[i] < key_count``) at ``ts[i]`` (UTC micros, ``<= at_us``).
    """
    if len(payloads) <= SMALL:
        return _aggregate_small(specs, key_count, key_index, ts, layout, payloads, at_us)
    fixed, variable = layout.decode_raw(payloads)
    types = dict(layout.columns)
    prepared: dict[str, _Column] = {}
    for name in dict.fromkeys(s.column for s in specs):
        if name in fixed:
            prepared[name] = _Column.of_numbers(types[name], *fixed[name])
        else:
            prepared[name] = _Column.of_arrow(variable[name])
    order_base = _order_base(ts, fixed.get(CREATED))
    windows: dict[tuple[str, int], _Window] = {}
    out: dict[str, pa.Array] = {}
    for spec in specs:
        group = windows.get((spec.column, spec.window_us))
        if group is None:
            col = prepared[spec.column]
            sel = np.flatnonzero((ts > at_us - spec.window_us) & col.valid)
            group = windows[(spec.column, spec.window_us)] = _Window(col, sel, key_index[sel], key_count, order_base)
        out[spec.name] = _finish(spec, group.value(spec))
    return out


def _aggregate_small(
    specs: Sequence[WindowSpec],
    key_count: int,
    key_index: np.ndarray,
    ts: np.ndarray,
    layout: EventLayout,
    payloads: Sequence[bytes],
    at_us: int,
) -> dict[str, pa.Array]:
    """:func:`aggregate` for a few events: the reference's own reduction (:func:`reduce_values`) per key, in
    plain Python, which costs less than numpy's per-call overhead at this size."""
    decoded = layout.decode(payloads)
    values = {name: decoded[name].to_pylist() for name in dict.fromkeys(s.column for s in specs)}
    created = decoded[CREATED].cast(pa.int64()).to_pylist() if CREATED in decoded else [None] * len(payloads)
    stamps = ts.tolist()
    per_key: list[list[int]] = [[] for _ in range(key_count)]
    for i, k in enumerate(key_index.tolist()):
        per_key[k].append(i)
    out: dict[str, pa.Array] = {}
    for spec in specs:
        start, column = at_us - spec.window_us, values[spec.column]
        results = []
        for rows in per_key:
            picked = (
                sorted(
                    ((stamps[i], created[i] is not None, created[i] or 0, column[i]), column[i])
                    for i in rows
                    if column[i] is not None and stamps[i] > start
                )
                if spec.function in _ORDERED
                else [(None, column[i]) for i in rows if column[i] is not None and stamps[i] > start]
            )
            results.append(reduce_values(spec.function, spec.param, [v for _, v in picked]))
        out[spec.name] = pa.array(results, spec.dtype)
    return out


def _order_base(ts: np.ndarray, created: tuple[np.ndarray, np.ndarray] | None) -> list[np.ndarray]:
    """Sort keys of the event order before the value: time, created present, created time."""
    if created is None:
        return [ts]
    present, micros = created
    return [ts, present.astype(np.int8), micros]


class _Window:
    """The non-null events of one column inside one window, and what several functions share of them."""

    def __init__(
        self, col: _Column, sel: np.ndarray, keys: np.ndarray, key_count: int, order_base: list[np.ndarray]
    ) -> None:
        self.col, self.sel, self.keys, self.key_count, self.order_base = col, sel, keys, key_count, order_base

    @functools.cached_property
    def counts(self) -> np.ndarray:
        return np.bincount(self.keys, minlength=self.key_count)

    @functools.cached_property
    def fsum(self) -> np.ndarray:
        numbers = self.col.numbers
        if numbers is None or pa.types.is_timestamp(self.col.type):
            raise TypeError(f"the column is {self.col.type}, not numeric")
        return np.bincount(self.keys, weights=numbers[self.sel].astype(np.float64), minlength=self.key_count)

    @functools.cached_property
    def value_order(self) -> np.ndarray:
        return np.lexsort((self.col.ranks[self.sel], self.keys))

    @functools.cached_property
    def event_order(self) -> np.ndarray:
        base = [b[self.sel] for b in reversed(self.order_base)]
        return np.lexsort((self.col.ranks[self.sel], *base, self.keys))

    def value(self, spec: WindowSpec) -> pa.Array:
        function = spec.function
        if function == "count":
            return pa.array(self.counts.astype(np.int64))
        if function == "count_distinct":
            width = int(self.col.ranks.max(initial=0)) + 1
            pairs = np.unique(self.keys * width + self.col.ranks[self.sel])
            return pa.array(np.bincount(pairs // width, minlength=self.key_count).astype(np.int64))
        if function in ("sum", "mean", "std", "var"):
            return self._moment(function)
        if function in ("min", "max"):
            return _pick(self.col, self.sel, self.keys, self.value_order, self.key_count, last=function == "max")
        if function in ("first", "last"):
            return _pick(self.col, self.sel, self.keys, self.event_order, self.key_count, last=function == "last")
        return _lists(spec, self.col, self.sel, self.keys, self.event_order, self.key_count)

    def _moment(self, function: str) -> pa.Array:
        counts, empty = self.counts, self.counts == 0
        numbers = self.col.numbers
        if function == "sum" and numbers is not None and numbers.dtype == np.int64:
            sums = np.zeros(self.key_count, np.int64)
            np.add.at(sums, self.keys, numbers[self.sel])
            return pa.array(sums, mask=empty)
        if function == "sum":
            return pa.array(self.fsum, mask=empty)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.fsum / counts
            if function == "mean":
                return pa.array(mean, mask=empty)
            assert numbers is not None
            dev = numbers[self.sel] - mean[self.keys]
            var = np.bincount(self.keys, weights=dev * dev, minlength=self.key_count) / (counts - 1)
        return pa.array(np.sqrt(var) if function == "std" else var, mask=counts < 2)


def _bounds(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of each run of equal keys in ``sorted_keys``."""
    n = len(sorted_keys)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    change = np.empty(n, bool)
    change[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:]
    ends[-1] = n
    return starts, ends


def _pick(col: _Column, sel: np.ndarray, keys: np.ndarray, order: np.ndarray, key_count: int, last: bool) -> pa.Array:
    """Per key the value of its first (or last) event in ``order``; null for a key without one."""
    sorted_keys = keys[order]
    starts, ends = _bounds(sorted_keys)
    rows = sel[order[ends - 1 if last else starts]]
    index = np.full(key_count, -1, np.int64)
    index[sorted_keys[starts]] = rows
    return col.take(index)


def _lists(
    spec: WindowSpec, col: _Column, sel: np.ndarray, keys: np.ndarray, order: np.ndarray, key_count: int
) -> pa.Array:
    """``first_k``/``last_k``: per key its first/last k values in event order (oldest first); null when none."""
    k = spec.param or 0
    sorted_keys = keys[order]
    starts, ends = _bounds(sorted_keys)
    values = col.take(sel[order]).to_pylist()
    out: list[list[object] | None] = [None] * key_count
    for key, start, end in zip(sorted_keys[starts].tolist(), starts.tolist(), ends.tolist(), strict=True):
        out[key] = (
            values[start : min(end, start + k)] if spec.function == "first_k" else values[max(start, end - k) : end]
        )
    return pa.array(out, pa.list_(col.type))


def _finish(spec: WindowSpec, values: pa.Array) -> pa.Array:
    """``values`` as the spec's declared type."""
    if values.type == spec.dtype:
        return values
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), spec.dtype)
    return values.cast(spec.dtype, safe=False)
