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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ladle.windows.events import EventLayout, FetchedEvents
from ladle.windows.functions import reduce_values
from ladle.windows.spec import WindowSpec

__all__ = ["CREATED", "aggregate"]

#: the payload column holding the source's created timestamp (for the tie order of first/last)
CREATED = "__created"
#: up to this many fetched events, aggregates are reduced in plain Python
SMALL = 256
#: functions whose value depends on the event order
_ORDERED = {"first", "last", "first_k", "last_k"}


class _Column:
    """One aggregated column: its type, validity, its values as numbers (fixed columns: int64 or float64,
    booleans and timestamps as int64) or as Arrow (the rest), and dense ranks (order and equality) on demand."""

    def __init__(self, t: pa.DataType, valid: np.ndarray, numbers: np.ndarray | None, arrow: pa.Array | None) -> None:
        self.type, self.valid, self.numbers, self.arrow = t, valid, numbers, arrow

    @classmethod
    def of_numbers(cls, t: pa.DataType, valid: np.ndarray, numbers: np.ndarray) -> _Column:
        return cls(t, valid, numbers, None)

    @classmethod
    def of_arrow(cls, values: pa.Array) -> _Column:
        return cls(values.type, values.is_valid().to_numpy(zero_copy_only=False), None, values)

    @functools.cached_property
    def ranks(self) -> np.ndarray:
        if self.numbers is not None:
            inverse: np.ndarray = np.unique(self.numbers, return_inverse=True)[1]
            return inverse.astype(np.int64).reshape(-1)
        assert self.arrow is not None
        if len(self.arrow) == 0:
            return np.zeros(0, np.int64)
        ranks: np.ndarray = pc.rank(self.arrow, sort_keys="ascending", tiebreaker="dense").to_numpy()
        return ranks.astype(np.int64)

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
    specs: Sequence[WindowSpec], key_count: int, events: FetchedEvents, layout: EventLayout, at_us: int
) -> dict[str, pa.Array]:
    """``{spec name: one value per key}`` for the windows ending at ``at_us``.

    Event ``i`` of ``events`` (its payload laid out by ``layout``) belongs to key ``events.key_index[i]``
    (``0 <= key_index[i] < key_count``) at ``events.ts[i]`` (UTC micros, ``<= at_us``).
    """
    key_index, ts = events.key_index, events.ts
    fixed, variable = events.decode_raw(layout)
    if len(events) <= SMALL:
        return _aggregate_small(specs, key_count, key_index, ts, layout.arrays(fixed, variable), at_us)
    types = dict(layout.columns)
    prepared: dict[str, _Column] = {}
    for name in dict.fromkeys(s.column for s in specs):
        if name in fixed:
            prepared[name] = _Column.of_numbers(types[name], *fixed[name])
        else:
            prepared[name] = _Column.of_arrow(variable[name])
    order_base = _order_base(ts, fixed.get(CREATED))
    # Backends return events grouped by key and by time; then picks need no sort (checked, not assumed).
    step_key, step_ts = np.diff(key_index), np.diff(ts)
    by_key = bool(np.all(step_key >= 0))
    by_time = by_key and bool(np.all((step_key > 0) | (step_ts > 0)))
    windows: dict[tuple[str, int], _Window] = {}
    out: dict[str, pa.Array] = {}
    for spec in specs:
        group = windows.get((spec.column, spec.window_us))
        if group is None:
            col = prepared[spec.column]
            sel = np.flatnonzero((ts > at_us - spec.window_us) & col.valid)
            group = windows[(spec.column, spec.window_us)] = _Window(
                col, sel, key_index[sel], key_count, order_base, by_key, by_time
            )
        out[spec.name] = _finish(spec, group.value(spec))
    return out


