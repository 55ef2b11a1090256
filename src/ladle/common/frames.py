"""Users' frames (pandas, Polars, Arrow, a dict of lists) as Arrow tables, with ladle errors for what
Arrow cannot convert (mixed-type columns, integers beyond int64)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

from ladle.common.conform import plain_python
from ladle.errors import InvalidRequest

__all__ = ["as_arrow", "pandas_to_arrow", "short"]


def pandas_to_arrow(df: pd.DataFrame, what: str = "the DataFrame") -> pa.Table:
    """``df`` as Arrow (index dropped); object columns of UUIDs, sets or frozensets are read as text and
    lists; a column Arrow cannot type is named in an ``InvalidRequest``."""
    try:
        return pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    except (OverflowError, ValueError) as exc:
        raise _unreadable(df, what, exc) from exc
    plain = df.copy(deep=False)
    for name in plain.columns:
        if plain[name].dtype == object:
            plain[name] = plain[name].map(plain_python)
    try:
        return pa.Table.from_pandas(plain, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, ValueError) as exc:
        raise _unreadable(plain, what, exc) from exc


def _unreadable(df: pd.DataFrame, what: str, exc: BaseException) -> InvalidRequest:
    return InvalidRequest(
        f"cannot read {_culprit(df, what)} as one typed column: {short(exc)} "
        "(give each column one type, e.g. df[col] = df[col].astype('int64'); integers must fit in int64)"
    )


def as_arrow(df: Any) -> pa.Table:
    """A pandas/Polars frame, an Arrow table or a dict of lists as Arrow."""
    if isinstance(df, pa.Table):
        return df
    if isinstance(df, pd.DataFrame):
        return pandas_to_arrow(df)
    if isinstance(df, dict):
        try:
            try:
                return pa.table(df)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):  # UUIDs, sets: text and lists
                return pa.table({k: [plain_python(v) for v in vs] for k, vs in df.items()})
        except (
            pa.ArrowInvalid,
            pa.ArrowTypeError,
            pa.ArrowNotImplementedError,
            ValueError,
            OverflowError,
            TypeError,
        ) as exc:
            raise InvalidRequest(f"cannot read the rows as columns: {short(exc)}") from exc
    if type(df).__module__.startswith("polars"):
        return df.to_arrow()
    raise InvalidRequest(
        f"rows must be a pandas DataFrame, a pyarrow Table or a dict of lists, got {type(df).__name__}"
    )


def short(exc: BaseException, limit: int = 300) -> str:
    """An error's text cut to ``limit`` characters (it may quote a user's huge value)."""
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "…"


def _culprit(df: pd.DataFrame, what: str) -> str:
    for name in df.columns:
        try:
            pa.array(df[name], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, ValueError):
            return f"column {str(name)[:100]!r} of {what}"
    return what
