"""Windowed views online: events in (``add_rows``, ``materialize``) and aggregates out (``read``).

A windowed view's online state is the raw events of its longest window per key (:mod:`ladle.windows.
state_base`); every value is computed at read time over the window ending at the read time
(:mod:`ladle.windows.online_eval`), so a value never lags behind the last materialization and equals
the training value for an entity row at that time. Writes go through :func:`events_of`, the one place
rows become events, whether they were pushed, written or read from the offline store.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ladle.common.conform import conform_keys
from ladle.definitions import FeatureView
from ladle.errors import InvalidRequest
from ladle.offline.base import OfflineStore
from ladle.offline.columns import ensure_utc_micros
from ladle.online.base import EVENT_TS, ViewRead
from ladle.online.entity_key import encode_key_list, encode_keys
from ladle.types import to_arrow
from ladle.windows.events import EventBatch, EventLayout, cast_column, event_ids, normalized_type
from ladle.windows.online_eval import CREATED, aggregate
from ladle.windows.spec import WindowSpec, longest_window, window_specs
from ladle.windows.state_base import StateTarget, WindowState

__all__ = ["ViewPlan", "WindowServing", "events_of", "plan_of"]

from ladle.common.times import UTC_US as _UTC_US

_PLANS_KEPT = 256


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _now_us() -> int:
    return time.time_ns() // 1_000


@dataclass(frozen=True)
class ViewPlan:
    """How one windowed view's events are kept: its specs, payload layout and state target."""

    view: FeatureView
    specs: list[WindowSpec]
    layout: EventLayout
    target: StateTarget
    #: the (mapped) column holding event time, and the source's created-timestamp column if any
    timestamp: str
    created: str | None


def _input_type(view: FeatureView, column: str, specs: list[WindowSpec]) -> pa.DataType | None:
    """The type ``column`` is kept as: the push source's declared type, else what the specs' outputs tell."""
    declared = getattr(view, "input_dtype", lambda _c: None)(column)
    if declared is not None:
        try:
            return normalized_type(to_arrow(declared))
        except TypeError:
            pass
    for spec in specs:
        if spec.column != column:
            continue
        if spec.function in ("min", "max", "first", "last", "sum"):
            return normalized_type(spec.dtype)
        if spec.function in ("first_k", "last_k") and pa.types.is_list(spec.dtype):
            return normalized_type(spec.dtype.value_type)
    if any(s.column == column and s.function in ("mean", "std", "var") for s in specs):
        return pa.float64()
    return None


def plan_of(project: str, view: FeatureView, offline: OfflineStore | None) -> ViewPlan:
    """The plan of ``view``; a column whose type the definitions do not tell is read from the offline
    source's schema (``offline``), else an error naming the view and the column."""
    specs = window_specs(view)
    columns: list[tuple[str, pa.DataType]] = []
    source_types: dict[str, pa.DataType] | None = None
    for column in dict.fromkeys(s.column for s in specs):
        t = _input_type(view, column, specs)
        if t is None and offline is not None:
            if source_types is None:
                src = view.batch_source
                raw = offline.source_schema(src)
                source_types = {src.field_mapping.get(f.name, f.name): f.type for f in raw}
            t = normalized_type(source_types[column]) if column in source_types else None
        if t is None:
            raise InvalidRequest(
                f"feature view '{view.name}': the type of aggregated column '{column}' is unknown online; "
                f"declare Field(name='{column}', dtype=...) in its push source's schema"
            )
        columns.append((column, t))
    created = view.batch_source.created_timestamp_column or None
    if created:
        columns.append((CREATED, _UTC_US))
    layout = EventLayout(tuple(columns))
    longest = longest_window(view) or timedelta(0)
    target = StateTarget(project, view.name, layout.fingerprint(), _micros(longest))
    timestamp = getattr(view, "event_timestamp_field", None) or view.batch_source.timestamp_field
    return ViewPlan(view, specs, layout, target, timestamp, created)


def events_of(plan: ViewPlan, rows: pa.Table, what: str) -> EventBatch:
    """``rows`` (mapped column names: join keys, event time, aggregated columns) as events."""
    view = plan.view
    needed = [*view.join_keys, plan.timestamp, *(c for c, _ in plan.layout.columns if c != CREATED)]
    missing = [c for c in needed if c not in rows.column_names]
    if missing:
        raise InvalidRequest(
            f"{what}: the rows lack column(s) {missing} of windowed feature view '{view.name}' "
            f"(needs join keys {view.join_keys}, timestamp '{plan.timestamp}' and aggregated columns)"
        )
    keys = encode_keys(conform_keys(rows.select(view.join_keys), view.entity_columns))
    if keys.null_count:
        raise InvalidRequest(f"{what}: {keys.null_count} row(s) have a null join key of feature view '{view.name}'")
    ts = ensure_utc_micros(rows.column(plan.timestamp), plan.timestamp).combine_chunks()
    if ts.null_count:
        raise InvalidRequest(f"{what}: {ts.null_count} row(s) have no value in timestamp column '{plan.timestamp}'")
    columns = {}
    for name, t in plan.layout.columns:
        if name == CREATED:
            source = rows.column(plan.created) if plan.created in rows.column_names else pa.nulls(rows.num_rows, t)
            columns[name] = ensure_utc_micros(source, str(plan.created)).combine_chunks()
        else:
            columns[name] = cast_column(rows.column(name), t, f"{what}: column '{name}' of '{view.name}'")
    micros = ts.cast(pa.int64()).to_numpy(zero_copy_only=False)
    payloads = plan.layout.encode(columns)
    return EventBatch(keys.to_pylist(), micros, event_ids(micros, payloads), payloads)


