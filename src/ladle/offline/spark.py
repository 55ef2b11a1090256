"""Spark offline store (``offline_store: {type: spark, spark_conf: {...}}``): history read and joined by Spark.

Sources are ``SparkSource`` (a catalog table, a Spark SQL query, or files at a path) and ``FileSource``
(parquet). No source table is collected to the driver: the point-in-time join, the latest-per-key
aggregate and ``persist`` run in Spark; only results asked for as Arrow/pandas come back.

The point-in-time join of one view, without any join (so no entity row can be dropped or duplicated):
entity rows and source rows are stacked into one frame (``unionByName``), partitioned by the join keys and
sorted by an ordering time, sources before entities on ties. For every entity row, a running
``max_by(source values, (ts, created))`` over the rows before it picks the newest candidate; ttl is then
checked on the picked row (if the newest candidate is too old, all are). The ordering time is the event
timestamp, or ``greatest(ts, created)`` with ``filter_by_created_timestamp`` (a row is visible once both
have passed). Views are applied one after another to the same entity frame; a row id restores the order.
"""

from __future__ import annotations

import os
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import field_validator

from ladle.common.backend_config import BackendConfig
from ladle.common.conform import conform_keys
from ladle.common.times import epoch_us as _epoch_us
from ladle.definitions import DataSource, FeatureView, FileSource, SavedDatasetSparkStorage, SparkSource
from ladle.definitions.external_sources import check_readable
from ladle.errors import BackendFailure, InvalidDefinition, InvalidRequest, MissingExtra
from ladle.offline.base import EngineFrames, OfflineStore, ViewRequest
from ladle.offline.columns import cast_to_declared, ensure_utc_micros
from ladle.offline.filesystem import follow_local_pointer
from ladle.types import is_uuid, to_arrow

__all__ = ["SparkOfflineStore", "SparkOfflineStoreConfig"]

