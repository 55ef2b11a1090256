"""The embedded offline store: DuckDB over parquet files (``offline_store: {type: duckdb}``, or ``file``).

The point-in-time join is one DuckDB query: each view's source is an ``ASOF LEFT JOIN`` on the join keys
and the event timestamp, so every entity row gets at most one match and none are dropped or duplicated.
When a source has a created-timestamp column, ties on the event timestamp are broken by it: both are
packed into one 128-bit sort key, ``event_us * 2**64 + (created_us + 2**63)`` (null created = 0), and
the entity side uses ``entity_us * 2**64 + (2**64 - 1)`` so every candidate at ``ts == entity ts``
qualifies and the largest created wins. A local source with no two rows sharing (join keys, event
timestamp) has no ties to break: it joins on the event timestamp alone, which is faster and uses less
memory (the check is one aggregate, remembered per file fingerprint: :mod:`ladle.offline.fingerprints`).
"""

from __future__ import annotations

import contextlib
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator

from ladle.common.backend_config import BackendConfig
from ladle.common.times import epoch_us as _epoch_us
from ladle.definitions import DataSource, FeatureView, FileSource
from ladle.definitions.external_sources import check_readable
from ladle.errors import BackendFailure, InvalidDefinition, InvalidRequest
from ladle.offline.base import ROW_COUNT, OfflineStore, ViewRequest
from ladle.offline.columns import align_to_source, cast_to_declared, ensure_utc_micros
from ladle.offline.filesystem import ObjectStoreOptions, ParquetPath
from ladle.offline.fingerprints import UniqueKeyCache, default_cache_dir, fingerprint
from ladle.types import is_uuid, to_arrow

__all__ = ["DuckDBOfflineStore", "DuckDBOfflineStoreConfig"]

_SHIFT = 18446744073709551616  # 2**64
_OFFSET = 9223372036854775808  # 2**63
_MAX_LOW = _SHIFT - 1
_ENTITY = "__ladle_entity"
_ROW = "__ladle_row"
_TS = "__ladle_ts"
_STREAM_ROWS = 131_072  # rows per record batch when a result is streamed


