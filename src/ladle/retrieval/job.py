"""``RetrievalJob``: the lazy result of ``get_historical_features``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from ladle.errors import InvalidRequest
from ladle.offline.base import EngineFrames
from ladle.offline.filesystem import ObjectStoreOptions, ParquetPath

if TYPE_CHECKING:
    pass

__all__ = ["EngineFrames", "RetrievalJob", "arrow_to_pandas"]

_NULLABLE_INTS = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
}


def arrow_to_pandas(table: pa.Table, feast_compatible_dtypes: bool = False) -> pd.DataFrame:
    """Arrow -> pandas keeping declared types: Float32 stays float32, and integer columns with nulls stay
    integers (pandas nullable ``Int64``) instead of turning into floats.

    ``feast_compatible_dtypes=True`` gives the dtypes Feast's training sets have instead: float32 columns
    as float64, integer columns with nulls as float64 with NaN.
    """
    df: pd.DataFrame = table.to_pandas(ignore_metadata=True)
    if feast_compatible_dtypes:
        for f in table.schema:
            if pa.types.is_float32(f.type):
                df[f.name] = df[f.name].astype("float64")
        return df
    for f in table.schema:
        if f.type in _NULLABLE_INTS and table.column(f.name).null_count > 0:
            df[f.name] = table.column(f.name).to_pandas(types_mapper=_NULLABLE_INTS.get).array
    return df


class RetrievalJob:
    """A training set that is computed when first asked for, then kept.

    ``to_df()`` keeps the caller's entity columns exactly as given (for a pandas entity_df, the same
    column objects and index) and appends the feature columns. With an offline store that has its own
    engine (Spark), ``to_spark_df()`` gives the result as the engine's DataFrame and ``persist()`` writes it
    from there.
    """

    def __init__(
        self,
        compute: Callable[[], pa.Table],
        entity_frame: pd.DataFrame | None,
        feature_columns: list[str],
        full_feature_names: bool,
        metadata: dict[str, Any] | None = None,
        offline_store: str = "",
        engine: EngineFrames | None = None,
        engine_frame: Callable[[], Any] | None = None,
        object_store: ObjectStoreOptions | None = None,
    ) -> None:
        self._compute = compute
        self._table: pa.Table | None = None
        self._entity_frame = entity_frame
        self.feature_columns = feature_columns
        self.full_feature_names = full_feature_names
        self.metadata = metadata or {}
        self._offline_store = offline_store or "this"
        self._engine = engine
        self._engine_frame = engine_frame
        self._frame: Any = None
        self._object_store = object_store or ObjectStoreOptions()

    def to_arrow(self) -> pa.Table:
        """The result as an Arrow table (entity columns, then features)."""
        if self._table is None:
            self._table = self._compute()
        return self._table

    #: set by ``FeatureStore`` from ``feast_compatible_dtypes`` (feature_store.yaml or its argument)
    feast_compatible_dtypes: bool = False

    def to_df(self, feast_compatible_dtypes: bool | None = None) -> pd.DataFrame:
        """The result as a pandas DataFrame: declared dtypes kept, or Feast's (see :func:`arrow_to_pandas`).

        ``feast_compatible_dtypes`` overrides the store's setting for this call.
        """
        feast = self.feast_compatible_dtypes if feast_compatible_dtypes is None else feast_compatible_dtypes
        table = self.to_arrow()
        if self._entity_frame is None:
            return arrow_to_pandas(table, feast)
        features = arrow_to_pandas(table.select(self.feature_columns), feast)
        features.index = self._entity_frame.index
        out = self._entity_frame.copy(deep=False)
        for c in self.feature_columns:
            out[c] = features[c]
        return out

    def to_polars(self) -> Any:
        """The result as a Polars DataFrame (needs ``pip install "ladle[polars]"``)."""
        try:
            import polars as pl
        except ImportError as exc:
            from ladle.errors import MissingExtra

            raise MissingExtra("RetrievalJob.to_polars", "polars", "polars") from exc
        return pl.from_arrow(self.to_arrow())

    def to_spark_df(self) -> Any:
        """The result as a Spark DataFrame, computed in Spark (needs ``offline_store: {type: spark}``).

        Rows are in entity order. On-demand features are computed on the driver, so a result that has
        any is built from :meth:`to_arrow` and sent to Spark.
        """
        if self._engine is None or self._engine.engine != "spark":
            raise InvalidRequest(
                f"to_spark_df() needs the spark offline store (offline_store: {{type: spark}}); "
                f"the {self._offline_store} offline store returns to_df(), to_arrow() or to_polars()"
            )
        if self._frame is None:
            self._frame = (
                self._engine_frame()
                if self._engine_frame is not None
                else self._engine.frame_from_arrow(self.to_arrow())
            )
        return self._frame

    def persist(self, storage: Any, allow_overwrite: bool = False, timeout: int | None = None) -> None:
        """Save the result to ``storage``, like Feast's ``RetrievalJob.persist``.

        With the spark offline store, Spark writes it (a ``SparkSource`` / ``SavedDatasetSparkStorage``
        table or path, or a ``FileSource`` folder) without the rows passing through the driver. Every other
        store writes a ``FileSource`` or ``SavedDatasetFileStorage`` target as one parquet file: a local path
        (relative to the current directory), ``s3://...`` (the target's ``s3_endpoint_override``, else the
        offline store's ``s3_*`` settings) or another URI pyarrow knows. An existing target is an error unless
        ``allow_overwrite``.
        """
        if self._engine is not None:
            self._engine.persist_frame(self.to_spark_df(), storage, allow_overwrite)
            return
        target = getattr(storage, "file_options", storage)  # SavedDatasetFileStorage wraps a FileSource
        path = getattr(target, "path", None)
        if type(target).__name__ != "FileSource" or not path:
            raise InvalidRequest(
                f"the {self._offline_store} offline store persists to a FileSource(path=...) or "
                f"SavedDatasetFileStorage(path=...), got {type(storage).__name__}"
            )
        ParquetPath(
            path,
            f"saved dataset '{path}'",
            Path.cwd(),
            self._object_store,
            getattr(target, "s3_endpoint_override", ""),
            store=f"{self._offline_store} offline store",
        ).write(self.to_arrow(), allow_overwrite)