ROW = "__ladle_row"
TS = "__ladle_ts"
_STORE = "spark offline store"
#: settings ladle gives a session it creates (the user's spark_conf wins; an existing session is left alone)
_DEFAULT_CONF = {
    "spark.app.name": "ladle",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
_LONG_MIN = -(2**63)


class SparkOfflineStoreConfig(BackendConfig):
    """Feast's keys for the Spark offline store.

    ``spark_conf`` goes to ``SparkSession.builder.config`` when ladle creates the session (e.g.
    ``spark.master: spark://host:7077``); when a session is already active (a notebook, ``spark-submit``),
    it is reused as it is.
    """

    type: Literal["spark"] = "spark"
    spark_conf: dict[str, str] | None = None
    #: accepted for Feast compatibility; ladle keeps no staging files
    staging_location: str | None = None
    #: accepted for Feast compatibility
    region: str | None = None

    @field_validator("spark_conf", mode="before")
    @classmethod
    def _conf_as_strings(cls, v: Any) -> Any:
        # yaml gives `spark.sql.shuffle.partitions: 8` as an int and `...enabled: true` as a bool
        if isinstance(v, dict):
            return {str(k): (str(x).lower() if isinstance(x, bool) else str(x)) for k, x in v.items()}
        return v


def _pyspark() -> tuple[Any, Any, Any]:
    """``(SparkSession, functions, Window)``, or MissingExtra when pyspark is not installed."""
    try:
        from pyspark.sql import SparkSession, Window
        from pyspark.sql import functions as F
    except ImportError as exc:
        raise MissingExtra("the spark offline store", "spark", "pyspark") from exc
    return SparkSession, F, Window


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _nanosecond_columns(path: str) -> list[str]:
    """The nanosecond timestamp columns of local parquet files (none for remote paths or unreadable files)."""
    if "://" in path and not path.startswith("file:"):
        return []
    import pyarrow.dataset as ds

    try:
        schema = ds.dataset(path.removeprefix("file:"), format="parquet").schema
    except (OSError, pa.ArrowInvalid):
        return []
    return [f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.unit == "ns"]


def col(name: str) -> Any:
    """A Spark column by exact name (dots and backticks in the name are not structure)."""
    _, F, _ = _pyspark()
    return F.col(_quoted(name))


def epoch_micros(frame: Any, name: str, what: str) -> Any:
    """Column ``name`` of ``frame`` as UTC microseconds since the epoch (naive timestamps are UTC)."""
    _, F, _ = _pyspark()
    kind = frame.schema[name].dataType.typeName()
    c = col(name)
    if kind == "timestamp":
        return F.unix_micros(c)
    if kind in ("timestamp_ntz", "date"):
        # naive times are UTC: count microseconds from the naive epoch, whatever the session time zone
        return F.timestamp_diff("MICROSECOND", F.expr("TIMESTAMP_NTZ'1970-01-01 00:00:00'"), c.cast("timestamp_ntz"))
    if kind == "string":
        return F.unix_micros(c.cast("timestamp"))
    raise InvalidRequest(f"{what}: column '{name}' must hold timestamps, but its Spark type is {kind}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class SparkOfflineStore(OfflineStore, EngineFrames):
    """History in Spark: ``SparkSource`` tables, queries and files, and ``FileSource`` parquet."""

    name = "spark"
    config_class = SparkOfflineStoreConfig
    config: SparkOfflineStoreConfig
    engine: ClassVar[str] = "spark"

    def __init__(self, config: SparkOfflineStoreConfig, repo_path: Path) -> None:
        _pyspark()
        super().__init__(config, repo_path)
        self._spark: Any = None
        self._lock = threading.Lock()

    # --- session -------------------------------------------------------------------------------------
    @property
    def spark(self) -> Any:
        """The SparkSession: the active one if there is one, else one built from ``spark_conf``."""
        with self._lock:
            if self._spark is None or self._spark.sparkContext._jsc is None:
                spark_session, _, _ = _pyspark()
                active = spark_session.getActiveSession()
                if active is None:
                    builder = spark_session.builder
                    conf = {**_DEFAULT_CONF, **(self.config.spark_conf or {})}
                    conf.setdefault("spark.master", "local[*]")
                    if conf["spark.master"].startswith("local") and not os.environ.get("PYSPARK_PYTHON"):
                        # local Python workers run this interpreter (where ladle is), not python3 on PATH;
                        # pyspark reads the variable when it creates the SparkContext
                        os.environ["PYSPARK_PYTHON"] = sys.executable
                    for key, value in conf.items():
                        builder = builder.config(key, value)
                    try:
                        active = builder.getOrCreate()
                    except Exception as exc:
                        raise BackendFailure(
                            _STORE,
                            f"cannot start a SparkSession: {_first_line(exc)}",
                            "check offline_store.spark_conf (spark.master) and that Java 17+ is installed",
                        ) from exc
                self._spark = active
            return self._spark

    def close(self) -> None:
        """Forget the session (it belongs to the application: ladle never stops it)."""
        with self._lock:
            self._spark = None

    # --- sources -------------------------------------------------------------------------------------
    def _path(self, path: str) -> str:
        if "://" in path or Path(path).is_absolute():
            return path
        return str(self.repo_path / path)

    def frame(self, source: DataSource) -> Any:
        """The source's rows as a Spark DataFrame (raw column names). BackendFailure if it does not exist."""
        batch = source.batch
        check_readable(batch)
        spark = self.spark
        try:
            if isinstance(batch, SparkSource):
                if batch.table:
                    return spark.table(batch.table)
                if batch.query:
                    return spark.sql(batch.query)
                if batch.file_format == "parquet":
                    return self._read_parquet(self._path(batch.path))
                reader = spark.read.format(batch.file_format)
                if batch.file_format == "csv":
                    reader = reader.option("header", "true").option("inferSchema", "true")
                return reader.load(self._path(batch.path))
            if isinstance(batch, FileSource):
                return self._read_parquet(self._path(batch.path))
        except Exception as exc:
            raise self._driver_error(exc, f"reading {type(batch).__name__} '{batch.name}'", batch) from exc
        raise InvalidDefinition(
            type(batch).__name__,
            batch.name,
            "the spark offline store reads SparkSource and FileSource (parquet) sources",
        )

    def _read_parquet(self, path: str) -> Any:
        """Parquet files as a DataFrame; nanosecond timestamp columns (what pandas writes), which Spark cannot
        read as timestamps, are read as longs and floored to microsecond timestamps (the rule of
        :mod:`ladle.offline.columns`). That needs the files' schema, so it works for local paths only."""
        _, F, _ = _pyspark()
        path = follow_local_pointer(path)  # a feature set's `latest` pointer reads the version it names
        reader = self.spark.read
        if Path(path, "metadata.json").is_file():  # a published version folder: its parquet, not its metadata
            reader = reader.option("pathGlobFilter", "*.parquet")
        nanos = _nanosecond_columns(path)
        if not nanos:
            return reader.parquet(path)
        self.spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
        raw = reader.parquet(path)
        floored = {c: F.timestamp_micros(F.expr(f"({_quoted(c)} - pmod({_quoted(c)}, 1000)) div 1000")) for c in nanos}
        return raw.withColumns(floored)

    def _driver_error(self, exc: Exception, doing: str, source: DataSource | None = None) -> BackendFailure:
        """The ladle error a Spark error raised while ``doing`` (reading ``source``, when given) stands for."""
        if source is None:
            return BackendFailure(_STORE, f"{doing}: {_first_line(exc)}")
        kind = type(source).__name__
        where = source.describe_location() if isinstance(source, SparkSource) else f"parquet at '{source.path}'"  # type: ignore[attr-defined]
        text = _first_line(exc)
        if "NOT_FOUND" in text or "not found" in text.lower() or "does not exist" in text.lower():
            fix = (
                "create the table or fix table= in the SparkSource"
                if isinstance(source, SparkSource) and source.table
                else "check the path (relative paths are relative to the repo folder)"
            )
            return BackendFailure(_STORE, f"{kind} '{source.name}': {where} does not exist ({text})", fix)
        if "TIMESTAMP(NANOS" in text:
            return BackendFailure(
                _STORE,
                f"cannot read {kind} '{source.name}' ({where}): its timestamps are in nanoseconds, which "
                "Spark reads only from local paths through ladle",
                "write the parquet files with microsecond timestamps, e.g. "
                "df.to_parquet(path, coerce_timestamps='us', allow_truncated_timestamps=True)",
            )
        return BackendFailure(_STORE, f"cannot read {kind} '{source.name}' ({where}): {text}")

    def source_schema(self, source: DataSource) -> pa.Schema:
        frame = self.frame(source)
        try:
            from pyspark.sql.pandas.types import to_arrow_schema

            return to_arrow_schema(frame.schema, timezone="UTC")
        except Exception:
            return self._to_arrow(frame.limit(0), f"reading the columns of source '{source.batch.name}'").schema

    def _to_arrow(self, frame: Any, doing: str) -> pa.Table:
        try:
            return frame.toArrow()
        except Exception as exc:
            raise self._driver_error(exc, doing) from exc

    def _view_rows(
        self,
        view: FeatureView,
        features: list[str],
        lo: int | None,
        hi: int | None,
        visible_at_created: bool = False,
    ) -> Any:
        """A view's source rows: join keys, ``__ts`` / ``__cr`` (micros; null created is the oldest), ``__eff``
        (when the row becomes visible), and the features, all under mapped names."""
        _, F, _ = _pyspark()
        src = view.batch_source
        raw = self.frame(src)
        what = f"source '{src.name}' of feature view '{view.name}'"
        missing = [
            c
            for c in [
                *(src.source_column(k) for k in [*view.join_keys, *features]),
                src.timestamp_field,
                src.created_timestamp_column,
            ]
            if c and c not in raw.columns
        ]
        if missing:
            raise BackendFailure(
                _STORE,
                f"{what} has no column(s) {missing}; its columns are {raw.columns}",
                "check the schema and field_mapping",
            )
        ts = epoch_micros(raw, src.timestamp_field, what)
        cr = (
            F.coalesce(epoch_micros(raw, src.created_timestamp_column, what), F.lit(_LONG_MIN))
            if src.created_timestamp_column
            else F.lit(_LONG_MIN)
        )
        types = {f.name: f.dtype for f in view.entity_columns}
        cols = [_key_column(col(src.source_column(k)), types.get(k)).alias(k) for k in view.join_keys]
        cols += [ts.alias("__ts"), cr.alias("__cr")]
        cols += [col(src.source_column(f)).alias(f) for f in features]
        rows = raw.select(*cols).where(F.col("__ts").isNotNull())
        if lo is not None:
            rows = rows.where(F.col("__ts") >= F.lit(lo))
        if hi is not None:
            rows = rows.where(F.col("__ts") <= F.lit(hi))
        eff = (
            F.greatest(F.col("__ts"), F.col("__cr"))
            if visible_at_created and src.created_timestamp_column
            else F.col("__ts")
        )
        return rows.withColumn("__eff", eff)

    # --- point-in-time join --------------------------------------------------------------------------
    def _join_view(
        self, entities: Any, req: ViewRequest, bounds: tuple[int | None, int | None], filter_created: bool
    ) -> Any:
        """``entities`` (with ROW and TS) plus ``{req.name}__{feature}`` for every feature of ``req``."""
        _, F, Window = _pyspark()
        view = req.view
        ttl_us = int(view.ttl.total_seconds() * 1_000_000) if view.ttl else 0
        lo = None if bounds[0] is None or ttl_us <= 0 else bounds[0] - ttl_us
        feats = [f.name for f in req.features]
        rows = self._view_rows(view, feats, lo, bounds[1], filter_created)
        keys = [f"__k{i}" for i in range(len(view.join_keys))]
        key_types = {k: rows.schema[k].dataType for k in view.join_keys}
        types = {f.name: f.dtype for f in view.entity_columns}
        ent_side = entities.select(
            *[
                _key_column(col(c), types.get(k)).cast(key_types[k]).alias(kk)
                for c, k, kk in zip(req.entity_columns, view.join_keys, keys, strict=True)
            ],
            col(TS).alias("__eff"),
            F.lit(1).alias("__side"),
            F.struct(*[col(c) for c in entities.columns]).alias("__ent"),
        )
        src_side = rows.select(
            *[col(k).alias(kk) for k, kk in zip(view.join_keys, keys, strict=True)],
            F.col("__eff"),
            F.lit(0).alias("__side"),
            F.struct(F.col("__ts"), F.col("__cr")).alias("__ord"),
            F.struct(F.col("__ts").alias("__ts"), *[col(f).alias(f"f{i}") for i, f in enumerate(feats)]).alias("__val"),
        )
        stacked = ent_side.unionByName(src_side, allowMissingColumns=True)
        window = (
            Window.partitionBy(*keys)
            .orderBy("__eff", "__side")
            .rowsBetween(Window.unboundedPreceding, Window.currentRow)
        )
        best = F.max_by(F.col("__val"), F.col("__ord")).over(window)
        picked = stacked.select(F.col("__side"), F.col("__ent"), best.alias("__best")).where(F.col("__side") == 1)
        hit = F.col("__best.__ts").isNotNull()
        if ttl_us > 0:
            hit = hit & (F.col("__best.__ts") >= F.col(f"__ent.{TS}") - F.lit(ttl_us))
        out = [F.col(f"__ent.{c}").alias(c) for c in entities.columns]
        out += [F.when(hit, F.col(f"__best.f{i}")).alias(f"{req.name}__{f}") for i, f in enumerate(feats)]
        return picked.select(*out)

    def join_frame(
        self,
        entities: Any,
        views: list[ViewRequest],
        filter_by_created_timestamp: bool,
        bounds: tuple[int | None, int | None] = (None, None),
    ) -> Any:
        """Every view's features added to ``entities`` (a DataFrame with ROW and TS), lazily, in Spark."""
        frame = entities
        for req in views:
            frame = self._join_view(frame, req, bounds, filter_by_created_timestamp)
        return frame

    def point_in_time_join(
        self,
        entities: pa.Table,
        timestamp_column: str,
        views: list[ViewRequest],
        filter_by_created_timestamp: bool = False,
    ) -> pa.Table:
        n = entities.num_rows
        slim, bounds = self._entity_upload(
            entities, timestamp_column, sorted({c for v in views for c in v.entity_columns})
        )
        frame = self.join_frame(self._upload(slim), views, filter_by_created_timestamp, bounds)
        names = [f"{req.name}__{f.name}" for req in views for f in req.features]
        result = self._to_arrow(frame.select(col(ROW), *[col(c) for c in names]), "point-in-time join")
        if result.num_rows != n:  # the stacked window keeps every entity row exactly once; guard it anyway
            raise BackendFailure(_STORE, f"join returned {result.num_rows} rows for {n} entity rows")
        order = np.empty(n, dtype=np.int64)
        order[result.column(ROW).to_numpy()] = np.arange(n, dtype=np.int64)
        result = result.take(pa.array(order))
        out: dict[str, pa.ChunkedArray] = {}
        for req in views:
            for f in req.features:
                column = result.column(f"{req.name}__{f.name}")
                out[req.output_name(f.name)] = cast_to_declared(column, f.dtype, f"{req.name}:{f.name}")
        return pa.table(out)

    def _entity_upload(
        self, entities: pa.Table, timestamp_column: str, columns: list[str]
    ) -> tuple[pa.Table, tuple[int | None, int | None]]:
        """ROW, TS (UTC micros) and ``columns`` of the caller's rows, and the min/max entity time."""
        ts = ensure_utc_micros(entities.column(timestamp_column), timestamp_column).cast(pa.int64())
        table = pa.table(
            {ROW: pa.array(np.arange(entities.num_rows, dtype=np.int64)), TS: ts}
            | {c: entities.column(c) for c in columns}
        )
        return table, (pc.min(ts).as_py(), pc.max(ts).as_py())

    def _upload(self, table: pa.Table) -> Any:
        """An Arrow table as a Spark DataFrame (timestamps as UTC instants; nothing else changes)."""
        fixed = table
        for i, f in enumerate(table.schema):
            if pa.types.is_timestamp(f.type):
                fixed = fixed.set_column(i, f.name, ensure_utc_micros(table.column(i), f.name))
            elif pa.types.is_dictionary(f.type):
                fixed = fixed.set_column(i, f.name, table.column(i).cast(f.type.value_type))
        try:
            return self.spark.createDataFrame(fixed)
        except Exception as exc:
            raise InvalidRequest(f"cannot send the entity rows to Spark: {_first_line(exc)}") from exc

    # --- training sets kept in Spark (EngineFrames) --------------------------------------------------
    def entity_schema(self, entity_df: Any) -> pa.Schema | None:
        frame = self._entity_frame(entity_df)
        if frame is None:
            return None
        from pyspark.sql.pandas.types import to_arrow_schema

        return to_arrow_schema(frame.schema, timezone="UTC")

    def _entity_frame(self, entity_df: Any) -> Any:
        if isinstance(entity_df, str):
            try:
                return self.spark.sql(entity_df)
            except Exception as exc:
                raise InvalidRequest(f"entity_df query failed in Spark: {_first_line(exc)}") from exc
        if type(entity_df).__module__.startswith("pyspark.sql") and hasattr(entity_df, "schema"):
            return entity_df
        return None

    def _numbered(self, entities: Any, timestamp_column: str) -> Any:
        """The caller's rows as a DataFrame with ROW (their order) and TS added."""
        _, F, _ = _pyspark()
        if isinstance(entities, pa.Table):
            ts = ensure_utc_micros(entities.column(timestamp_column), timestamp_column).cast(pa.int64())
            table = entities.append_column(ROW, pa.array(np.arange(entities.num_rows, dtype=np.int64)))
            return self._upload(table.append_column(TS, ts))
        frame = self._entity_frame(entities)
        return frame.select(
            *[col(c) for c in frame.columns],
            F.monotonically_increasing_id().alias(ROW),
            epoch_micros(frame, timestamp_column, "entity_df").alias(TS),
        )

    def collect_join(
        self, entity_df: Any, timestamp_column: str, views: list[ViewRequest], filter_by_created_timestamp: bool
    ) -> tuple[pa.Table, dict[str, pa.ChunkedArray]]:
        numbered = self._numbered(entity_df, timestamp_column)
        frame = self.join_frame(numbered, views, filter_by_created_timestamp)
        table = self._to_arrow(frame, "point-in-time join")
        table = table.take(pc.sort_indices(table.column(ROW)))
        entity_cols = [c for c in numbered.columns if c not in (ROW, TS)]
        joined = {
            f"{req.name}__{f.name}": cast_to_declared(
                table.column(f"{req.name}__{f.name}"), f.dtype, f"{req.name}:{f.name}"
            )
            for req in views
            for f in req.features
        }
        return table.select(entity_cols), joined

    def result_frame(
        self,
        entity_df: Any,
        timestamp_column: str,
        views: list[ViewRequest],
        outputs: list[tuple[str, str, str]],
        filter_by_created_timestamp: bool,
    ) -> Any:
        numbered = self._numbered(entity_df, timestamp_column)
        frame = self.join_frame(numbered, views, filter_by_created_timestamp).orderBy(ROW)
        declared = {f"{req.name}__{f.name}": f for req in views for f in req.features}
        cols = [col(c) for c in numbered.columns if c not in (ROW, TS)]
        for view, feature, name in outputs:
            cols.append(self._declared(col(f"{view}__{feature}"), declared[f"{view}__{feature}"].dtype).alias(name))
        return frame.select(*cols)

    @staticmethod
    def _declared(column: Any, dtype: Any) -> Any:
        """Cast a Spark column to a feature's declared type when it is a plain scalar type."""
        from pyspark.sql.pandas.types import from_arrow_type

        target = to_arrow(dtype)
        if pa.types.is_nested(target):
            return column
        return column.cast(from_arrow_type(target))

    def frame_from_arrow(self, table: pa.Table) -> Any:
        return self._upload(table)

    def persist_frame(self, frame: Any, storage: Any, allow_overwrite: bool) -> None:
        if isinstance(storage, SavedDatasetSparkStorage):
            storage = storage.spark_source
        mode = "overwrite" if allow_overwrite else "errorifexists"
        if isinstance(storage, SparkSource) and storage.query:
            raise InvalidRequest(f"cannot persist to SparkSource '{storage.name}': it is a query; give table= or path=")
        if not isinstance(storage, SparkSource | FileSource):
            raise InvalidRequest(
                f"persist() with the spark offline store takes a SparkSource, SavedDatasetSparkStorage or FileSource, "
                f"got {type(storage).__name__}"
            )
        writer = frame.write.mode(mode)
        fmt, path = storage.file_format or "parquet", self._path(storage.path)
        target = (
            f"table '{storage.table}'"
            if isinstance(storage, SparkSource) and storage.table
            else f"{fmt} files at '{path}'"
        )
        try:
            if isinstance(storage, SparkSource) and storage.table:
                writer.saveAsTable(storage.table)
            else:
                writer.format(fmt).save(path)
        except Exception as exc:
            text = _first_line(exc)
            if "already exists" in text.lower() or "ALREADY_EXISTS" in text:
                raise InvalidRequest(
                    f"cannot persist to {target}: it already exists (pass allow_overwrite=True)"
                ) from exc
            raise BackendFailure(_STORE, f"persisting to {target}: {text}") from exc

    # --- reads for materialization -------------------------------------------------------------------
    def latest_frame(self, view: FeatureView, start: datetime, end: datetime) -> Any:
        """Per entity key, the newest row with ``start <= ts <= end`` as a Spark DataFrame (lazy): join keys,
        features (source types), ``event_ts`` and ``created_ts`` (timestamps)."""
        _, F, _ = _pyspark()
        feats = [f.name for f in view.features]
        rows = self._view_rows(view, feats, _epoch_us(start), _epoch_us(end))
        payload = F.struct(*[col(f).alias(f"f{i}") for i, f in enumerate(feats)], F.col("__ts"), F.col("__cr"))
        best = F.max_by(payload, F.struct(F.col("__ts"), F.col("__cr"))).alias("__best")
        grouped = rows.groupBy(*[col(k) for k in view.join_keys]).agg(best) if view.join_keys else rows.agg(best)
        created = F.when(F.col("__best.__cr") != F.lit(_LONG_MIN), F.timestamp_micros(F.col("__best.__cr")))
        return grouped.where(F.col("__best").isNotNull()).select(
            *[col(k) for k in view.join_keys],
            *[F.col(f"__best.f{i}").alias(f) for i, f in enumerate(feats)],
            F.timestamp_micros(F.col("__best.__ts")).alias("event_ts"),
            created.cast("timestamp").alias("created_ts"),
        )

    def pull_latest(self, view: FeatureView, start: datetime, end: datetime) -> pa.RecordBatchReader:
        table = self._to_arrow(self.latest_frame(view, start, end), f"reading feature view '{view.name}'")
        out = latest_rows(view, table)
        return pa.RecordBatchReader.from_batches(out.schema, out.to_batches(max_chunksize=250_000))

    def pull_all(
        self, source: DataSource, columns: list[str], start: datetime | None, end: datetime | None
    ) -> pa.Table:
        _, F, _ = _pyspark()
        raw = self.frame(source)
        batch = source.batch
        ts = epoch_micros(raw, batch.timestamp_field, f"source '{batch.name}'")
        frame = raw
        if start is not None:
            frame = frame.where(ts >= F.lit(_epoch_us(start)))
        if end is not None:
            frame = frame.where(ts <= F.lit(_epoch_us(end)))
        selected = frame.select(*[col(batch.source_column(c)).alias(c) for c in columns])
        return self._to_arrow(selected, f"reading source '{batch.name}'")

    def query(self, sql: str) -> pa.Table:
        frame = self._entity_frame(sql)
        return self._to_arrow(frame, "entity_df query")

    def append(self, source: DataSource, rows: pa.Table) -> None:
        batch = source.batch
        if isinstance(batch, SparkSource) and batch.query:
            raise InvalidRequest(
                f"cannot push offline to SparkSource '{batch.name}': it is a query, not a table or path"
            )
        if isinstance(batch, FileSource) and Path(self._path(batch.path)).is_file():
            raise InvalidRequest(
                f"cannot push offline to FileSource '{batch.name}' with the spark store: it is one file; "
                "point it at a folder of parquet files"
            )
        target = self.frame(batch)
        renamed = rows.rename_columns([batch.source_column(c) for c in rows.column_names])
        missing = [c for c in target.columns if c not in renamed.column_names]
        if missing:
            raise InvalidRequest(
                f"cannot append to {type(batch).__name__} '{batch.name}': the pushed rows lack {missing}"
            )
        uploaded = self._upload(renamed.select(target.columns))
        aligned = uploaded.select(*[col(f.name).cast(f.dataType).alias(f.name) for f in target.schema.fields])
        try:
            if isinstance(batch, SparkSource) and batch.table:
                aligned.write.insertInto(batch.table)
            elif isinstance(batch, SparkSource | FileSource):
                fmt = batch.file_format or "parquet"
                aligned.write.mode("append").format(fmt).save(self._path(batch.path))
        except Exception as exc:
            raise self._driver_error(exc, f"appending to '{batch.name}'") from exc


def latest_rows(view: FeatureView, table: pa.Table) -> pa.Table:
    """Rows of :meth:`SparkOfflineStore.latest_frame` as the online stores take them: declared feature types,
    ``event_ts``/``created_ts`` as timestamp[us, UTC]. Used on the driver and on executors alike."""
    declared = {f.name: f.dtype for f in view.features}
    out: dict[str, pa.ChunkedArray | pa.Array] = {}
    for name in table.column_names:
        column = table.column(name)
        if name in declared:
            column = cast_to_declared(column, declared[name], f"{view.name}:{name}")
        elif name in ("event_ts", "created_ts"):
            column = ensure_utc_micros(column, name)
        out[name] = column
    return conform_keys(pa.table(out), view.entity_columns)


def _key_column(column: Any, dtype: object) -> Any:
    """A join key as compared: a ``Uuid``/``TimeUuid`` key as canonical text (lowercase), any other as it is."""
    if is_uuid(dtype):
        from pyspark.sql import functions as F

        return F.lower(column.cast("string"))
    return column
