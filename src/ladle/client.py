"""``FeatureClient``: the feature server (``ladle serve``) from Python, with the SDK's method signatures.

A model service written against ``FeatureStore.get_online_features`` switches to a remote server by
swapping the object::

    store = FeatureStore(repo_path="feature_repo")          # in-process
    store = FeatureClient("http://features.internal:6566")  # remote, same calls

    store.get_online_features(
        features=["driver_hourly_stats:conv_rate"], entity_rows=[{"driver_id": 1001}],
    ).to_dict()

Errors come back as the same ladle error classes (``NotFound``, ``InvalidRequest``,
``BackendUnavailable``, ...), so ``except`` clauses keep working; an unreachable server is
``BackendUnavailable``. Values arrive as JSON: ``to_df()`` has pandas' default dtypes (float64 for a
Float32 feature), not the declared ones the in-process response keeps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from ladle import errors as _errors
from ladle.errors import BackendUnavailable, FeatureServerError, LadleError, WrongArgumentType

__all__ = ["FeatureClient", "FeatureServerError", "RemoteOnlineResponse"]  # FeatureServerError: from ladle.errors

_EPOCH = "1970-01-01T00:00:00Z"


class RemoteOnlineResponse:
    """The server's answer to ``get-online-features``, with the SDK response's methods."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._names: list[str] = list(document["metadata"]["feature_names"])
        self._results: list[Mapping[str, Any]] = list(document["results"])

    @property
    def feature_names(self) -> list[str]:
        """Entity columns then features, in response order."""
        return list(self._names)

    @property
    def statuses(self) -> dict[str, list[str]]:
        """``{column: [status per entity row]}``."""
        return {n: list(r["statuses"]) for n, r in zip(self._names, self._results, strict=True)}

    @property
    def event_timestamps(self) -> dict[str, list[dt.datetime | None]]:
        """``{feature: [event time per entity row]}`` (None where the server had none)."""
        out: dict[str, list[dt.datetime | None]] = {}
        for n, r in zip(self._names, self._results, strict=True):
            stamps = r.get("event_timestamps") or []
            if stamps and all(s == _EPOCH for s in stamps):
                continue  # an entity column or an on-demand feature
            out[n] = [None if s == _EPOCH else dt.datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps]
        return out

    def to_dict(self, include_event_timestamps: bool = False) -> dict[str, list[Any]]:
        """``{column: [value per entity row]}``, entity columns first."""
        out = {n: list(r["values"]) for n, r in zip(self._names, self._results, strict=True)}
        if include_event_timestamps:
            out.update({f"{k}__ts": v for k, v in self.event_timestamps.items()})
        return out

    def to_df(self, include_event_timestamps: bool = False) -> Any:
        """The response as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.to_dict(include_event_timestamps))

    def to_arrow(self) -> Any:
        """The response as a pyarrow Table."""
        import pyarrow as pa

        return pa.table(self.to_dict())


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")  # orjson's protocol; see FeatureClient._post


def _columns(df: Any) -> dict[str, list[Any]]:
    """Rows to send (a pandas/Polars frame, an Arrow table, a dict of lists or a list of dicts) as columns."""
    if isinstance(df, Mapping):
        return {str(k): list(v) for k, v in df.items()}
    if isinstance(df, list):
        if not all(isinstance(row, Mapping) for row in df):
            raise WrongArgumentType("rows given as a list must be dicts (one per row), e.g. [{'driver_id': 1001}]")
        keys = list(df[0]) if df else []
        return {k: [row.get(k) for row in df] for k in keys}
    if hasattr(df, "to_pydict"):  # pyarrow
        return dict(df.to_pydict())
    if hasattr(df, "to_dict") and hasattr(df, "columns"):
        if type(df).__module__.startswith("polars"):
            return dict(df.to_dict(as_series=False))
        return {str(k): v for k, v in df.to_dict(orient="list").items()}
    raise WrongArgumentType(
        f"rows must be a DataFrame, a pyarrow Table, a dict of lists or a list of dicts, got {type(df).__name__}"
    )


def _error_classes() -> dict[str, type[LadleError]]:
    names = [
        "InvalidRequest",
        "NotFound",
        "FeatureNotFound",
        "RegistryConflict",
        "BackendFailure",
        "BackendUnavailable",
        "InvalidDefinition",
    ]
    return {n: getattr(_errors, n) for n in names}


_CLASSES = _error_classes()


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        err = response.json()["error"]
        kind, message = str(err["type"]), str(err["message"])
    except (ValueError, KeyError, TypeError):
        kind, message = "HTTPError", response.text[:500]
    cls = _CLASSES.get(kind)
    if kind == "RegistryUnavailable" or response.status_code == 503:
        cls = BackendUnavailable
    if cls is None:
        raise FeatureServerError(response.status_code, kind, message)
    exc = cls.__new__(cls)  # the server already built the message; keep the class for `except`
    Exception.__init__(exc, message)
    exc.status = response.status_code  # type: ignore[attr-defined]
    raise exc


class FeatureClient:
    """A client of ``ladle serve`` (or Feast's feature server) with ``FeatureStore``'s online methods.

    ``url`` is the server's base URL; ``api_key`` is sent as ``Authorization: Bearer``. One HTTP
    connection pool per client: create it once and reuse it (it is thread-safe).

    >>> # client = FeatureClient("http://localhost:6566", api_key="...")
    >>> # client.get_online_features(["driver_hourly_stats:conv_rate"], [{"driver_id": 1001}]).to_dict()
    """

    def __init__(
        self,
        url: str = "http://localhost:6566",
        api_key: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"content-type": "application/json"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> FeatureClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        try:
            content = orjson.dumps(
                body, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
            )
        except orjson.JSONEncodeError as exc:
            raise WrongArgumentType(f"{path}: the request cannot be sent as JSON: {exc.__cause__ or exc}") from exc
        try:
            response = self._http.post(path, content=content)
        except httpx.TransportError as exc:
            raise BackendUnavailable("feature server", f"cannot reach {self._http.base_url}{path}: {exc}") from exc
        _raise_for(response)
        return orjson.loads(response.content)

    def get_online_features(
        self,
        features: list[str] | Any,
        entity_rows: list[dict[str, Any]] | dict[str, list[Any]],
        full_feature_names: bool = False,
        request_context: dict[str, list[Any]] | None = None,
    ) -> RemoteOnlineResponse:
        """The latest values for ``entity_rows`` (list of dicts, or dict of lists), with statuses.

        ``features`` is a list of ``"view:feature"`` references or a ``FeatureService`` (its name is sent).
        """
        body: dict[str, Any] = {"entities": _columns(entity_rows), "full_feature_names": full_feature_names}
        if isinstance(features, list | tuple):
            body["features"] = list(features)
        elif isinstance(getattr(features, "name", None), str):
            body["feature_service"] = features.name
        else:
            raise WrongArgumentType(
                f"features must be a list of 'view:feature' references or a FeatureService, got {type(features).__name__}"
            )
        if request_context:
            body["request_context"] = _columns(request_context)
        return RemoteOnlineResponse(self._post("/get-online-features", body))

    def push(self, push_source_name: str, df: Any, allow_registry_cache: bool = True, to: Any = "online") -> None:
        """Send rows to every view fed by the push source (``to``: online, offline, online_and_offline)."""
        mode = getattr(to, "name", to)
        self._post("/push", {"push_source_name": push_source_name, "df": _columns(df), "to": str(mode).lower()})

    def write_to_online_store(self, feature_view_name: str, df: Any, allow_registry_cache: bool = True) -> int:
        """Write rows to one view's online table (newer-wins); returns the number of rows sent."""
        answer = self._post("/write-to-online-store", {"feature_view_name": feature_view_name, "df": _columns(df)})
        return int(answer["rows"])

    def materialize(
        self, start_date: dt.datetime, end_date: dt.datetime, feature_views: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Materialize ``start_date <= ts <= end_date``; one summary per view."""
        body = {"start_ts": start_date.isoformat(), "end_ts": end_date.isoformat(), "feature_views": feature_views}
        return list(self._post("/materialize", body)["feature_views"])

    def materialize_incremental(
        self, end_date: dt.datetime, feature_views: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Materialize what is new since each view's last run, up to ``end_date``."""
        body = {"end_ts": end_date.isoformat(), "feature_views": feature_views}
        return list(self._post("/materialize-incremental", body)["feature_views"])

    def health(self) -> dict[str, Any]:
        """The server's ``/health`` document (whatever its status code)."""
        try:
            response = self._http.get("/health")
        except httpx.TransportError as exc:
            raise BackendUnavailable("feature server", f"cannot reach {self._http.base_url}/health: {exc}") from exc
        document: dict[str, Any] = response.json()
        return document