def q(name: str) -> str:
    """Quote an identifier for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """Quote a string literal for DuckDB."""
    return "'" + value.replace("'", "''") + "'"


def _in_row_order(result: pa.Table, n: int) -> pa.Table:
    """Put an unordered join result back in entity-row order (``_ROW`` is a permutation of 0..n-1)."""
    if result.num_rows != n:  # an invariant of ASOF LEFT JOIN; guard it anyway
        raise BackendFailure("duckdb offline store", f"join returned {result.num_rows} rows for {n} entity rows")
    rows = result.column(_ROW).to_numpy()
    order = np.empty(n, dtype=np.int64)
    order[rows] = np.arange(n, dtype=np.int64)
    return result.take(pa.array(order))


def _epoch_us_sql(column: str, schema: pa.Schema) -> str:
    """SQL for a source timestamp column as UTC epoch microseconds, by the rule of :mod:`ladle.offline.columns`.

    ``epoch_us`` floors nanoseconds of a naive TIMESTAMP_NS (DuckDB's casts to microseconds round instead, and
    ``epoch_us`` has no TIMESTAMPTZ_NS overload), so nanosecond columns go through TIMESTAMP_NS, UTC wall time
    (the session time zone).
    """
    i = schema.get_field_index(column)
    t = schema.field(i).type if i >= 0 else None
    if t is not None and pa.types.is_timestamp(t) and t.unit == "ns":
        return f"epoch_us(CAST({q(column)} AS TIMESTAMP_NS))"
    return f"epoch_us({q(column)})"


def _time_range_sql(column: str, lo: int | None, hi: int | None) -> list[str]:
    """Conditions on the raw column (so DuckDB can prune parquet row groups) equal to ``lo <= epoch_us <= hi``:
    a nanosecond value within the microsecond after ``hi`` truncates to ``hi``, hence ``< hi + 1``."""
    where = []
    if lo is not None:
        where.append(f"{q(column)} >= make_timestamp({lo}::BIGINT)")
    if hi is not None:
        where.append(f"{q(column)} < make_timestamp({hi + 1}::BIGINT)")
    return where


_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|[KMGT]i?B|bytes|%)\s*$", re.IGNORECASE)


class DuckDBOfflineStoreConfig(BackendConfig):
    """The embedded offline store: DuckDB over parquet files (``type: duckdb``, or Feast's ``file``/``dask``)."""

    type: Literal["duckdb", "file", "dask"] = "duckdb"
    #: DuckDB memory limit, e.g. "4GB"; None lets DuckDB choose
    memory_limit: str | None = None
    #: where DuckDB spills what does not fit in memory_limit (relative to the repo); None: DuckDB's default
    #: (``<database>.tmp`` beside a database file; an in-memory database spills to ``.tmp`` in the working
    #: directory)
    temp_directory: str | None = None
    #: where ladle remembers which local source files hold no duplicate (join keys, event timestamp) rows
    #: (relative to the repo); None: ``$XDG_CACHE_HOME/ladle``, else ``~/.cache/ladle``
    cache_dir: str | None = None
    #: worker threads; None means one per core
    threads: int | None = Field(default=None, gt=0)
    #: S3-compatible server for ``s3://`` sources (``host:port`` or a URL); a source's s3_endpoint_override wins
    s3_endpoint: str | None = None
    #: AWS region; default AWS_REGION / AWS_DEFAULT_REGION, else the bucket's own region
    s3_region: str | None = None
    #: ``path`` or ``vhost`` addressing (default: path with an endpoint, vhost on AWS)
    s3_url_style: Literal["path", "vhost"] | None = None
    #: https for an s3_endpoint without a scheme unless false
    s3_use_ssl: bool | None = None
    #: credentials; default the AWS environment variables, profile or instance role
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None

    @field_validator("memory_limit")
    @classmethod
    def _memory_limit(cls, v: str | None) -> str | None:
        if v is not None and not _MEMORY.match(v):
            raise ValueError(f"{v!r} is not a size; write a number and a unit, e.g. 4GB, 512MB or 2GiB")
        return v


class DuckDBOfflineStore(OfflineStore):
    """Parquet files queried in-process with DuckDB."""

    name = "duckdb"
    config_class = DuckDBOfflineStoreConfig
    config: DuckDBOfflineStoreConfig

    def __init__(self, config: DuckDBOfflineStoreConfig, repo_path: Path) -> None:
        super().__init__(config, repo_path)
        self.object_store = ObjectStoreOptions(
            endpoint=config.s3_endpoint,
            region=config.s3_region,
            url_style=config.s3_url_style,
            use_ssl=config.s3_use_ssl,
            access_key_id=config.s3_access_key_id,
            secret_access_key=config.s3_secret_access_key,
        )
        self._db: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()
        # Arrow datasets of object-store sources, per thread, waiting to be registered on the cursor of the
        # query that names them (a registered view is visible to its own cursor only)
        self._scans = threading.local()
        cache_dir = self.repo_path / config.cache_dir if config.cache_dir else default_cache_dir()
        self._unique_keys = UniqueKeyCache(cache_dir)

    # --- connection --------------------------------------------------------------------------------
    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._db is None:
                db = duckdb.connect(":memory:")
                # every query result is put in order by ladle itself; letting DuckDB drop insertion
                # order saves memory and time in joins and aggregates
                db.execute("SET preserve_insertion_order = false")
                if self.config.threads:
                    db.execute(f"SET threads = {int(self.config.threads)}")
                if self.config.memory_limit:
                    db.execute(f"SET memory_limit = {lit(self.config.memory_limit)}")
                if self.config.temp_directory:
                    db.execute(f"SET temp_directory = {lit(str(self.repo_path / self.config.temp_directory))}")
                self._db = db
            cur = self._db.cursor()
        # session settings are per cursor: relative paths in SQL resolve against the repo, times in UTC
        cur.execute("SET TimeZone = 'UTC'")
        cur.execute(f"SET file_search_path = {lit(str(self.repo_path))}")
        return cur

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # --- sources -----------------------------------------------------------------------------------
    def _file_source(self, source: DataSource) -> FileSource:
        batch = source.batch
        check_readable(batch)
        if not isinstance(batch, FileSource):
            raise InvalidDefinition(
                type(batch).__name__, batch.name, "the duckdb offline store reads FileSource (parquet) sources only"
            )
        return batch

    def _parquet(self, source: FileSource) -> ParquetPath:
        return ParquetPath(
            source.path, f"FileSource '{source.name}'", self.repo_path, self.object_store, source.s3_endpoint_override
        )

    def _relation(self, source: FileSource) -> str:
        """What a query reads the source from: DuckDB's own parquet reader for local files, an Arrow dataset
        (registered when the query runs) for any other filesystem, so no DuckDB extension is needed."""
        data = self._parquet(source)
        if data.is_local:
            files = ", ".join(lit(p) for p in data.files())
            return f"read_parquet([{files}], union_by_name = true)"
        name = f"__ladle_scan_{uuid.uuid4().hex}"
        self._pending()[name] = data.dataset()
        return name

    def _pending(self) -> dict[str, Any]:
        pending: dict[str, Any] | None = getattr(self._scans, "pending", None)
        if pending is None:
            pending = self._scans.pending = {}
        return pending

    def source_schema(self, source: DataSource) -> pa.Schema:
        fs = self._file_source(source)
        return self._run(f"SELECT * FROM {self._relation(fs)} LIMIT 0", f"cannot read FileSource '{fs.name}'").schema

    def _view_select(
        self,
        view: FeatureView,
        features: list[str],
        bounds: tuple[int | None, int | None],
        with_keys: bool = True,
        created: bool = True,
    ) -> str:
        """SELECT of a view's source with normalized names: keys as-is, ``__ts``/``__cr`` as epoch micros (``__cr``
        only when ``created`` and the source has one: the scan reads no column the query does not use)."""
        src = view.batch_source
        fs = self._file_source(src)
        schema = self.source_schema(fs)
        cols = []
        if with_keys:
            types = {f.name: f.dtype for f in view.entity_columns}
            cols += [f"{_key_sql(q(src.source_column(k)), types.get(k))} AS {q(k)}" for k in view.join_keys]
        cols.append(f"{_epoch_us_sql(src.timestamp_field, schema)} AS __ts")
        if created and src.created_timestamp_column:
            cols.append(f"{_epoch_us_sql(src.created_timestamp_column, schema)} AS __cr")
        cols += [f"{q(src.source_column(f))} AS {q(f)}" for f in features]
        where = [f"{q(src.timestamp_field)} IS NOT NULL", *_time_range_sql(src.timestamp_field, *bounds)]
        return f"SELECT {', '.join(cols)} FROM {self._relation(fs)} WHERE {' AND '.join(where)}"

    def _run(self, sql: str, what: str, tables: dict[str, Any] | None = None) -> pa.Table:
        scans, self._scans.pending = self._pending(), {}
        cur = self._cursor()
        try:
            for name, table in {**scans, **(tables or {})}.items():
                cur.register(name, table)
            relation = cur.sql(sql)
            if relation is None:
                raise InvalidRequest(f"{what}: the SQL returns no rows (it is not a query); write a SELECT")
            return relation.to_arrow_table()
        except duckdb.Error as exc:
            raise _driver_error(exc, what) from exc
        finally:
            cur.close()

    # --- point-in-time join ------------------------------------------------------------------------
    def point_in_time_join(
        self,
        entities: pa.Table,
        timestamp_column: str,
        views: list[ViewRequest],
        filter_by_created_timestamp: bool = False,
    ) -> pa.Table:
        n = entities.num_rows
        ts = ensure_utc_micros(entities.column(timestamp_column), timestamp_column)
        key_cols = sorted({c for v in views for c in v.entity_columns})
        slim = pa.table(
            {_ROW: pa.array(np.arange(n, dtype=np.int64)), _TS: ts.cast(pa.int64())}
            | {c: entities.column(c) for c in key_cols}
        )
        bounds = (pc.min(slim.column(_TS)).as_py(), pc.max(slim.column(_TS)).as_py())
        out: dict[str, pa.ChunkedArray] = {}
        # One query per view: only one view's source is held in memory at a time.
        for req in views:
            sql = self._pit_sql(req, bounds, filter_by_created_timestamp)
            result = _in_row_order(self._run(sql, f"point-in-time join of '{req.name}'", {_ENTITY: slim}), n)
            for f in req.features:
                name = req.output_name(f.name)
                out[name] = cast_to_declared(result.column(f.name), f.dtype, f"{req.name}:{f.name}")
        return pa.table(out) if out else pa.table({_ROW: slim.column(_ROW)}).drop([_ROW])

    def _pit_sql(self, req: ViewRequest, bounds: tuple[int | None, int | None], filter_created: bool) -> str:
        """The point-in-time join of one view: ``(row, feature...)`` for every entity row, unordered."""
        view = req.view
        ttl_us = int(view.ttl.total_seconds() * 1_000_000) if view.ttl else 0
        lo = None if bounds[0] is None or not ttl_us else bounds[0] - ttl_us
        feats = [f.name for f in req.features]
        has_cr = bool(view.batch_source.created_timestamp_column)
        filter_created = filter_created and has_cr
        tie_break = has_cr and not filter_created and not self._unique_event_keys(view)
        source = self._view_select(view, feats, (lo, bounds[1]), created=filter_created or tie_break)
        types = {f.name: f.dtype for f in view.entity_columns}
        key_eq = [
            f"{_key_sql(f'e.{q(ec)}', types.get(k))} = s.{q(k)}"
            for ec, k in zip(req.entity_columns, view.join_keys, strict=True)
        ]
        if filter_created:
            on = " AND ".join([*key_eq, f"s.__ts <= e.{_TS}", f"(s.__cr IS NULL OR s.__cr <= e.{_TS})"])
            if ttl_us:
                on += f" AND s.__ts >= e.{_TS} - {ttl_us}"
            best = (
                f"SELECT e.{_ROW} AS __r, s.* FROM {_ENTITY} e JOIN ({source}) s ON {on} QUALIFY row_number() "
                f"OVER (PARTITION BY e.{_ROW} ORDER BY s.__ts DESC, s.__cr DESC NULLS LAST) = 1"
            )
            cols = ", ".join(f"b.{q(f)}" for f in feats)
            return f"SELECT e.{_ROW}, {cols} FROM {_ENTITY} e LEFT JOIN ({best}) b ON b.__r = e.{_ROW}"
        if tie_break:
            entity = f"SELECT *, {_TS}::HUGEINT * {_SHIFT}::HUGEINT + {_MAX_LOW}::HUGEINT AS __k FROM {_ENTITY}"
            source = (
                f"SELECT *, __ts::HUGEINT * {_SHIFT}::HUGEINT + "
                f"coalesce(__cr::HUGEINT + {_OFFSET}::HUGEINT, 0::HUGEINT) AS __k FROM ({source})"
            )
            cond = "s.__k <= e.__k"
        else:
            entity = f"SELECT * FROM {_ENTITY}"
            cond = f"s.__ts <= e.{_TS}"
        hit = f"s.__ts >= e.{_TS} - {ttl_us}" if ttl_us else None
        cols = ", ".join(f"CASE WHEN {hit} THEN s.{q(f)} END AS {q(f)}" if hit else f"s.{q(f)}" for f in feats)
        return (
            f"SELECT e.{_ROW}{', ' if cols else ''}{cols} FROM ({entity}) e "
            f"ASOF LEFT JOIN ({source}) s ON {' AND '.join([*key_eq, cond])}"
        )

    def _unique_event_keys(self, view: FeatureView) -> bool:
        """Whether no two rows of the view's source share (join keys, event timestamp), so ties need no
        created-timestamp tie-break. Checked once per local file set and remembered by fingerprint; a source on
        an object store is never assumed unique."""
        src = view.batch_source
        fs = self._file_source(src)
        data = self._parquet(fs)
        if not data.is_local:
            return False
        files = data.files()
        schema = self.source_schema(fs)
        types = {f.name: f.dtype for f in view.entity_columns}
        keys = [_key_sql(q(src.source_column(k)), types.get(k)) for k in view.join_keys]
        group = [*keys, _epoch_us_sql(src.timestamp_field, schema)]
        relation = f"read_parquet([{', '.join(lit(p) for p in files)}], union_by_name = true)"
        # rows with a null key never match an entity row, so they cannot tie
        where = " AND ".join([f"{q(src.timestamp_field)} IS NOT NULL", *(f"{k} IS NOT NULL" for k in keys)])
        exact = f"SELECT 1 FROM {relation} WHERE {where} GROUP BY {', '.join(group)} HAVING count(*) > 1 LIMIT 1"
        key = fingerprint(files, exact)
        known = self._unique_keys.get(key) if key else None
        if known is not None:
            return known
        what = f"checking FileSource '{fs.name}' for duplicate rows"
        # Equal rows have equal hashes, so as many distinct hashes as rows proves there are no duplicates; it is
        # 2-3x cheaper than grouping by the columns. Fewer (a duplicate, or a hash collision) asks the exact question.
        hashes = f"SELECT count(*) - count(DISTINCT hash({', '.join(group)})) AS d FROM {relation} WHERE {where}"
        unique: bool = self._run(hashes, what).column("d")[0].as_py() == 0 or self._run(exact, what).num_rows == 0
        if key and fingerprint(files, exact) == key:  # the files did not change while they were read
            self._unique_keys.put(key, unique)
        return unique

    # --- reads for materialization -----------------------------------------------------------------
    def pull_latest(self, view: FeatureView, start: datetime, end: datetime) -> pa.RecordBatchReader:
        """Streamed: the latest rows are computed into a DuckDB temporary table (which spills to
        ``temp_directory`` beyond ``memory_limit``), counted, and read back in record batches."""
        feats = [f.name for f in view.features]
        inner = self._view_select(view, feats, (_epoch_us(start), _epoch_us(end)))
        has_cr = bool(view.batch_source.created_timestamp_column)
        # arg_max over the packed (event, created) key: one hash aggregate, no sort (4x a window function);
        # a source without duplicate (key, event ts) has no ties, so the event ts alone is the key
        sort_key = (
            f"__ts::HUGEINT * {_SHIFT}::HUGEINT + coalesce(__cr::HUGEINT + {_OFFSET}::HUGEINT, 0::HUGEINT)"
            if has_cr and not self._unique_event_keys(view)
            else "__ts"
        )
        cr = "make_timestamp(__cr)" if has_cr else "NULL::TIMESTAMP"
        declared = {f.name: to_arrow(f.dtype) for f in view.features}
        # arg_max over a struct turns -0.0 into 0.0: carry each float's sign bit beside it and restore it below.
        floats = [f for f in feats if pa.types.is_floating(declared[f])]
        signs = [f"{lit('__sign_' + f)}: signbit({q(f)})" for f in floats]
        payload = ", ".join(
            [*(f"{lit(f)}: {q(f)}" for f in feats), *signs, "'event_ts': make_timestamp(__ts)", f"'created_ts': {cr}"]
        )
        keys = ", ".join(q(k) for k in view.join_keys)
        group = f" GROUP BY {keys}" if keys else ""
        sql = (
            f"SELECT {keys + ', ' if keys else ''}unnest(arg_max({{{payload}}}, {sort_key})) "
            f"FROM ({inner}){group} HAVING count(*) > 0"
        )
        return self._stream(sql, f"reading feature view '{view.name}'", lambda b: _latest_batch(view, floats, b))

    def _stream(self, sql: str, what: str, convert: Callable[[pa.RecordBatch], pa.RecordBatch]) -> pa.RecordBatchReader:
        """The rows of ``sql``, computed into a temporary table, then read in batches through ``convert``;
        the schema's metadata holds the row count (:data:`ROW_COUNT`)."""
        scans, self._scans.pending = self._pending(), {}
        cur = self._cursor()
        table = f"__ladle_result_{uuid.uuid4().hex}"
        try:
            for name, data in scans.items():
                cur.register(name, data)
            cur.execute(f"CREATE TEMPORARY TABLE {table} AS {sql}")
            total = cur.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            reader = _arrow_reader(cur.sql(f"SELECT * FROM {table}"), _STREAM_ROWS)
            schema = convert(_empty(reader.schema)).schema
        except duckdb.Error as exc:
            cur.close()
            raise _driver_error(exc, what) from exc
        except BaseException:
            cur.close()
            raise
        schema = schema.with_metadata({ROW_COUNT: str(total).encode()})

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                for batch in reader:
                    yield pa.RecordBatch.from_arrays(convert(batch).columns, schema=schema)
            except duckdb.Error as exc:
                raise _driver_error(exc, what) from exc
            finally:
                with contextlib.suppress(duckdb.Error):
                    cur.execute(f"DROP TABLE IF EXISTS {table}")
                cur.close()

        return pa.RecordBatchReader.from_batches(schema, batches())

    def pull_all(
        self, source: DataSource, columns: list[str], start: datetime | None, end: datetime | None
    ) -> pa.Table:
        fs = self._file_source(source)
        cols = ", ".join(f"{q(fs.source_column(c))} AS {q(c)}" for c in columns) or "*"
        where = _time_range_sql(fs.timestamp_field, *(None if b is None else _epoch_us(b) for b in (start, end)))
        sql = f"SELECT {cols} FROM {self._relation(fs)}" + (f" WHERE {' AND '.join(where)}" if where else "")
        return self._run(sql, f"reading source '{fs.name}'")

    def query(self, sql: str) -> pa.Table:
        return self._run(sql, "entity_df query")

    # --- offline push --------------------------------------------------------------------------------
    def append(self, source: DataSource, rows: pa.Table) -> None:
        fs = self._file_source(source)
        aligned = align_to_source(fs, self.source_schema(fs), rows, f"cannot append to FileSource '{fs.name}'")
        self._parquet(fs).append(aligned)


def _driver_error(exc: duckdb.Error, what: str) -> BackendFailure | InvalidRequest:
    """The ladle error a DuckDB error raised while doing ``what`` stands for."""
    if isinstance(exc, duckdb.BinderException):
        return BackendFailure("duckdb offline store", f"{what}: {exc}", "check the schema and field_mapping")
    if isinstance(exc, duckdb.ConversionException):
        return InvalidRequest(f"{what}: {exc}")
    return BackendFailure("duckdb offline store", f"{what}: {exc}")


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)


