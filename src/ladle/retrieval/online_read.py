"""``get_online_features``: one batched read per view, statuses per value, on-demand features, the response.

Statuses: ``PRESENT``; ``NOT_FOUND`` (key absent); ``NULL_VALUE`` (stored null); ``OUTSIDE_MAX_AGE``
(older than the view's ttl at read time; the value is returned as null unless ``enforce_ttl`` is off).
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import operator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeAlias, cast, runtime_checkable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ladle.common.conform import plain_python
from ladle.common.times import UTC_US
from ladle.errors import InvalidRequest, MissingExtra
from ladle.offline.base import ViewRequest
from ladle.online.base import EVENT_TS, OnlineStore, ViewRead
from ladle.online.read_result import Fetched
from ladle.retrieval.feature_refs import ResolvedFeatures
from ladle.retrieval.job import arrow_to_pandas
from ladle.retrieval.on_demand_exec import apply_on_demand
from ladle.windows.online import is_windowed, read_views

__all__ = [
    "AsyncReads",
    "FetchReads",
    "FieldStatus",
    "OnlineResponse",
    "PyColumn",
    "entity_columns",
    "read_online",
    "read_online_async",
    "reads_on_loop",
]


class FieldStatus(enum.Enum):
    """The state of one returned value (Feast's names)."""

    INVALID = 0
    PRESENT = 1
    NULL_VALUE = 2
    NOT_FOUND = 3
    OUTSIDE_MAX_AGE = 4


_STATUS_NAMES = np.array([s.name for s in FieldStatus], dtype=object)
_STATUS_TUPLE = tuple(s.name for s in FieldStatus)
_SMALL_BATCH = 64


class PyColumn:
    """A column kept as Python values (small batches skip Arrow), made an Arrow array only when asked.

    ``values`` are what ``pa.array(values, type).to_pylist()`` gives back.
    """

    __slots__ = ("type", "values")

    def __init__(self, values: list[Any], type: pa.DataType) -> None:
        self.values, self.type = values, type

    def __len__(self) -> int:
        return len(self.values)

    def to_pylist(self) -> list[Any]:
        """The values (a new list each time, as ``pa.Array.to_pylist``: a caller may change it)."""
        return list(self.values)

    def to_arrow(self) -> pa.Array:
        """The values as an Arrow array of :attr:`type`."""
        return pa.array(self.values, self.type)


class _Stamps(PyColumn):
    """Event timestamps kept as UTC microseconds (``None``: not found); the datetimes are made only when
    asked for (``to_dict()`` without timestamps never makes them)."""

    __slots__ = ("micros",)

    def __init__(self, micros: list[int | None]) -> None:
        self.micros = micros
        self.values, self.type = [], UTC_US

    def __len__(self) -> int:
        return len(self.micros)

    def to_pylist(self) -> list[Any]:
        if len(self.values) != len(self.micros):
            self.values = [None if t is None else _EPOCH + timedelta(microseconds=t) for t in self.micros]
        return list(self.values)

    def to_arrow(self) -> pa.Array:
        return pa.array(self.micros, pa.int64()).view(UTC_US)


Column: TypeAlias = pa.Array | PyColumn


def _arrow(column: Column) -> pa.Array:
    return column.to_arrow() if isinstance(column, PyColumn) else column


class OnlineResponse:
    """Feature values for a batch of entity rows: ``to_dict()``, ``to_df()``, ``to_arrow()``, ``to_tensor()``.

    ``statuses[name]`` and ``event_timestamps[name]`` hold a list per returned column.
    """

    #: set by ``FeatureStore`` from ``feast_compatible_dtypes`` (feature_store.yaml or its argument)
    feast_compatible_dtypes: bool = False

    def __init__(
        self,
        entity_columns: dict[str, pa.Array],
        features: dict[str, Column],
        statuses: dict[str, np.ndarray | list[int]],
        event_timestamps: dict[str, Column],
    ) -> None:
        self._entities = entity_columns
        self._features = features
        self._statuses = statuses
        self._event_ts = event_timestamps

    @property
    def feature_names(self) -> list[str]:
        """Entity columns then features, in response order."""
        return [*self._entities, *self._features]

    @property
    def statuses(self) -> dict[str, list[str]]:
        n = self.num_rows
        out = {k: ["PRESENT"] * n for k in self._entities}
        if n <= _SMALL_BATCH:  # a list lookup beats numpy's object indexing for a few rows
            out.update(
                {
                    k: [_STATUS_TUPLE[i] for i in (v if isinstance(v, list) else v.tolist())]
                    for k, v in self._statuses.items()
                }
            )
        else:
            out.update({k: list(_STATUS_NAMES[v]) for k, v in self._statuses.items()})
        return out

    @property
    def event_timestamps(self) -> dict[str, list[datetime | None]]:
        converted: dict[int, list[datetime | None]] = {}  # the features of one view share one array
        out = {}
        for k, v in self._event_ts.items():
            values = converted.get(id(v))
            if values is None:
                values = converted[id(v)] = v.to_pylist()
            out[k] = list(values)
        return out

    @property
    def num_rows(self) -> int:
        first = next(iter({**self._entities, **self._features}.values()), None)
        return 0 if first is None else len(first)

    def to_arrow(self) -> pa.Table:
        """Entity columns and features as one Arrow table."""
        return pa.table({**self._entities, **{k: _arrow(v) for k, v in self._features.items()}})

    def to_dict(self, include_event_timestamps: bool = False) -> dict[str, list[Any]]:
        """``{column: [value per entity row]}``, entity columns first."""
        out = {k: v.to_pylist() for k, v in {**self._entities, **self._features}.items()}
        if include_event_timestamps:
            out.update({f"{k}__ts": v for k, v in self.event_timestamps.items()})
        return out

    def to_df(
        self, include_event_timestamps: bool = False, feast_compatible_dtypes: bool | None = None
    ) -> pd.DataFrame:
        """The response as a pandas DataFrame, declared dtypes kept.

        With ``feast_compatible_dtypes`` (this argument, else the store's setting) the frame is built the
        way Feast builds it, from :meth:`to_dict`'s Python values: floats are float64, integers int64
        (float64 with NaN when a value is missing), arrays Python lists.
        """
        feast = self.feast_compatible_dtypes if feast_compatible_dtypes is None else feast_compatible_dtypes
        if feast:
            return pd.DataFrame(self.to_dict(include_event_timestamps))
        df = arrow_to_pandas(self.to_arrow())
        if include_event_timestamps:
            for k, v in self._event_ts.items():
                df[f"{k}__ts"] = _arrow(v).to_pandas()
        return df

    def to_tensor(self, kind: str = "torch", default_value: Any = float("nan")) -> dict[str, Any]:
        """Each column as a PyTorch tensor (numeric and boolean columns) or a list (anything else).

        Missing values become ``default_value`` (NaN by default, so an integer column with a missing
        value becomes a float tensor). Tensors go to CUDA when it is available, else to the CPU.
        Needs ``pip install "ladle[torch]"``.
        """
        if kind != "torch":
            raise InvalidRequest(f"to_tensor(kind={kind!r}): only kind='torch' is supported")
        try:
            import torch
        except ImportError as exc:
            raise MissingExtra("OnlineResponse.to_tensor", "torch", "torch") from exc
        device = "cuda" if torch.cuda.is_available() else "cpu"
        out: dict[str, Any] = {}
        for name, column in {**self._entities, **self._features}.items():
            values = [default_value if v is None else v for v in column.to_pylist()]
            t = column.type
            numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
            out[name] = torch.tensor(values, device=device) if numeric else values
        return out


def entity_columns(entity_rows: Any, what: str = "entity_rows") -> dict[str, list[Any]]:
    """``entity_rows`` (a list of dicts, or a dict of lists) as columns, checked for equal lengths."""
    if isinstance(entity_rows, dict):
        if not all(isinstance(k, str) for k in entity_rows):
            raise InvalidRequest(f"{what}: column names must be strings")
        bad = [k for k, v in entity_rows.items() if isinstance(v, str | bytes | dict) or not hasattr(v, "__iter__")]
        if bad:
            raise InvalidRequest(
                f"{what} is a dict, so each value must be a list; {bad[0]!r} is a single "
                f"{type(entity_rows[bad[0]]).__name__} (write {{{bad[0]!r}: [value]}})"
            )
        cols = {k: list(v) if not isinstance(v, list) else v for k, v in entity_rows.items()}
    elif what != "entity_rows":
        raise InvalidRequest(f"{what} must be a dict of lists, got {type(entity_rows).__name__}")
    elif isinstance(entity_rows, list | tuple):
        if not entity_rows:
            return {}
        if not all(map(isinstance, entity_rows, itertools.repeat(dict))):
            raise InvalidRequest("entity_rows must be a list of dicts (one per entity) or a dict of lists")
        first = entity_rows[0].keys()
        if not all(map(first.__eq__, map(dict.keys, entity_rows))):  # the same keys, in any order
            i = next(i for i, r in enumerate(entity_rows) if r.keys() != first)
            r = entity_rows[i]
            raise InvalidRequest(f"entity_rows[{i}] has keys {sorted(r)}, but entity_rows[0] has {sorted(first)}")
        cols = {k: list(map(operator.itemgetter(k), entity_rows)) for k in first}
    else:
        raise InvalidRequest("entity_rows must be a list of dicts (one per entity) or a dict of lists")
    lengths = {k: len(v) for k, v in cols.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidRequest(f"entity columns have different lengths: {lengths}")
    return cols


def _to_array(name: str, values: list[Any], target: pa.DataType | None) -> pa.Array:
    floats = False
    if target is not None and pa.types.is_integer(target):
        # pyarrow builds an integer array from 1.5 as 1 and from True as 1: a key that was never asked for
        kinds = set(map(type, values))
        if any(issubclass(k, bool | np.bool_) for k in kinds):
            raise InvalidRequest(f"entity column '{name}' has a value of the wrong type (expected {target}): a boolean")
        floats = any(issubclass(k, float) for k in kinds)
    try:
        if floats:  # a safe cast refuses a fractional part (2.0 is still 2)
            arr = pa.array(values, type=pa.float64()).cast(target)
        else:
            arr = _plain_array(values, target)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        expected = f" (expected {target})" if target is not None else ""
        raise InvalidRequest(f"entity column '{name}' has a value of the wrong type{expected}: {exc}") from exc
    return arr


def _key_table(columns: dict[str, pa.Array], num_rows: int) -> pa.Table:
    """A view's key columns as a table; a view without entities gets ``num_rows`` rows and no columns
    (every entity row then reads the view's single stored value)."""
    if columns:
        return pa.table(columns)
    return pa.table({"_": pa.nulls(num_rows)}).drop_columns(["_"])


def _plain_array(values: list[Any], target: pa.DataType | None) -> pa.Array:
    try:
        return pa.array(values, type=target) if target is not None else pa.array(values)
    except (
        pa.ArrowInvalid,
        pa.ArrowTypeError,
        pa.ArrowNotImplementedError,
    ):  # uuid.UUID keys: a Uuid join key is its canonical text
        plain = [plain_python(v) for v in values]
        return pa.array(plain, type=target) if target is not None else pa.array(plain)


@dataclass
class _Columns:
    """Returned columns by ``"{view name to use}__{feature}"``: values, statuses, event timestamps."""

    values: dict[str, Column] = field(default_factory=dict)
    statuses: dict[str, np.ndarray | list[int]] = field(default_factory=dict)
    stamps: dict[str, Column] = field(default_factory=dict)

    def response(self, keys: dict[str, pa.Array], resolved: ResolvedFeatures) -> OnlineResponse:
        """The response: the typed keys, then the requested features in the caller's order."""
        outputs = [(col, f"{v}__{f}") for v, f, col in resolved.outputs]
        return OnlineResponse(
            keys,
            {col: self.values[key] for col, key in outputs},
            {col: self.statuses[key] for col, key in outputs},
            {col: self.stamps[key] for col, key in outputs},
        )


def _typed_keys(
    resolved: ResolvedFeatures, entity_rows: Any, request_context: Any, key_types: dict[str, pa.DataType]
) -> tuple[dict[str, list[Any]], dict[str, pa.Array], int]:
    """Key typing: the caller's columns (entity rows and request data), every join key as an Arrow array of its
    declared type, and the number of rows. Missing join keys and unknown columns are refused."""
    cols = entity_columns(entity_rows)
    cols.update(entity_columns(request_context or {}, "request_context"))
    n = len(next(iter(cols.values()))) if cols else (len(entity_rows) if isinstance(entity_rows, list | tuple) else 0)
    needed = resolved.entity_columns
    missing = [c for c in needed if c not in cols]
    if missing:
        raise InvalidRequest(f"entity_rows lack join key(s) {missing}; the requested features are keyed by {needed}")
    request_names = {f.name for f in resolved.request_fields}
    extra = [c for c in cols if c not in needed and c not in request_names]
    if extra and not resolved.on_demand:
        raise InvalidRequest(f"entity_rows have column(s) {extra} that are neither join keys {needed} nor request data")
    return cols, {c: _to_array(c, cols[c], key_types.get(c)) for c in needed}, n


def _view_reads(resolved: ResolvedFeatures, keys: dict[str, pa.Array], n: int) -> list[ViewRead]:
    """Every view's read for the keys (one row per entity row); views keyed alike share one key table (a store
    may encode it once)."""
    tables: dict[tuple[tuple[str, ...], tuple[str, ...]], pa.Table] = {}
    out = []
    for req in resolved.views:
        shape = (tuple(req.view.join_keys), tuple(req.entity_columns))
        table = tables.get(shape)
        if table is None:
            table = tables[shape] = _key_table({k: keys[c] for k, c in zip(*shape, strict=True)}, n)
        out.append(ViewRead(req.view, table, [f.name for f in req.features]))
    return out


def _stale_rows(ts: pa.Array, found: np.ndarray, ttl_seconds: float, now_us: int) -> np.ndarray | None:
    """Rows whose stored value is older than the view's ttl at read time (``None`` when there are none)."""
    limit = now_us - int(ttl_seconds * 1_000_000)
    micros = ts.view(pa.int64()).to_numpy(zero_copy_only=False)  # nulls become NaN: never stale
    with np.errstate(invalid="ignore"):
        stale = found & (micros < limit)
    return stale if stale.any() else None


def _add_view_statuses(
    out: _Columns, req: ViewRequest, table: pa.Table, n: int, now_us: int, enforce_ttl: bool
) -> None:
    """Statuses: each feature of one view read, with PRESENT / NOT_FOUND / NULL_VALUE / OUTSIDE_MAX_AGE
    (an expired value returned as null)."""
    ts = table.column(EVENT_TS).combine_chunks()
    found = ts.is_valid().to_numpy(zero_copy_only=False)
    base = np.where(found, FieldStatus.PRESENT.value, FieldStatus.NOT_FOUND.value).astype(np.int8)
    stale = None
    if enforce_ttl and req.view.ttl and ts.null_count < n:
        stale = _stale_rows(ts, found, req.view.ttl.total_seconds(), now_us)
    for f in req.features:
        col = table.column(f.name).combine_chunks()
        status = base
        if col.null_count:
            status = base.copy()
            status[found & col.is_null().to_numpy(zero_copy_only=False)] = FieldStatus.NULL_VALUE.value
        if stale is not None:
            status = status.copy()
            status[stale] = FieldStatus.OUTSIDE_MAX_AGE.value
            col = pc.if_else(pa.array(stale), pa.nulls(n, col.type), col)
        key = f"{req.name}__{f.name}"
        out.values[key], out.statuses[key], out.stamps[key] = col, status, ts


def _add_on_demand(
    out: _Columns, resolved: ResolvedFeatures, cols: dict[str, list[Any]], keys: dict[str, pa.Array], n: int
) -> None:
    """On-demand step: the on-demand views computed from the values read, the keys and the request data."""
    inputs: dict[str, Any] = dict(out.values)
    for c, v in cols.items():
        if c not in inputs:
            inputs[c] = keys[c] if c in keys else pa.array(v)
    for key, col in apply_on_demand(resolved, inputs, n).items():
        arr = col.combine_chunks()
        status = np.where(pc.is_null(arr).to_numpy(zero_copy_only=False), 2, 1).astype(np.int8)
        out.values[key], out.statuses[key] = arr, status
        out.stamps[key] = pa.nulls(n, UTC_US)


def _check_served_versions(resolved: ResolvedFeatures) -> None:
    """Refuse ``view@vN`` refs to a version other than the active one: the online table holds only that."""
    for req in resolved.views:
        if getattr(req.view, "online_servable", True) is False:
            active = getattr(req.view, "active_version", None)
            raise InvalidRequest(
                f"'{req.name}' is not the active version of feature view '{req.view.name}' (v{active} is), and the "
                f"online store holds only the active version; read '{req.name}' offline, or pin the view with "
                f"version='{req.name.rpartition('@')[2]}' and apply to serve it online"
            )


@runtime_checkable
class FetchReads(Protocol):
    """An online store that hands out what it fetched before decoding it (Redis), so that a small batch can
    skip Arrow: :meth:`fetch_many` is :meth:`OnlineStore.read_many` with ``Fetched.table()`` left to the caller."""

    def fetch_many(self, project: str, reads: list[ViewRead]) -> list[Fetched]:
        """What each read fetched, in order."""
        ...


@runtime_checkable
class AsyncReads(Protocol):
    """An online store that can also read on the running event loop (Redis)."""

    async def fetch_many_async(self, project: str, reads: list[ViewRead]) -> list[Fetched]:
        """:meth:`FetchReads.fetch_many`, awaited."""
        ...


@dataclass
class _Read:
    """A prepared read: the caller's columns, the typed keys, the store reads, and the clock."""

    cols: dict[str, list[Any]]
    keys: dict[str, pa.Array]
    n: int
    now_us: int
    reads: list[ViewRead]


def _prepare(
    resolved: ResolvedFeatures,
    entity_rows: Any,
    request_context: dict[str, list[Any]] | None,
    now: datetime | None,
    key_types: dict[str, pa.DataType] | None,
) -> _Read:
    _check_served_versions(resolved)
    types = key_types if key_types is not None else resolved.key_arrow_types()
    cols, keys, n = _typed_keys(resolved, entity_rows, request_context, types)
    now_us = int((now or datetime.now(UTC)).timestamp() * 1_000_000)
    return _Read(cols, keys, n, now_us, _view_reads(resolved, keys, n))


def _respond(resolved: ResolvedFeatures, read: _Read, tables: list[pa.Table], enforce_ttl: bool) -> OnlineResponse:
    out = _Columns()
    for req, table in zip(resolved.views, tables, strict=True):
        _add_view_statuses(out, req, table, read.n, read.now_us, enforce_ttl)
    if resolved.on_demand:
        _add_on_demand(out, resolved, read.cols, read.keys, read.n)
    return out.response(read.keys, resolved)


_TS_ZONE = pa.array([0], UTC_US).to_pylist()[0].tzinfo  # the zone Arrow gives UTC timestamps, for equal values
_EPOCH = datetime(1970, 1, 1, tzinfo=_TS_ZONE)
_PRESENT, _NULL, _NOT_FOUND, _STALE = (
    s.value for s in (FieldStatus.PRESENT, FieldStatus.NULL_VALUE, FieldStatus.NOT_FOUND, FieldStatus.OUTSIDE_MAX_AGE)
)


def _respond_fetched(
    resolved: ResolvedFeatures, read: _Read, fetched: list[Fetched], enforce_ttl: bool
) -> OnlineResponse:
    """The response from what the store fetched: in Python, without Arrow, when every feature has a Python
    decoder (the same values, statuses and timestamps :func:`_respond` gives); else through the tables."""
    if resolved.on_demand or any(f.python is None for f in fetched):
        return _respond(resolved, read, [f.table() for f in fetched], enforce_ttl)
    out = _Columns()
    for req, got in zip(resolved.views, fetched, strict=True):
        raw_ts = got.columns[0]
        micros: list[int | None] = (
            [None if t is None else int(t) for t in raw_ts] if None in raw_ts else [*map(int, raw_ts)]
        )
        stamps = _Stamps(micros)
        ttl = req.view.ttl if enforce_ttl else None
        limit = read.now_us - int(ttl.total_seconds() * 1_000_000) if ttl else None
        # one status list per view (features without nulls share it): NOT_FOUND, OUTSIDE_MAX_AGE or PRESENT
        base = [_NOT_FOUND if t is None else _PRESENT for t in micros] if None in micros else [_PRESENT] * len(micros)
        stale: list[int] = []
        if limit is not None and micros:
            found = [t for t in micros if t is not None] if None in micros else cast(list[int], micros)
            if min(found, default=limit) < limit:
                stale = [i for i, t in enumerate(micros) if t is not None and t < limit]
            for i in stale:
                base[i] = _STALE
        absent = micros.count(None) + len(stale)  # rows whose values are null whatever is stored
        for name, decode, dtype, raw in zip(got.features, got.python or (), got.types, got.columns[1:], strict=True):
            values = decode(raw)
            for i in stale:
                values[i] = None
            statuses = base
            if values.count(None) > absent:  # stored nulls among the found rows
                statuses = [_NULL if v is None and s == _PRESENT else s for v, s in zip(values, base, strict=True)]
            key = f"{req.name}__{name}"
            out.values[key], out.statuses[key], out.stamps[key] = PyColumn(values, dtype), statuses, stamps
    return out.response(read.keys, resolved)


def _fetches(online: OnlineStore, resolved: ResolvedFeatures, read: _Read) -> bool:
    """Whether this read goes through the store's :class:`FetchReads` (a small batch of plain views)."""
    return (
        read.n <= SMALL_BATCH_ROWS
        and bool(read.reads)
        and _supports(online, FetchReads)
        and not any(is_windowed(req.view) for req in resolved.views)
    )


def read_online(
    online: OnlineStore,
    project: str,
    resolved: ResolvedFeatures,
    entity_rows: Any,
    request_context: dict[str, list[Any]] | None = None,
    enforce_ttl: bool = True,
    now: datetime | None = None,
    key_types: dict[str, pa.DataType] | None = None,
) -> OnlineResponse:
    """Read every requested feature for ``entity_rows``; see the module docstring for statuses.

    ``key_types`` types the join-key values (default: the views' declared key types,
    :meth:`ResolvedFeatures.key_arrow_types`).
    """
    read = _prepare(resolved, entity_rows, request_context, now, key_types)
    if _fetches(online, resolved, read):
        fetched = cast(FetchReads, online).fetch_many(project, read.reads)
        return _respond_fetched(resolved, read, fetched, enforce_ttl)
    tables = read_views(online, project, read.reads, read.now_us) if read.reads else []
    return _respond(resolved, read, tables, enforce_ttl)


#: batches up to this many entity rows skip Arrow where the store allows it (measured: Python is cheaper up to
#: a few hundred rows of 6 features)
SMALL_BATCH_ROWS = 128
#: batches up to this many entity rows are computed on the event loop by :func:`read_online_async`
ON_LOOP_ROWS = 64
_SUPPORT: dict[tuple[type, type], bool] = {}


def _supports(online: OnlineStore, protocol: type) -> bool:
    key = (type(online), protocol)
    able = _SUPPORT.get(key)
    if able is None:
        able = _SUPPORT[key] = isinstance(online, protocol)
    return able


def reads_on_loop(online: OnlineStore) -> bool:
    """Whether ``online`` reads on the event loop (:class:`AsyncReads`)."""
    return _supports(online, AsyncReads)


def _row_count(entity_rows: Any) -> int:
    if isinstance(entity_rows, dict):
        return max(
            (len(v) if isinstance(v, list | tuple) else ON_LOOP_ROWS + 1 for v in entity_rows.values()), default=0
        )
    return len(entity_rows) if isinstance(entity_rows, list | tuple) else ON_LOOP_ROWS + 1


async def read_online_async(
    online: OnlineStore,
    project: str,
    resolved: ResolvedFeatures,
    entity_rows: Any,
    request_context: dict[str, list[Any]] | None = None,
    enforce_ttl: bool = True,
    key_types: dict[str, pa.DataType] | None = None,
) -> OnlineResponse:
    """:func:`read_online` for asyncio code. A small batch (up to :data:`ON_LOOP_ROWS` entity rows) of
    plain views from a store that reads on the loop (:class:`AsyncReads`) is computed in place, the store's
    round trip awaited; anything else runs :func:`read_online` in a worker thread. Bound the wait with
    ``asyncio.timeout``.
    """
    if _row_count(entity_rows) <= ON_LOOP_ROWS and reads_on_loop(online):
        read = _prepare(resolved, entity_rows, request_context, None, key_types)
        if _fetches(online, resolved, read):
            fetched = await cast(AsyncReads, online).fetch_many_async(project, read.reads)
            return _respond_fetched(resolved, read, fetched, enforce_ttl)
    return await asyncio.to_thread(
        read_online, online, project, resolved, entity_rows, request_context, enforce_ttl, None, key_types
    )
