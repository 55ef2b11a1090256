"""Running on-demand feature views over a batch of retrieved features and request data.

Historical and online retrieval both call :func:`apply_on_demand`, so a transformation gives the same
answer in training and serving. The function sees source features under their plain names (and under
``view__feature`` too), request fields, and the entity columns.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

from ladle.errors import InvalidRequest, RequestDataNotFoundInEntityRows
from ladle.offline.columns import cast_to_declared
from ladle.retrieval.feature_refs import OnDemandRequest, ResolvedFeatures

__all__ = ["apply_on_demand", "on_demand_inputs", "run_on_demand"]


def on_demand_inputs(
    resolved: ResolvedFeatures, request: OnDemandRequest, columns: dict[str, pa.ChunkedArray | pa.Array]
) -> dict[str, pa.ChunkedArray | pa.Array]:
    """The input columns of one on-demand view, named as its function expects."""
    out: dict[str, pa.ChunkedArray | pa.Array] = {}
    for src in request.view.source_views:
        vname = src.projection.name_alias or src.name
        for f in src.projected_features:
            key = f"{vname}__{f.name}"
            if key not in columns:
                raise InvalidRequest(f"on-demand view '{request.view.name}' needs feature '{vname}:{f.name}'")
            out.setdefault(f.name, columns[key])
            out[key] = columns[key]
    for f in request.request_fields:
        if f.name not in columns:
            # historical requests are checked before (RequestDataNotFoundInEntityDf): this is the online path
            raise RequestDataNotFoundInEntityRows(
                f"on-demand view '{request.view.name}' needs request data '{f.name}'; "
                "pass it as a column of entity_df (historical) or in request_context / entity_rows (online)"
            )
        out[f.name] = columns[f.name]
    for c in resolved.entity_columns:
        if c in columns:
            out.setdefault(c, columns[c])
    return out


def _run_pandas(request: OnDemandRequest, inputs: dict[str, Any]) -> dict[str, Any]:
    frame = pa.table(inputs).to_pandas(ignore_metadata=True)
    result = request.view.udf(frame)
    if not isinstance(result, pd.DataFrame):
        raise InvalidRequest(
            f"on-demand view '{request.view.name}' (mode 'pandas') must return a pandas DataFrame, "
            f"got {type(result).__name__}"
        )
    return {c: result[c] for c in result.columns}


def _run_python(request: OnDemandRequest, inputs: dict[str, Any]) -> dict[str, Any]:
    result = request.view.udf({k: v.to_pylist() for k, v in inputs.items()})
    if not isinstance(result, dict):
        raise InvalidRequest(
            f"on-demand view '{request.view.name}' (mode 'python') must return a dict of lists, "
            f"got {type(result).__name__}"
        )
    return result


def run_on_demand(request: OnDemandRequest, inputs: dict[str, Any]) -> dict[str, Any]:
    """Call the view's function on ``inputs`` in its mode; returns what it produced, by column name.

    Raises :class:`~ladle.errors.InvalidRequest` naming the view when the function raises or returns
    something other than a DataFrame (pandas mode) or a dict (python mode).
    """
    run = _run_pandas if request.view.mode == "pandas" else _run_python
    try:
        return run(request, inputs)
    except InvalidRequest:
        raise
    except Exception as exc:
        raise InvalidRequest(f"on-demand view '{request.view.name}' raised {type(exc).__name__}: {exc}") from exc


def apply_on_demand(
    resolved: ResolvedFeatures, columns: dict[str, pa.ChunkedArray | pa.Array], num_rows: int
) -> dict[str, pa.ChunkedArray]:
    """Compute every requested on-demand feature; returns ``{"view__feature": values}``.

    ``columns`` holds the source features under ``view__feature`` names, request data and entity columns.
    """
    out: dict[str, pa.ChunkedArray] = {}
    for request in resolved.on_demand:
        produced = run_on_demand(request, on_demand_inputs(resolved, request, columns))
        for f in request.features:
            if f.name not in produced:
                raise InvalidRequest(
                    f"on-demand view '{request.view.name}' did not return its declared feature '{f.name}'"
                )
            values = produced[f.name]
            arr = pa.array(values, from_pandas=True) if not isinstance(values, pa.Array) else values
            if len(arr) != num_rows:
                raise InvalidRequest(
                    f"on-demand view '{request.view.name}' returned {len(arr)} values for '{f.name}', "
                    f"expected {num_rows} (one per row)"
                )
            name = request.name or request.view.name
            out[f"{name}__{f.name}"] = cast_to_declared(arr, f.dtype, f"{request.view.name}:{f.name}")
    return out