def _latest_batch(view: FeatureView, floats: list[str], batch: pa.RecordBatch) -> pa.RecordBatch:
    """One batch of ``pull_latest``'s aggregate as its contract says: -0.0 restored from the carried sign bits,
    features cast to their declared types, timestamps as ``timestamp[us, UTC]``."""
    dtypes = {f.name: f.dtype for f in view.features}
    arrays, names = [], []
    for name in batch.schema.names:
        col: pa.Array | pa.ChunkedArray = batch.column(name)
        if name.startswith("__sign_"):
            continue
        if name in floats:
            negative_zero = pc.and_(pc.equal(col, 0), batch.column(f"__sign_{name}"))
            col = pc.if_else(negative_zero, pa.scalar(-0.0, col.type), col)
        if name in dtypes:
            col = cast_to_declared(col, dtypes[name], f"{view.name}:{name}").combine_chunks()
        elif name in ("event_ts", "created_ts"):
            col = col.cast(pa.timestamp("us", tz="UTC"))
        arrays.append(col)
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _key_sql(expr: str, dtype: object) -> str:
    """A join key as compared: a ``Uuid``/``TimeUuid`` key as canonical text (lowercase, hyphenated), whether
    the column holds text in any case or DuckDB's UUID type; any other key as it is."""
    if is_uuid(dtype):
        return f"lower(CAST({expr} AS VARCHAR))"
    return expr


def _arrow_reader(relation: Any, batch_rows: int) -> pa.RecordBatchReader:
    """``relation``'s rows as a stream of record batches: ``to_arrow_reader`` where DuckDB has it (2.0 deprecates
    ``fetch_arrow_reader``), else ``fetch_arrow_reader`` (1.1 has only that)."""
    to_reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
    reader: pa.RecordBatchReader = to_reader(batch_rows)
    return reader