class WindowServing:
    """The windowed views of one online store, over its :class:`WindowState`."""

    def __init__(self, state: WindowState) -> None:
        self.state = state
        self._plans: dict[tuple[str, str, int], ViewPlan] = {}

    def plan(self, project: str, view: FeatureView, offline: OfflineStore | None = None) -> ViewPlan:
        """The (cached) plan of ``view`` as it is now (an applied change makes a new view object)."""
        key = (project, view.name, id(view))
        plan = self._plans.get(key)
        if plan is None or plan.view is not view:
            if len(self._plans) >= _PLANS_KEPT:
                self._plans.clear()
            plan = self._plans[key] = plan_of(project, view, offline)
        return plan

    def add_rows(
        self,
        project: str,
        view: FeatureView,
        rows: pa.Table,
        what: str,
        offline: OfflineStore | None = None,
        now_us: int | None = None,
    ) -> int:
        """Add ``rows`` (source column names, before ``field_mapping``) to the view's state; returns their number."""
        if rows.num_rows == 0:
            return 0
        src = view.batch_source
        mapped = rows.rename_columns([src.field_mapping.get(c, c) for c in rows.column_names])
        plan = self.plan(project, view, offline)
        self.state.add(plan.target, events_of(plan, mapped, what), _now_us() if now_us is None else now_us)
        return int(rows.num_rows)

    def materialize(
        self, offline: OfflineStore, project: str, view: FeatureView, end: datetime, now_us: int | None = None
    ) -> int:
        """Load the offline events of the longest window before ``end`` (``end - W < ts <= end``) into the
        state and evict what has left it; returns the number of events read. Loading again is harmless."""
        plan = self.plan(project, view, offline)
        src = view.batch_source
        start = end - timedelta(microseconds=plan.target.horizon_us) + timedelta(microseconds=1)
        columns = list(dict.fromkeys([*view.join_keys, plan.timestamp, *(c for c, _ in plan.layout.columns)]))
        columns = [c for c in columns if c != CREATED] + ([plan.created] if plan.created else [])
        same_clock = plan.timestamp == src.timestamp_field
        rows = offline.pull_all(src, columns, start if same_clock else None, end if same_clock else None)
        if not same_clock:
            ts = ensure_utc_micros(rows.column(plan.timestamp), plan.timestamp)
            rows = rows.filter(
                pc.and_(pc.greater_equal(ts, pa.scalar(start, _UTC_US)), pc.less_equal(ts, pa.scalar(end, _UTC_US)))
            )
        now = _now_us() if now_us is None else now_us
        for batch in rows.to_batches(max_chunksize=100_000):
            table = pa.Table.from_batches([batch])
            self.state.add(plan.target, events_of(plan, table, f"materializing '{view.name}'"), now)
        self.state.sweep(plan.target, now)
        return int(rows.num_rows)

    def read(self, project: str, read: ViewRead, at_us: int) -> pa.Table:
        """The requested aggregates of ``read`` for the window ending at ``at_us``: one row per key row,
        plus ``event_ts`` (the read time; null for a row with a null key)."""
        plan = self.plan(project, read.view)
        wanted = encode_key_list(read.keys) if read.keys.num_columns else [""] * read.keys.num_rows
        unique = list(dict.fromkeys(k for k in wanted if k is not None))
        fetched = self.state.fetch(plan.target, unique, at_us - plan.target.horizon_us, at_us)
        specs = [s for s in plan.specs if s.name in read.features]
        values = aggregate(specs, len(unique), fetched, plan.layout, at_us)
        if wanted == unique:  # every key once, none null: the values are in order already
            out = {f: values[f] for f in read.features}
        else:
            position = {k: i for i, k in enumerate(unique)}
            take = pa.array([position.get(k) if k is not None else None for k in wanted], pa.int64())
            out = {f: values[f].take(take) for f in read.features}
        out[EVENT_TS] = pa.array(
            np.full(len(wanted), at_us, np.int64), pa.int64(), mask=np.array([k is None for k in wanted])
        ).cast(_UTC_US)
        return pa.table(out)
