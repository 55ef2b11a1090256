"""On-demand feature views: features computed at request time from other features and request data."""

from __future__ import annotations

import builtins
import importlib
import inspect
import textwrap
import types
from collections.abc import Callable
from typing import Any

from ladle.definitions.base import Named, check_name, check_tags
from ladle.definitions.feature_view import FeatureView, FeatureViewProjection
from ladle.definitions.field import Field
from ladle.definitions.sources import RequestSource, source_from_dict
from ladle.definitions.transformation import Transformation, transformation_for
from ladle.errors import InvalidDefinition

__all__ = ["OnDemandFeatureView", "on_demand_feature_view"]

_MODES = ("pandas", "python")
_CONSTANT_TYPES = (int, float, str, bool, type(None))


def _udf_environment(udf: Callable[..., Any]) -> dict[str, Any]:
    """The module aliases and constants ``udf`` reads from its globals, so it can be rebuilt elsewhere."""
    modules: dict[str, str] = {}
    constants: dict[str, Any] = {}
    names: set[str] = set()
    stack: list[types.CodeType] = [udf.__code__]
    while stack:
        code = stack.pop()
        names.update(code.co_names)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    for name in sorted(names):
        if name not in udf.__globals__:
            continue
        value = udf.__globals__[name]
        if isinstance(value, types.ModuleType):
            modules[name] = value.__name__
        elif isinstance(value, _CONSTANT_TYPES):
            constants[name] = value
    return {"modules": modules, "constants": constants}


def _udf_source(udf: Callable[..., Any]) -> str:
    """The function's source without decorators, dedented."""
    try:
        src = textwrap.dedent(inspect.getsource(udf))
    except (OSError, TypeError) as exc:
        raise InvalidDefinition(
            "OnDemandFeatureView",
            getattr(udf, "__name__", None),
            "cannot read the function's source code",
            "define it in a .py file of the repo",
        ) from exc
    lines = src.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith(("def ", "async def "))), None)
    if start is None or getattr(udf, "__name__", "") == "<lambda>":
        raise InvalidDefinition(
            "OnDemandFeatureView",
            getattr(udf, "__name__", None),
            "its function is a lambda, which cannot be stored",
            "define it with def in a .py file of the repo",
        )
    return "\n".join(lines[start:]) + "\n"


def _rebuild_udf(name: str, source: str, env: dict[str, Any]) -> Callable[..., Any]:
    namespace: dict[str, Any] = {"__builtins__": builtins}
    for alias, module in env.get("modules", {}).items():
        namespace[alias] = importlib.import_module(module)
    namespace.update(env.get("constants", {}))
    exec(compile(source, f"<on_demand_feature_view {name}>", "exec"), namespace)
    fn = namespace.get(name)
    if not callable(fn):
        raise InvalidDefinition("OnDemandFeatureView", name, "stored function source does not define it")
    return fn  # type: ignore[no-any-return]


class _StoredUdf:
    """A function kept as its stored source: compiled (and its ``udf_env`` modules imported) on first call.

    Loading a registry, listing and describing its on-demand views therefore run none of their code; only
    computing features does (after the registry's signature was checked, when signing is configured).
    """

    def __init__(self, name: str, source: str, env: dict[str, Any]) -> None:
        self.__name__ = name
        self._source, self._env = source, env
        self._fn: Callable[..., Any] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._fn is None:
            self._fn = _rebuild_udf(self.__name__, self._source, self._env)
        return self._fn(*args, **kwargs)


