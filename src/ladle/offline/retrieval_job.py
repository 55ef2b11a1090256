"""``RetrievalJob``: the lazy result of ``get_historical_features``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa

__all__ = ["RetrievalJob", "arrow_to_pandas"]

_NULLABLE_INTS = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
}


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas keeping declared types: Float32 stays float32, and integer columns with nulls stay
    integers (pandas nullable ``Int64``) instead of turning into floats."""
    df: pd.DataFrame = table.to_pandas(ignore_metadata=True)
    for f in table.schema:
        if f.type in _NULLABLE_INTS and table.column(f.name).null_count > 0:
            df[f.name] = table.column(f.name).to_pandas(types_mapper=_NULLABLE_INTS.get).array
    return df


class RetrievalJob:
    """A training set that is computed when first asked for, then kept.

    ``to_df()`` keeps the caller's entity columns exactly as given (for a pandas entity_df, the same
    column objects and index) and appends the feature columns.
    """

    def __init__(
        self,
        compute: Callable[[], pa.Table],
        entity_frame: pd.DataFrame | None,
        feature_columns: list[str],
        full_feature_names: bool,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._compute = compute
        self._table: pa.Table | None = None
        self._entity_frame = entity_frame
        self.feature_columns = feature_columns
        self.full_feature_names = full_feature_names
        self.metadata = metadata or {}

    def to_arrow(self) -> pa.Table:
        """The result as an Arrow table (entity columns, then features)."""
        if self._table is None:
            self._table = self._compute()
        return self._table

    def to_df(self) -> pd.DataFrame:
        """The result as a pandas DataFrame."""
        table = self.to_arrow()
        if self._entity_frame is None:
            return arrow_to_pandas(table)
        features = arrow_to_pandas(table.select(self.feature_columns))
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
