"""Request and response bodies of the feature server (Feast's JSON shapes), as pydantic models.

Routes parse their body with ``Model.model_validate_json`` (one pass in pydantic-core, no stdlib json);
:func:`request_body` and :func:`component_schemas` put the same models into the OpenAPI document, so
``/docs`` and schema-driven testers see exactly what is validated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic import Strict as _Strict

__all__ = [
    "ErrorBody",
    "GetOnlineFeaturesRequest",
    "MaterializeIncrementalRequest",
    "MaterializeRequest",
    "OnlineFeaturesResponse",
    "PushRequest",
    "WriteToOnlineStoreRequest",
    "component_schemas",
    "error_responses",
    "request_body",
]

#: a JSON scalar an entity key may hold
EntityValue = StrictInt | StrictStr | StrictFloat | StrictBool | None
_INT64 = (-(2**63), 2**63 - 1)


def _iso_8601(value: Any) -> Any:
    """An ISO 8601 string as a datetime (a date alone is its midnight); anything else is left to refuse."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value  # not ISO 8601: the strict datetime validation names the field
    return value


#: an RFC 3339 / ISO 8601 string (not a number), or a date alone (its midnight); naive means UTC
Timestamp = Annotated[
    datetime,
    _Strict(),
    BeforeValidator(_iso_8601),
    WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]}),
]
#: "view:feature" (the pattern is documented; the store checks it, with a message naming the form)
FeatureRef = Annotated[str, _Strict(), Field(json_schema_extra={"pattern": "^[^:]+:[^:]+$"})]
PushTarget = Literal["online", "offline", "online_and_offline", "ONLINE", "OFFLINE", "ONLINE_AND_OFFLINE"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GetOnlineFeaturesRequest(_Body):
    """``POST /get-online-features``: features (refs or a service) for a batch of entity rows."""

    features: list[FeatureRef] | None = Field(
        default=None, description="Feature references 'view:feature' (give this or feature_service)."
    )
    feature_service: StrictStr | None = Field(default=None, description="A feature service name (or features).")
    entities: dict[str, list[EntityValue]] = Field(
        description="Join key (and request data) columns: {column: [value per entity row]}."
    )
    request_context: dict[str, list[Any]] | None = Field(
        default=None, description="Request data for on-demand views: {column: [value per entity row]}."
    )
    full_feature_names: StrictBool = Field(default=False, description="Name features 'view__feature'.")

    @model_validator(mode="after")
    def _one_source(self) -> GetOnlineFeaturesRequest:
        if (self.features is None) == (self.feature_service is None):
            raise ValueError("give exactly one of 'features' (a list of 'view:feature') or 'feature_service'")
        return self


def _first_outside_int64(values: list[Any]) -> int | None:
    """The index of the first integer (or list holding one) outside the 64-bit range."""
    low, high = _INT64
    for i, v in enumerate(values):
        if type(v) is int and not low <= v <= high:
            return i
        if isinstance(v, list) and _first_outside_int64(v) is not None:
            return i
    return None


class _Rows(_Body):
    df: dict[str, list[Any]] = Field(description="The rows as columns: {column: [value per row]}.")

    @field_validator("df")
    @classmethod
    def _ints_fit_int64(cls, df: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for column, values in df.items():
            row = _first_outside_int64(values)
            if row is not None:
                raise ValueError(
                    f"column '{column[:100]}', row {row}: the integer does not fit in a 64-bit integer "
                    "(-2**63 .. 2**63-1)"
                )
        return df


class PushRequest(_Rows):
    """``POST /push``: rows for every view fed by a push source."""

    push_source_name: StrictStr
    to: PushTarget = Field(default="online", description="Where the rows go.")
    allow_registry_cache: StrictBool = Field(default=True, description="Accepted for Feast compatibility.")
    transform_on_write: StrictBool = Field(default=True, description="Accepted for Feast compatibility.")


class WriteToOnlineStoreRequest(_Rows):
    """``POST /write-to-online-store``: rows written to one feature view's online table (newer-wins)."""

    feature_view_name: StrictStr
    allow_registry_cache: StrictBool = Field(default=True, description="Accepted for Feast compatibility.")
    transform_on_write: StrictBool = Field(default=True, description="Accepted for Feast compatibility.")


class MaterializeRequest(_Body):
    """``POST /materialize``: load values with ``start_ts <= ts <= end_ts`` into the online store."""

    start_ts: Timestamp = Field(description="ISO 8601; naive means UTC; a date alone is its midnight.")
    end_ts: Timestamp = Field(description="ISO 8601; naive means UTC; a date alone is its midnight.")
    feature_views: list[StrictStr] | None = Field(default=None, description="Default: every online view.")
    disable_event_timestamp: StrictBool = Field(default=False, description="Not supported: must be false.")


class MaterializeIncrementalRequest(_Body):
    """``POST /materialize-incremental``: load what is new since each view's last run, up to ``end_ts``."""

    end_ts: Timestamp = Field(description="ISO 8601; naive means UTC; a date alone is its midnight.")
    feature_views: list[StrictStr] | None = Field(default=None, description="Default: every online view.")


# --- responses (documentation: the routes encode them with orjson) -----------------------------------
class _FeatureNames(BaseModel):
    feature_names: list[str]


class FeatureResult(BaseModel):
    """One returned column: a value, a status and an event timestamp per entity row."""

    values: list[Any]
    statuses: list[str] = Field(description="PRESENT, NOT_FOUND, NULL_VALUE or OUTSIDE_MAX_AGE.")
    event_timestamps: list[str] = Field(description="RFC 3339 (UTC, 'Z'); 1970-01-01T00:00:00Z when none.")


class OnlineFeaturesResponse(BaseModel):
    """Feast's ``get-online-features`` response: entity columns first, then features, in request order."""

    metadata: _FeatureNames
    results: list[FeatureResult]


class _ErrorDetail(BaseModel):
    type: str
    message: str


class ErrorBody(BaseModel):
    """Every error response."""

    error: _ErrorDetail


class WriteResponse(BaseModel):
    """What a push or write did."""

    status: str
    rows: int


class MaterializedView(BaseModel):
    """One view's materialization."""

    feature_view: str
    start_ts: str
    end_ts: str
    rows: int


class MaterializeResponse(BaseModel):
    """What a materialization did."""

    status: str
    feature_views: list[MaterializedView]


_ALL: list[type[BaseModel]] = [
    GetOnlineFeaturesRequest,
    PushRequest,
    WriteToOnlineStoreRequest,
    MaterializeRequest,
    MaterializeIncrementalRequest,
    OnlineFeaturesResponse,
    ErrorBody,
    WriteResponse,
    MaterializeResponse,
]
_REF = "#/components/schemas/{model}"


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that parses ``model`` from its JSON body itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}},
        }
    }


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entries of the error statuses a route may return."""
    return {s: {"model": ErrorBody, "description": _WHY.get(s, "error")} for s in statuses}


_WHY = {
    400: "invalid JSON, an invalid request (bad reference, entity key or value type) or a Host not allowed",
    401: "missing or invalid API key",
    403: "the API key's scope does not allow this call, or a web page of another origin sent it",
    404: "unknown feature view, feature, feature service or push source",
    409: "the registry changed during the write",
    413: "the request body is too large, or holds too many entity rows",
    415: "the body is not sent as application/json",
    422: "the body does not match the schema",
    502: "the store answered with an error",
    503: "a store or the registry cannot be reached",
}


def component_schemas() -> dict[str, Any]:
    """JSON schemas of every body model, keyed by name, with references into ``components/schemas``."""
    out: dict[str, Any] = {}
    for model in _ALL:
        schema = model.model_json_schema(ref_template=_REF, mode="validation")
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out