class OnDemandFeatureView(Named):
    """Features computed by a Python function from feature views and request data.

    ``mode="pandas"``: ``udf(df) -> df`` over the whole batch; ``mode="python"``: ``udf(dict) -> dict``
    with a list of values per column. Instead of ``udf`` and ``mode``, Feast's
    ``feature_transformation=PandasTransformation(udf=f)`` (or ``PythonTransformation``) gives both;
    Feast's ``udf_string`` is accepted and not needed (ladle reads the function's source itself).
    """

    def __init__(
        self,
        *,
        name: str,
        sources: list[FeatureView | RequestSource | FeatureViewProjection],
        schema: list[Field],
        udf: Callable[..., Any] | None = None,
        mode: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        owner: str = "",
        udf_source: str | None = None,
        udf_env: dict[str, Any] | None = None,
        feature_transformation: Transformation | None = None,
        udf_string: str = "",
    ) -> None:
        self.name = check_name("OnDemandFeatureView", name)
        udf, mode = _udf_and_mode(name, udf, mode, feature_transformation)
        if mode not in _MODES:
            raise InvalidDefinition("OnDemandFeatureView", name, f"mode must be one of {_MODES}, got {mode!r}")
        if not sources:
            raise InvalidDefinition(
                "OnDemandFeatureView", name, "needs at least one source (feature view or RequestSource)"
            )
        self.source_views: list[FeatureView] = []
        self.request_sources: list[RequestSource] = []
        for s in sources:
            if isinstance(s, FeatureView):
                self.source_views.append(s)
            elif isinstance(s, RequestSource):
                self.request_sources.append(s)
            else:
                raise InvalidDefinition(
                    "OnDemandFeatureView", name, f"sources must be FeatureView or RequestSource objects, got {s!r}"
                )
        if not schema or not all(isinstance(f, Field) for f in schema):
            raise InvalidDefinition("OnDemandFeatureView", name, "schema must be a non-empty list of Field")
        self.schema = list(schema)
        if not callable(udf):
            raise InvalidDefinition("OnDemandFeatureView", name, "udf must be a function")
        self.udf = udf
        self.mode = mode
        self.udf_source = udf_source if udf_source is not None else _udf_source(udf)
        self.udf_env = udf_env if udf_env is not None else _udf_environment(udf)
        self.description = description or ""
        self.tags = check_tags("OnDemandFeatureView", name, tags)
        self.owner = owner or ""
        self.projection = FeatureViewProjection(self.name)

    @property
    def features(self) -> list[Field]:
        return self.schema

    @property
    def feature_transformation(self) -> Transformation:
        """The function as Feast's transformation object (``PandasTransformation`` or ``PythonTransformation``)."""
        return transformation_for(self.mode, self.udf)

    @property
    def projected_features(self) -> list[Field]:
        return self.schema if self.projection.features is None else self.projection.features

    def __getitem__(self, names: list[str]) -> OnDemandFeatureView:
        by_name = {f.name: f for f in self.schema}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise InvalidDefinition("OnDemandFeatureView", self.name, f"cannot project unknown feature(s) {unknown}")
        out = object.__new__(OnDemandFeatureView)
        out.__dict__.update(self.__dict__)
        out.projection = FeatureViewProjection(self.name, [by_name[n] for n in names])
        return out

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly (handy in unit tests of the transformation)."""
        return self.udf(*args, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description, including the function's source."""
        return {
            "kind": "on_demand_feature_view",
            "name": self.name,
            "sources": [{"feature_view": v.name, "projection": v.projection.to_dict()} for v in self.source_views]
            + [{"request_source": r.to_dict()} for r in self.request_sources],
            "schema": [f.to_dict() for f in self.schema],
            "mode": self.mode,
            "udf_name": self.udf.__name__,
            "udf_source": self.udf_source,
            "udf_env": self.udf_env,
            "description": self.description,
            "tags": self.tags,
            "owner": self.owner,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], views: dict[str, FeatureView]) -> OnDemandFeatureView:
        """Inverse of :meth:`to_dict`; ``views`` resolves source view names; the function is rebuilt from its
        source on first call (not here: reading a registry runs none of its code)."""
        sources: list[FeatureView | RequestSource | FeatureViewProjection] = []
        for s in data["sources"]:
            if "feature_view" in s:
                fv = views[s["feature_view"]]
                proj = s.get("projection") or {}
                if proj.get("features") is not None:
                    fv = fv[proj["features"]]
                if proj.get("name_alias"):
                    fv = fv.with_name(proj["name_alias"])
                if proj.get("join_key_map"):
                    fv = fv.with_join_key_map(proj["join_key_map"])
                sources.append(fv)
            else:
                src = source_from_dict(s["request_source"])
                assert isinstance(src, RequestSource)
                sources.append(src)
        udf = _StoredUdf(data["udf_name"], data["udf_source"], data.get("udf_env", {}))
        return cls(
            name=data["name"],
            sources=sources,
            schema=[Field.from_dict(f) for f in data["schema"]],
            udf=udf,
            mode=data.get("mode", "pandas"),
            description=data.get("description", ""),
            tags=data.get("tags"),
            owner=data.get("owner", ""),
            udf_source=data["udf_source"],
            udf_env=data.get("udf_env", {}),
        )


def _udf_and_mode(
    name: str, udf: Callable[..., Any] | None, mode: str | None, transformation: Transformation | None
) -> tuple[Callable[..., Any], str]:
    """The function and mode from ``udf``/``mode`` or from a ``feature_transformation``, checked to agree."""
    if transformation is None:
        if udf is None:
            raise InvalidDefinition(
                "OnDemandFeatureView",
                name,
                "has no function",
                "pass udf=... or feature_transformation=PandasTransformation(udf=...), or use @on_demand_feature_view",
            )
        return udf, mode or "pandas"
    if not isinstance(transformation, Transformation):
        raise InvalidDefinition(
            "OnDemandFeatureView",
            name,
            f"feature_transformation must be a PandasTransformation or PythonTransformation, got {transformation!r}",
        )
    if mode is not None and mode != transformation.mode:
        raise InvalidDefinition(
            "OnDemandFeatureView",
            name,
            f"mode='{mode}' contradicts its {type(transformation).__name__} (mode '{transformation.mode}')",
            "drop mode=, or use the transformation class of that mode",
        )
    if udf is not None and udf is not transformation.udf:
        raise InvalidDefinition("OnDemandFeatureView", name, "give udf= or feature_transformation=, not both")
    return transformation.udf, transformation.mode


def on_demand_feature_view(
    *,
    sources: list[FeatureView | RequestSource | FeatureViewProjection],
    schema: list[Field],
    mode: str = "pandas",
    description: str = "",
    tags: dict[str, str] | None = None,
    owner: str = "",
    name: str | None = None,
    **_ignored: Any,
) -> Callable[[Callable[..., Any]], OnDemandFeatureView]:
    """Decorator turning a function into an :class:`OnDemandFeatureView` named after it.

    >>> from ladle.types import Float64, Int64
    >>> req = RequestSource(name="vals", schema=[Field(name="x", dtype=Int64)])
    >>> @on_demand_feature_view(sources=[req], schema=[Field(name="x2", dtype=Float64)])
    ... def doubled(inputs):
    ...     return inputs.assign(x2=inputs["x"] * 2.0)[["x2"]]
    >>> doubled.name
    'doubled'
    """

    def wrap(fn: Callable[..., Any]) -> OnDemandFeatureView:
        return OnDemandFeatureView(
            name=name or fn.__name__,
            sources=sources,
            schema=schema,
            udf=fn,
            mode=mode,
            description=description,
            tags=tags,
            owner=owner,
        )

    return wrap
