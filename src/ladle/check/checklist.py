"""The checklist of ``ladle check``, in the order it runs (docs/operating.md):

1. ``registry``: the registry loads, and ``plan`` against the repo is empty (nothing pending to apply);
2. ``source``: each feature view's source is readable and holds its contract's columns, in types that
   convert to the declared ones;
3. ``freshness``: each online view has been materialized, and no longer ago than its ttl;
4. ``online read`` and ``skew`` (:mod:`ladle.check.skew`): sampled keys read online are not null and equal
   the historical values at the last materialization time (windowed views: at now).

An item that cannot run because an earlier one failed for the same view is not reported (a view whose
source is unreadable is not sampled).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ladle.check.report import CheckReport
from ladle.check.skew import check_online
from ladle.config import RepoConfig
from ladle.definitions import FeatureView
from ladle.errors import LadleError
from ladle.offline.base import OfflineStore
from ladle.online.base import OnlineStore
from ladle.registry import Registry, RegistryDiff
from ladle.repo.inference import source_holds
from ladle.types import FeastType
from ladle.windows.spec import is_windowed, window_specs

__all__ = ["CheckedStore", "run_checks"]


class CheckedStore(Protocol):
    """What the checklist uses of a :class:`~ladle.store.FeatureStore`."""

    config: RepoConfig
    registry: Registry

    @property
    def project(self) -> str: ...

    @property
    def offline_store(self) -> OfflineStore: ...

    @property
    def online_store(self) -> OnlineStore: ...

    def plan_repo(self, skip_source_validation: bool = False) -> RegistryDiff: ...

    def get_historical_features(self, entity_df: Any, features: list[str]) -> Any: ...

    def get_online_features(self, features: list[str], entity_rows: dict[str, list[Any]]) -> Any: ...


def run_checks(store: CheckedStore, sample: int = 10, now: datetime | None = None) -> CheckReport:
    """Run every item; ``sample`` keys per online view are read for the null and skew checks."""
    report = CheckReport()
    now = now or datetime.now(UTC)
    views = _check_registry(store, report)
    readable = [v for v in views if _check_source(store, v, report)]
    if store.config.online_store is None:
        report.add("freshness", "online store", True, "no online store configured (offline-only repo)")
        return report
    for view in readable:
        if not view.online:
            continue
        until = _check_fresh(store, view, now, report)
        if until is not None and sample > 0:
            check_online(store, view, until, sample, now, report)
    return report


def _check_registry(store: CheckedStore, report: CheckReport) -> list[FeatureView]:
    try:
        views = store.registry.list_feature_views()
    except LadleError as exc:
        report.add(
            "registry",
            "registry",
            False,
            f"the registry does not load: {exc}",
            "check `registry:` in feature_store.yaml",
        )
        return []
    try:
        diff = store.plan_repo(skip_source_validation=True)
    except LadleError as exc:
        report.add(
            "registry", "repo", False, f"the repo's definitions do not load: {exc}", "fix the repo, then `ladle apply`"
        )
        return views
    if diff.is_empty:
        report.add(
            "registry",
            "registry",
            True,
            f"version {store.registry.version}, matches the repo ({len(views)} feature views)",
        )
    else:
        pending = "; ".join(diff.describe()[:5]) + ("; ..." if len(diff.describe()) > 5 else "")
        report.add("registry", "registry", False, f"the repo differs from the registry: {pending}", "run `ladle apply`")
    return views


def _contract_columns(view: FeatureView) -> list[tuple[str, FeastType | None]]:
    """The source columns the view needs, with the type each must hold (None: any, e.g. a timestamp)."""
    src = view.batch_source
    wanted: list[tuple[str, FeastType | None]] = [(src.source_column(f.name), f.dtype) for f in view.entity_columns]
    if is_windowed(view):
        wanted += [(src.source_column(c), None) for c in dict.fromkeys(s.column for s in window_specs(view))]
    else:
        wanted += [(src.source_column(f.name), f.dtype) for f in view.features]
    wanted.append((src.timestamp_field, None))
    return wanted


def _check_source(store: CheckedStore, view: FeatureView, report: CheckReport) -> bool:
    src = view.batch_source
    try:
        schema = store.offline_store.source_schema(src)
    except LadleError as exc:
        report.add(
            "source",
            view.name,
            False,
            f"source '{src.name}' cannot be read: {exc}",
            "write the source's data or fix its path, e.g. `ladle publish`",
        )
        return False
    have = {f.name: f.type for f in schema}
    missing = [c for c, _ in _contract_columns(view) if c not in have]
    wrong = [
        f"'{c}' is {have[c]}, declared {t}"
        for c, t in _contract_columns(view)
        if c in have and t is not None and not source_holds(t, have[c])
    ]
    if missing or wrong:
        problems = ([f"missing column(s) {missing}"] if missing else []) + wrong
        report.add(
            "source",
            view.name,
            False,
            f"source '{src.name}' does not match the view's contract: {'; '.join(problems)}",
            "publish data with these columns and types, or change the view's schema and `ladle apply`",
        )
        return False
    report.add(
        "source", view.name, True, f"source '{src.name}' readable, {len(have)} columns, contract columns present"
    )
    return True


def _duration(span: timedelta) -> str:
    """``2d``, ``1h30m``, ``6s``: whole seconds, largest units first."""
    seconds, parts = int(span.total_seconds()), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _check_fresh(store: CheckedStore, view: FeatureView, now: datetime, report: CheckReport) -> datetime | None:
    until = store.registry.materialized_until(view.name)
    if until is None:
        report.add(
            "freshness",
            view.name,
            False,
            "never materialized",
            "run `ladle materialize-incremental now` (or `ladle materialize START END`)",
        )
        return None
    lag = max(now - until, timedelta(0))
    ttl = view.ttl or timedelta(0)
    if ttl and lag > ttl:
        report.add(
            "freshness",
            view.name,
            False,
            f"materialized up to {until.isoformat(timespec='seconds')}, {_duration(lag)} ago: staler than its "
            f"ttl ({_duration(ttl)})",
            "run `ladle materialize-incremental now`, and schedule it more often than the ttl",
        )
    else:
        report.add(
            "freshness",
            view.name,
            True,
            f"materialized up to {until.isoformat(timespec='seconds')} (lag {_duration(lag)}, "
            f"ttl {_duration(ttl) if ttl else 'none'})",
        )
    return until
