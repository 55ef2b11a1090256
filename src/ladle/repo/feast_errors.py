"""Feast's error names for ladle's errors: what ``feast.errors`` holds when ladle stands in for Feast.

Each name is one of ladle's own classes (an alias), so ``except FeatureViewNotFoundException:`` in code
written for Feast catches the error ladle raises, and ``except LadleError`` still catches everything.

>>> from ladle.repo.feast_errors import FeatureViewNotFoundException
>>> from ladle.errors import NotFound
>>> isinstance(NotFound("feature view", "nope", "demo"), FeatureViewNotFoundException)
True
"""

from __future__ import annotations

from ladle.errors import (
    ConflictingViewNames,
    DataSourceNotFound,
    EntityColumnsMissing,
    EntityNotFound,
    FeatureNameCollision,
    FeatureServiceNotFound,
    FeatureViewNotFound,
    InvalidConfig,
    InvalidRequest,
    LadleError,
    MissingExtra,
    NotFound,
    OnDemandFeatureViewNotFound,
    ProjectNotFound,
    PushSourceNotFound,
    RequestDataNotFoundInEntityDf,
    RequestDataNotFoundInEntityRows,
    SpecifiedFeaturesNotPresent,
    UnsupportedSource,
)

__all__ = [
    "ConflictingFeatureViewNames",
    "DataSourceObjectNotFoundException",
    "EntityNotFoundException",
    "FeastConfigError",
    "FeastEntityDFMissingColumnsError",
    "FeastError",
    "FeastExtrasDependencyImportError",
    "FeastObjectNotFoundException",
    "FeastOfflineStoreUnsupportedDataSource",
    "FeatureNameCollisionError",
    "FeatureServiceNotFoundException",
    "FeatureViewNotFoundException",
    "InvalidFeaturesParameterType",
    "OnDemandFeatureViewNotFoundException",
    "ProjectNotFoundException",
    "ProjectObjectNotFoundException",
    "PushSourceNotFoundException",
    "RequestDataNotFoundInEntityDfException",
    "RequestDataNotFoundInEntityRowsException",
    "SpecifiedFeaturesNotPresentError",
]

FeastError = LadleError
FeastObjectNotFoundException = NotFound
EntityNotFoundException = EntityNotFound
FeatureViewNotFoundException = FeatureViewNotFound
OnDemandFeatureViewNotFoundException = OnDemandFeatureViewNotFound
FeatureServiceNotFoundException = FeatureServiceNotFound
DataSourceObjectNotFoundException = DataSourceNotFound
PushSourceNotFoundException = PushSourceNotFound
ProjectNotFoundException = ProjectNotFound
ProjectObjectNotFoundException = ProjectNotFound
ConflictingFeatureViewNames = ConflictingViewNames
FeastConfigError = InvalidConfig
FeastExtrasDependencyImportError = MissingExtra
FeastOfflineStoreUnsupportedDataSource = UnsupportedSource
FeastEntityDFMissingColumnsError = EntityColumnsMissing
FeatureNameCollisionError = FeatureNameCollision
InvalidFeaturesParameterType = InvalidRequest
RequestDataNotFoundInEntityDfException = RequestDataNotFoundInEntityDf
RequestDataNotFoundInEntityRowsException = RequestDataNotFoundInEntityRows
SpecifiedFeaturesNotPresentError = SpecifiedFeaturesNotPresent