def _aggregate_small(
    specs: Sequence[WindowSpec],
    key_count: int,
    key_index: np.ndarray,
    ts: np.ndarray,
    decoded: dict[str, pa.Array],
    at_us: int,
) -> dict[str, pa.Array]:
    """:func:`aggregate` for a few events: the reference's own reduction (:func:`reduce_values`) per key, in
    plain Python, which costs less than numpy's per-call overhead at this size."""
    values = {name: decoded[name].to_pylist() for name in dict.fromkeys(s.column for s in specs)}
    created = decoded[CREATED].cast(pa.int64()).to_pylist() if CREATED in decoded else [None] * len(ts)
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
    """The non-null events of one column inside one window, and what several functions share of them.

    ``by_key``: the events come grouped by key in ascending key order; ``by_time``: besides, each key's
    events in strictly ascending time (then the event order needs no sort)."""

    def __init__(
        self,
        col: _Column,
        sel: np.ndarray,
        keys: np.ndarray,
        key_count: int,
        order_base: list[np.ndarray],
        by_key: bool = False,
        by_time: bool = False,
    ) -> None:
        self.col, self.sel, self.keys, self.key_count, self.order_base = col, sel, keys, key_count, order_base
        self.by_key, self.by_time = by_key, by_time

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
    def plain_numbers(self) -> np.ndarray | None:
        """The window's values as numbers when they order as they compare (no NaN), else None."""
        numbers = self.col.numbers
        if numbers is None:
            return None
        values: np.ndarray = numbers[self.sel]
        if values.dtype.kind == "f" and bool(np.isnan(values).any()):
            return None
        return values

    @functools.cached_property
    def value_order(self) -> np.ndarray:
        return np.lexsort((self.col.ranks[self.sel], self.keys))

    @functools.cached_property
    def event_order(self) -> np.ndarray:
        if self.by_time:
            return np.arange(len(self.sel))
        if self.by_key:
            order = self._tie_order()
            if order is not None:
                return order
        base = [b[self.sel] for b in reversed(self.order_base)]
        return np.lexsort((self.col.ranks[self.sel], *base, self.keys))

    def _tie_order(self) -> np.ndarray | None:
        """The event order when each key's events come in ascending time (None otherwise): only the runs
        of events sharing a key and a time are sorted (by created time, then value), in place."""
        n = len(self.sel)
        ts = self.order_base[0][self.sel]
        same_key = self.keys[1:] == self.keys[:-1]
        step = np.diff(ts)
        if not bool(np.all(~same_key | (step >= 0))):
            return None
        order = np.arange(n)
        tie = np.zeros(n + 1, bool)
        tie[1:n] = same_key & (step == 0)  # tie[i]: event i has the key and time of event i - 1
        if not tie.any():
            return order
        rows = np.flatnonzero(tie[:n] | tie[1:])
        group = np.cumsum(~tie[:n])[rows]
        picked = self.sel[rows]
        values = self.col.numbers
        if values is None or (values.dtype.kind == "f" and bool(np.isnan(values[picked]).any())):
            values = self.col.ranks
        base = [b[picked] for b in reversed(self.order_base[1:])]
        order[rows] = rows[np.lexsort((values[picked], *base, group))]
        return order

    def value(self, spec: WindowSpec) -> pa.Array:
        function = spec.function
        if function == "count":
            return pa.array(self.counts.astype(np.int64))
        if function == "count_distinct":
            return pa.array(self._distinct())
        if function in ("sum", "mean", "std", "var"):
            return self._moment(function)
        if function in ("min", "max"):
            if self.by_key and self.plain_numbers is not None:
                return self._extreme(function == "max")
            return _pick(self.col, self.sel, self.keys, self.value_order, self.key_count, last=function == "max")
        if function in ("first", "last"):
            return _pick(self.col, self.sel, self.keys, self.event_order, self.key_count, last=function == "last")
        return _lists(spec, self.col, self.sel, self.keys, self.event_order, self.key_count)

    def _extreme(self, largest: bool) -> pa.Array:
        """min/max of numbers grouped by key: one ``reduceat`` over the key runs."""
        values = self.plain_numbers
        assert values is not None
        out = np.zeros(self.key_count, values.dtype)
        if len(values):
            starts, _ = _bounds(self.keys)
            out[self.keys[starts]] = (np.maximum if largest else np.minimum).reduceat(values, starts)
        raw = pa.array(out, mask=self.counts == 0)
        return raw if raw.type == self.col.type else raw.cast(self.col.type)

    def _distinct(self) -> np.ndarray:
        """Distinct values per key: sort (key, value) pairs packed in one integer, count the changes."""
        values = self.plain_numbers
        if values is not None and values.dtype.kind == "i" and len(values):
            low, high = int(values.min()), int(values.max())
            width = high - low + 1
            codes = None if width * self.key_count >= 2**62 else values - low
        else:
            codes = None
        if codes is None:
            codes = self.col.ranks[self.sel]
            width = int(codes.max(initial=0)) + 1
        pairs = np.sort(self.keys * width + codes)
        first = np.ones(len(pairs), bool)
        np.not_equal(pairs[1:], pairs[:-1], out=first[1:])
        return np.bincount(pairs[first] // width, minlength=self.key_count).astype(np.int64)

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
