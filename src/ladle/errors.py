"""Every error ladle raises on purpose.

The tree::

    LadleError                          root: catch this to catch everything ladle means to raise
    ├── InvalidDefinition (ValueError)   an Entity/FeatureView/... was built with bad arguments
    │   ├── SpecifiedFeaturesNotPresent  a declared feature is not a column of the view's source
    │   ├── ConflictingViewNames         a feature view and an on-demand view share a name
    │   ├── UnsupportedSource            a source no ladle offline store reads (BigQuerySource, ...)
    │   └── InvalidType (TypeError)      a feature type that does not exist or cannot be built (Array(Map))
    ├── InvalidConfig (ValueError)       feature_store.yaml is missing, unreadable or has a bad key
    ├── RepoLoadError                    a repo file failed to import, or defines a name twice
    ├── NotFound (KeyError)              a named object (view, feature, service, ...) is not registered
    │   ├── FeatureNotFound
    │   ├── EntityNotFound, FeatureViewNotFound, OnDemandFeatureViewNotFound, FeatureServiceNotFound,
    │   │   ProjectNotFound
    │   └── DataSourceNotFound
    │       └── PushSourceNotFound
    ├── InvalidRequest (ValueError)      arguments to a FeatureStore call are wrong (entity df, refs, keys)
    │   ├── WrongArgumentType (TypeError) an argument is of a type the call does not take
    │   ├── FeatureNameCollision         two requested features would get the same output name
    │   ├── EntityColumnsMissing         entity_df lacks a join key
    │   └── RequestDataNotFound          an on-demand view's request data is missing
    │       ├── RequestDataNotFoundInEntityDf
    │       └── RequestDataNotFoundInEntityRows
    ├── RegistryConflict                 someone else changed the registry while we were applying
    ├── MissingExtra (ImportError)       an optional backend's driver is not installed
    ├── Unauthorized                     (feature server) the request carries no valid API key
    ├── Forbidden                        (feature server) the API key's scope does not allow the call
    ├── PayloadTooLarge                  (feature server) the request body is over ``max_body_bytes``
    ├── RequestTimeout                   (feature server) the body did not arrive within ``body_timeout_sec``
    ├── TooManyRows                      (feature server) more rows than ``max_entities_per_request``
    ├── FeatureServerError               (client) the server answered an error no ladle class names
    └── BackendError                     a store failed; ``retryable`` says whether trying again may help
        ├── BackendUnavailable           transient: unreachable, timed out (retryable)
        │   └── RegistryUnavailable      (feature server) no registry loaded yet
        └── BackendFailure               terminal: missing table, bad credentials, type mismatch
            └── SourceNotFound           a source's data (file, table) does not exist (yet)

    LadleWarning (UserWarning)          something worth knowing that does not stop the call (the CLI
                                        prints it as one ``Warning:`` line)

The feature server maps each class to an HTTP status (``ladle.server.errors.STATUS_BY_CLASS``) and
:class:`~ladle.client.FeatureClient` raises the class the server named.

Each error builds its message from the object it is about and what to do about it; the CLI prints
``str(error)`` on one line and the HTTP server maps the class to a status code.

The specific subclasses (``FeatureViewNotFound``, ``RequestDataNotFound``, ...) exist so that code
written for Feast catches ladle's errors with Feast's names (``ladle.repo.feast_errors``, seen as
``feast.errors``); ``NotFound(kind, ...)`` builds the subclass for its kind. They report their
parent's name as :attr:`LadleError.type_name` (what the HTTP server puts in ``error.type``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, ClassVar

__all__ = [
    "BackendError",
    "BackendFailure",
    "BackendUnavailable",
    "ConflictingViewNames",
    "DataSourceNotFound",
    "EntityColumnsMissing",
    "EntityNotFound",
    "FeatureNameCollision",
    "FeatureNotFound",
    "FeatureServerError",
    "FeatureServiceNotFound",
    "FeatureViewNotFound",
    "Forbidden",
    "InvalidConfig",
    "InvalidDefinition",
    "InvalidRequest",
    "InvalidType",
    "LadleError",
    "LadleWarning",
    "MissingExtra",
    "NotFound",
    "OnDemandFeatureViewNotFound",
    "PayloadTooLarge",
    "ProjectNotFound",
    "PushSourceNotFound",
    "RegistryConflict",
    "RegistryUnavailable",
    "RepoLoadError",
    "RequestDataNotFound",
    "RequestDataNotFoundInEntityDf",
    "RequestDataNotFoundInEntityRows",
    "RequestTimeout",
    "SourceNotFound",
    "SpecifiedFeaturesNotPresent",
    "TooManyRows",
    "Unauthorized",
    "UnsupportedSource",
    "WrongArgumentType",
    "did_you_mean",
]


class LadleError(Exception):
    """Root of every error ladle raises on purpose."""

    #: set by the Feast-named subclasses to their parent's name (see :attr:`type_name`)
    _reported_as: ClassVar[str] = ""

    @property
    def type_name(self) -> str:
        """The error's kind for machines (the HTTP ``error.type``): the class name, or its parent's."""
        return self._reported_as or type(self).__name__

    def __str__(self) -> str:
        # KeyError quotes its message; every ladle error reads as plain text.
        return str(self.args[0]) if self.args else self.__class__.__name__


class InvalidDefinition(ValueError, LadleError):
    """A definition (Entity, FeatureView, ...) was constructed with bad arguments."""

    def __init__(self, kind: str, name: str | None, problem: str, fix: str = "") -> None:
        self.kind, self.name, self.problem, self.fix = kind, name, problem, fix
        label = f"{kind} '{name}'" if name else kind
        super().__init__(f"{label}: {problem}" + (f" ({fix})" if fix else ""))


class InvalidConfig(ValueError, LadleError):
    """feature_store.yaml is missing or invalid."""

    def __init__(self, path: str, problem: str, fix: str = "") -> None:
        self.path, self.problem, self.fix = path, problem, fix
        super().__init__(f"{path}: {problem}" + (f" ({fix})" if fix else ""))


class RepoLoadError(LadleError):
    """A repo could not be loaded: a file failed to import or two objects share a name."""


#: at most this many registered names are listed in a NotFound message
MAX_LISTED_NAMES = 12


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """The registered name closest to a mistyped ``name`` (difflib), or ``None`` when none is close.

    >>> did_you_mean("driver_hourly_stat", ["driver_hourly_stats", "customer_profile"])
    'driver_hourly_stats'
    """
    if not isinstance(name, str):
        return None
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if close:
        return close[0]
    lowered = {k.lower(): k for k in known}  # a change of case only scores low in difflib
    return lowered.get(name.lower())


def listed(names: Iterable[str]) -> str:
    """``a, b, c`` (sorted), cut after :data:`MAX_LISTED_NAMES` with ``(+N more)``."""
    ordered = sorted(set(names))
    shown = ", ".join(ordered[:MAX_LISTED_NAMES])
    return shown + (f" (+{len(ordered) - MAX_LISTED_NAMES} more)" if len(ordered) > MAX_LISTED_NAMES else "")


def _plural(kind: str) -> str:
    return kind[:-1] + "ies" if kind.endswith("y") else kind + "s"


class NotFound(KeyError, LadleError):
    """A named object is not in the registry.

    The message names the closest registered name and lists the registered ones (bounded), e.g.
    ``unknown feature view 'driver_hourly_stat' in 'driver_hourly_stat:conv_rate' of project 'demo'; did you
    mean 'driver_hourly_stats'? registered feature views: customer_profile, driver_hourly_stats``.
    """

    __str__ = LadleError.__str__

    def __new__(cls, *args: Any, **kwargs: Any) -> NotFound:
        # NotFound("feature view", ...) is a FeatureViewNotFound, so `except FeatureViewNotFoundException` works
        target = cls
        if cls is NotFound:
            kind = args[0] if args else kwargs.get("kind")
            target = _NOT_FOUND_BY_KIND.get(str(kind), NotFound)
        return super().__new__(target, *args, **kwargs)

    def __init__(
        self, kind: str, name: str, project: str, known: Iterable[str] | None = None, ref: str | None = None
    ) -> None:
        self.kind, self.name, self.project = kind, name, project
        self.known = sorted(set(known or ()))
        where = f" in '{ref}'" if ref and ref != name else ""
        if self.known:
            guess = did_you_mean(name, self.known)
            hint = (
                f"; did you mean '{guess}'?" if guess else ";"
            ) + f" registered {_plural(kind)}: {listed(self.known)}"
            fix = "check the name, or run `ladle apply`"
        else:
            hint, fix = f"; no {_plural(kind)} are registered", "run `ladle apply`"
        super().__init__(f"unknown {kind} '{name}'{where} of project '{project}'{hint} ({fix})")


class FeatureNotFound(NotFound):
    """A feature reference names a view that exists but a feature it does not have."""

    def __init__(self, view: str, feature: str, project: str, known: list[str], ref: str | None = None) -> None:
        self.kind, self.name, self.project, self.known = "feature", f"{view}:{feature}", project, list(known)
        guess = did_you_mean(feature, known)
        KeyError.__init__(
            self,
            f"unknown feature '{feature}' in '{ref or self.name}': feature view '{view}' of project '{project}' "
            f"has no such feature;"
            + (f" did you mean '{guess}'?" if guess else "")
            + f" its features are: {listed(known)}",
        )


class InvalidRequest(ValueError, LadleError):
    """The arguments of a FeatureStore call are wrong (bad refs, missing entity keys, ...)."""


class WrongArgumentType(TypeError, InvalidRequest):
    """An argument of a call is of a type it does not take (a ``TypeError`` too, as Python's own would be)."""


class InvalidType(TypeError, InvalidDefinition):
    """A feature type that does not exist or cannot be built: ``Array(Map)``, ``Struct({})``, an unknown
    type name, something that is not a type (a ``TypeError`` too, as Python's own would be)."""

    def __init__(self, problem: str, fix: str = "") -> None:
        self.kind, self.name, self.problem, self.fix = "type", None, problem, fix
        LadleError.__init__(self, problem + (f" ({fix})" if fix else ""))


class RegistryConflict(LadleError):
    """The registry changed underneath an apply; re-run the command."""


class MissingExtra(ImportError, LadleError):
    """An optional backend was configured but its driver is not installed."""

    def __init__(self, backend: str, extra: str, module: str) -> None:
        super().__init__(
            f"{backend} needs the Python package '{module}', which is not installed "
            f'(run: pip install "ladle[{extra}]")'
        )


class BackendError(LadleError):
    """A store failed. ``retryable`` tells callers whether trying again may help."""

    retryable = False

    def __init__(self, store: str, message: str, fix: str = "") -> None:
        self.store = store
        super().__init__(f"{store}: {message}" + (f" ({fix})" if fix else ""))


class BackendUnavailable(BackendError):
    """The store could not be reached or timed out; retrying may succeed."""

    retryable = True


class BackendFailure(BackendError):
    """The store answered with an error that retrying will not fix."""


class SourceNotFound(BackendFailure):
    """A source's data (parquet files, a table) does not exist; it may simply not have been written yet."""


class RegistryUnavailable(BackendUnavailable):
    """No registry has been loaded yet (the feature server keeps trying in the background)."""


# --- the feature server and its client ------------------------------------------------------------------


class Unauthorized(LadleError):
    """The request carries no valid API key."""


class Forbidden(LadleError):
    """The API key is valid but its scope does not allow the call."""


class PayloadTooLarge(LadleError):
    """The request body is larger than the server accepts."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the request body is larger than {limit} bytes (send fewer rows per request, or raise "
            "feature_server.max_body_bytes in feature_store.yaml)"
        )


class RequestTimeout(LadleError):
    """The client did not send its whole body in time."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the request body did not arrive within {seconds:g} s (feature_server.body_timeout_sec); "
            "the connection is closed"
        )


class TooManyRows(LadleError):
    """A request holds more entity rows (or rows to write) than ``max_entities_per_request``."""

    def __init__(self, what: str, rows: int, limit: int) -> None:
        super().__init__(
            f"the request has {rows} {what}; the server accepts at most {limit} per request (send them in "
            "batches, or raise feature_server.max_entities_per_request in feature_store.yaml)"
        )


class FeatureServerError(LadleError):
    """An error answered by the feature server that maps to no ladle error class (``status``, ``type``)."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        self.status, self.type = status, kind
        super().__init__(f"feature server answered {status} {kind}: {message}")


class LadleWarning(UserWarning):
    """A problem that does not stop the call, e.g. a source not readable yet at apply."""


# --- subclasses named after Feast's errors (see ladle/feast_errors.py) -----------------------------------


class _KindNotFound(NotFound):
    _reported_as = "NotFound"


class EntityNotFound(_KindNotFound):
    """No entity of that name is registered."""


class FeatureViewNotFound(_KindNotFound):
    """No feature view of that name is registered."""


class OnDemandFeatureViewNotFound(_KindNotFound):
    """No on-demand feature view of that name is registered."""


class FeatureServiceNotFound(_KindNotFound):
    """No feature service of that name is registered."""


class DataSourceNotFound(_KindNotFound):
    """No data source of that name is registered."""


class PushSourceNotFound(DataSourceNotFound):
    """No push source of that name is registered."""


class ProjectNotFound(_KindNotFound):
    """No project of that name is registered."""


_NOT_FOUND_BY_KIND: dict[str, type[NotFound]] = {
    "entity": EntityNotFound,
    "feature view": FeatureViewNotFound,
    "on-demand feature view": OnDemandFeatureViewNotFound,
    "feature service": FeatureServiceNotFound,
    "data source": DataSourceNotFound,
    "push source": PushSourceNotFound,
    "project": ProjectNotFound,
}


class FeatureNameCollision(InvalidRequest):
    """Two requested features would be returned under the same name."""

    _reported_as = "InvalidRequest"


class EntityColumnsMissing(InvalidRequest):
    """``entity_df`` lacks a join key of a requested view."""

    _reported_as = "InvalidRequest"


class RequestDataNotFound(InvalidRequest):
    """An on-demand view needs request data the call did not pass."""

    _reported_as = "InvalidRequest"


class RequestDataNotFoundInEntityDf(RequestDataNotFound):
    """``get_historical_features``: ``entity_df`` lacks a request-data column."""


class RequestDataNotFoundInEntityRows(RequestDataNotFound):
    """``get_online_features``: neither ``entity_rows`` nor ``request_context`` hold the request data."""


class SpecifiedFeaturesNotPresent(InvalidDefinition):
    """A feature declared in a view's schema is not a column of its source."""

    _reported_as = "InvalidDefinition"


class ConflictingViewNames(InvalidDefinition):
    """A feature view and an on-demand feature view share a name."""

    _reported_as = "InvalidDefinition"


class UnsupportedSource(InvalidDefinition):
    """A source whose data no ladle offline store can read (``BigQuerySource``, ``SnowflakeSource``, ...).

    Its definition is registered and listed like any other; reading its rows (training sets,
    materialization, offline push, inference at apply) fails with this error.
    """

    _reported_as = "InvalidDefinition"

    def __init__(self, source_class: str, name: str, feast_store: str, readable: str) -> None:
        self.source_class, self.feast_store = source_class, feast_store
        super().__init__(
            source_class,
            name,
            f"needs offline_store type {feast_store}, which ladle does not provide; "
            f"ladle's offline stores read {readable}",
            "copy the data to one of those sources, or keep this view for definitions only",
        )
