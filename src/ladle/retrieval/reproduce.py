"""``ladle reproduce``: rebuild a saved dataset and report the rows that differ and what changed since it was saved.

The rebuild reads the *definitions* of the registry version the dataset recorded (rebuilt from the registry
history's snapshots, :func:`ladle.registry.history.specs_at`) and the *data* as it is now, from the stored
entity rows and the recorded features (or feature service, as it was then). It is compared with the stored
rows row by row (:func:`compare`). Apart from the rows, the report names what changed between then and now:
the registry version, each view whose contract (schema hash) changed, other definition changes of the objects
the dataset used (a ttl, a source path, a service's features), and each source whose published version or
fingerprint changed. When the recorded version is past the history's retention (``registry.history_limit``),
the rebuild falls back to the current definitions with a :class:`~ladle.errors.LadleWarning`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ladle.definitions import FeatureService, FeatureView, OnDemandFeatureView
from ladle.definitions.contract import schema_hash
from ladle.errors import InvalidRequest, LadleWarning, NotFound
from ladle.offline.base import OfflineStore
from ladle.offline.filesystem import ObjectStoreOptions
from ladle.registry.diff import diff_specs
from ladle.registry.history import specs_at
from ladle.registry.state import KINDS, RegistryState, Specs, StoredObject
from ladle.registry.view_versions import split_versioned, versioned_view
from ladle.retrieval.feature_refs import resolve_features
from ladle.retrieval.historical import historical_job
from ladle.retrieval.saved_datasets import SavedDataset, recorded_view, source_fingerprint, used_views
from ladle.versions.sources import source_version

__all__ = ["Definitions", "ReproduceReport", "RowDiff", "StateCatalog", "compare", "definitions_for", "reproduce"]

#: differing rows shown in a report
SAMPLE_ROWS = 5


# --- comparing the rows ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RowDiff:
    """How a rebuild differs from the stored rows."""

    #: rows that differ in any column (every row when the row counts differ)
    rows: int
    #: column -> rows that differ in it (a column only one side has: every row)
    columns: dict[str, int]
    #: the first differing rows: ``{"row", "keys": {column: value}, "values": {column: {"saved", "rebuilt"}}}``
    samples: list[dict[str, Any]]


def _equal_rows(a: pa.ChunkedArray, b: pa.ChunkedArray) -> pa.Array:
    """Per row, whether two columns hold the same value (null equals null, NaN equals NaN)."""
    if a.type != b.type:
        try:
            b = b.cast(a.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a column whose type changed: no row matches
            return pa.array([False] * len(a))
    same = pc.fill_null(pc.equal(a, b), False)
    same = pc.or_(same, pc.and_(pc.is_null(a), pc.is_null(b)))
    if pa.types.is_floating(a.type):
        same = pc.or_(same, pc.fill_null(pc.and_(pc.is_nan(a), pc.is_nan(b)), False))
    return same


def compare(stored: pa.Table, rebuilt: pa.Table, keys: list[str]) -> RowDiff:
    """Compare two tables row by row; ``keys`` (columns of ``stored``) identify a row in the samples."""
    n = stored.num_rows
    if n != rebuilt.num_rows:
        return RowDiff(max(n, rebuilt.num_rows), {}, [])
    every = pa.array([True] * n, pa.bool_())
    columns: dict[str, int] = {}
    masks: dict[str, pa.Array] = {}
    for name in [*stored.column_names, *(c for c in rebuilt.column_names if c not in stored.column_names)]:
        if name not in stored.column_names or name not in rebuilt.column_names:
            same = pa.array([False] * n, pa.bool_())
        else:
            same = _equal_rows(stored.column(name), rebuilt.column(name))
        misses = n - (pc.sum(same).as_py() or 0) if n else 0
        if misses:
            columns[name], masks[name] = misses, same
            every = pc.and_(every, same)
    differing = n - (pc.sum(every).as_py() or 0) if n else 0
    first = pc.indices_nonzero(pc.invert(every)).to_pylist()[:SAMPLE_ROWS] if differing else []
    samples = [_sample(stored, rebuilt, row, keys, masks) for row in first]
    return RowDiff(differing, columns, samples)


def _value(table: pa.Table, column: str, row: int) -> Any:
    return table.column(column)[row].as_py() if column in table.column_names else None


def _sample(
    stored: pa.Table, rebuilt: pa.Table, row: int, keys: list[str], masks: dict[str, pa.Array]
) -> dict[str, Any]:
    return {
        "row": row,
        "keys": {k: _value(stored, k, row) for k in keys if k in stored.column_names},
        "values": {
            c: {"saved": _value(stored, c, row), "rebuilt": _value(rebuilt, c, row)}
            for c, mask in masks.items()
            if not mask[row].as_py()
        },
    }


# --- the definitions a rebuild reads --------------------------------------------------------------------
@dataclass(frozen=True)
class Definitions:
    """The definitions a rebuild reads: those of registry ``version``, in a state of their own."""

    state: RegistryState
    version: int
    #: every object's ``to_dict()`` at ``version``
    specs: Specs
    #: why these are not the definitions the dataset recorded (the fallback to the current ones), else ``None``
    warning: str | None = None


def definitions_for(state: RegistryState, recorded: int | None, dataset: str) -> Definitions:
    """The definitions of registry version ``recorded`` rebuilt from ``state``'s history; the current ones, with
    a warning, when that version cannot be rebuilt (past retention, or written before snapshots were kept)."""
    if recorded is None or recorded == state.version:
        return Definitions(state, state.version, state.specs())
    try:
        specs = specs_at(state, recorded)
    except InvalidRequest as exc:
        warning = (
            f"saved dataset '{dataset}' was built against registry version {recorded}, which cannot be rebuilt: "
            f"{exc}; rebuilding it with the current definitions (registry version {state.version}) instead"
        )
        return Definitions(state, state.version, state.specs(), warning)
    now = state.last_updated or ""
    objects = {kind: {name: StoredObject.new(spec, now) for name, spec in specs[kind].items()} for kind in KINDS}
    snapshot = RegistryState(
        project=state.project,
        version=recorded,
        objects=objects,
        snapshots=state.snapshots,
        view_versions=state.view_versions,
    )
    return Definitions(snapshot, recorded, specs)


class StateCatalog:
    """A registry state as the catalog feature resolution reads (``"view@vN"`` included)."""

    def __init__(self, state: RegistryState) -> None:
        self.project = state.project
        self._state = state

    def get_feature_view(self, name: str) -> FeatureView:
        """One feature view of the state (:class:`~ladle.errors.NotFound` when absent)."""
        base, number = split_versioned(name)
        views = self._state.feature_views()
        if base not in views:
            raise NotFound("feature view", base, self.project, list(views))
        return views[base] if number is None else versioned_view(self._state, base, number)

    def get_on_demand_feature_view(self, name: str) -> OnDemandFeatureView:
        """One on-demand feature view of the state."""
        views = self._state.on_demand_feature_views()
        if name not in views:
            raise NotFound("on-demand feature view", name, self.project, list(views))
        return views[name]

    def get_feature_service(self, name: str) -> FeatureService:
        """One feature service of the state."""
        services = self._state.feature_services()
        if name not in services:
            raise NotFound("feature service", name, self.project, list(services))
        return services[name]


# --- the report -----------------------------------------------------------------------------------------
@dataclass
class ReproduceReport:
    """A saved dataset's rebuild: (a) the rows that differ from the stored ones and (b) what changed since."""

    name: str
    rows: int
    rebuilt_rows: int
    differing_rows: int
    #: column -> rows that differ in it
    differing_columns: dict[str, int]
    #: the first differing rows (see :class:`RowDiff`)
    differing_samples: list[dict[str, Any]]
    #: the registry version the dataset was saved at, the one now, and the one whose definitions were read
    saved_registry_version: int | None
    registry_version: int
    definitions_version: int
    #: ``{"view", "saved_schema_hash", "schema_hash"}`` per view whose contract changed (``None``: view removed)
    contract_changes: list[dict[str, Any]]
    #: ``{"kind", "name", "fields"}`` per object the dataset used whose definition changed without a contract change
    definition_changes: list[dict[str, Any]]
    #: ``{"view", "source", "saved_version", "version", "data_changed"}`` per source whose version or data changed
    source_changes: list[dict[str, Any]]
    #: what changed, one line each (registry, contracts, definitions, sources)
    changes: list[str]
    #: why the rebuild did not read the recorded definitions (past retention), if it did not
    warnings: list[str]

    @property
    def identical(self) -> bool:
        """Whether the rebuild equals the stored rows."""
        return self.differing_rows == 0 and self.rows == self.rebuilt_rows

    def lines(self) -> list[str]:
        """The report as a user reads it: the rows, then which definitions were read, then what changed."""
        if self.identical:
            out = [f"Saved dataset '{self.name}' reproduced: {self.rows} rows, 0 differ."]
        else:
            cols = ", ".join(f"{c} ({n})" for c, n in self.differing_columns.items())
            out = [
                f"Saved dataset '{self.name}' differs from its rebuild: {self.differing_rows} of {self.rows} rows "
                f"differ (rebuilt {self.rebuilt_rows})" + (f"; columns: {cols}" if cols else "")
            ]
            out.extend(f"  {_sample_line(s)}" for s in self.differing_samples)
        if self.warnings:
            out.append(
                f"  rebuilt with the current definitions (registry version {self.definitions_version}): those of "
                f"version {self.saved_registry_version} cannot be rebuilt (see the warning)"
            )
        else:
            out.append(
                f"  rebuilt with the definitions of registry version {self.definitions_version} (the version it was "
                "saved at) and the data as it is now"
            )
        if not self.changes:
            return [*out, "Nothing changed since it was saved."]
        return [*out, "Changed since it was saved:", *(f"  {c}" for c in self.changes)]

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``ladle reproduce --json``)."""
        return {**self.__dict__, "identical": self.identical}


def _sample_line(sample: dict[str, Any]) -> str:
    keys = ", ".join(f"{k}={v}" for k, v in sample["keys"].items())
    values = "; ".join(f"{c} saved {v['saved']}, rebuilt {v['rebuilt']}" for c, v in sample["values"].items())
    return f"row {sample['row']}: {keys}: {values}"


# --- what changed ---------------------------------------------------------------------------------------
def _contract_changes(recorded: dict[str, Any], now: RegistryState) -> list[dict[str, Any]]:
    out = []
    for name, was in recorded.items():
        view = recorded_view(now, name)
        digest = schema_hash(view) if view is not None else None
        if digest != was["schema_hash"]:
            out.append({"view": name, "saved_schema_hash": was["schema_hash"], "schema_hash": digest})
    return out


def _used(dataset: SavedDataset, then: Specs) -> dict[str, set[str]]:
    """Kind key -> names of the objects the dataset read (views, on-demand views, its service) in ``then``."""
    refs = {split_versioned(ref.split(":", 1)[0])[0] for ref in dataset.features}
    views = {split_versioned(n)[0] for n in used_views(dataset.features, dataset.feature_service_name, then)}
    used = {"feature_views": views | refs, "on_demand_feature_views": refs, "feature_services": set()}
    if dataset.feature_service_name:
        used["feature_services"] = {dataset.feature_service_name}
    return used


def _definition_changes(
    dataset: SavedDataset, then: Specs, now: Specs, contract_changed: set[str]
) -> list[dict[str, Any]]:
    out = []
    for kind, names in _used(dataset, then).items():
        for name in sorted(names):
            old, new = then[kind].get(name), now[kind].get(name)
            if old is None or new is None or old == new or (kind == "feature_views" and name in contract_changed):
                continue
            fields = [c.path for c in diff_specs(old, new)]
            out.append({"kind": kind.removesuffix("s"), "name": name, "fields": fields})
    return out


def _source_changes(
    recorded: dict[str, Any],
    state: RegistryState,
    offline: OfflineStore,
    repo_path: Path,
    options: ObjectStoreOptions,
) -> list[dict[str, Any]]:
    """The sources (as the rebuild reads them) whose published version or data changed since the dataset."""
    out = []
    for name, was in recorded.items():
        view = recorded_view(state, name)
        if view is None:
            continue
        saved_version = was.get("version")
        if saved_version is not None:
            version = source_version(view, repo_path, options)
            changed = version != saved_version
        else:
            version = None
            changed = source_fingerprint(offline, view.batch_source, repo_path) != was.get("fingerprint")
        if changed:
            out.append(
                {
                    "view": name,
                    "source": was["source"],
                    "saved_version": saved_version,
                    "version": version,
                    "data_changed": True,
                }
            )
    return out


def _change_lines(
    saved: int | None,
    now: int,
    contracts: list[dict[str, Any]],
    definitions: list[dict[str, Any]],
    sources: list[dict[str, Any]],
) -> list[str]:
    out = [] if saved == now else [f"registry: saved at version {saved}, now at version {now}"]
    for c in contracts:
        if c["schema_hash"] is None:
            out.append(f"feature view '{c['view']}': no longer registered")
        else:
            out.append(
                f"feature view '{c['view']}': contract changed (schema hash {c['saved_schema_hash'][:12]} -> "
                f"{c['schema_hash'][:12]})"
            )
    for d in definitions:
        shown = ", ".join(d["fields"][:4]) + (", ..." if len(d["fields"]) > 4 else "")
        label = d["kind"].replace("_", " ")
        what = "definition changed without a contract change" if d["kind"] == "feature_view" else "definition changed"
        out.append(f"{label} '{d['name']}': {what} ({shown})")
    for s in sources:
        where = f"source '{s['source']}' of feature view '{s['view']}'"
        if s["saved_version"] is not None:
            out.append(f"{where}: published version {s['saved_version']} when saved, {s['version'] or 'none'} now")
        else:
            out.append(f"{where}: its data changed since the dataset was saved")
    return out


# --- the rebuild ----------------------------------------------------------------------------------------
def _rebuild(dataset: SavedDataset, definitions: Definitions, offline: OfflineStore) -> pa.Table:
    catalog = StateCatalog(definitions.state)
    wanted: Any = dataset.features
    if dataset.feature_service_name:
        wanted = catalog.get_feature_service(dataset.feature_service_name)
    resolved = resolve_features(catalog, wanted, dataset.full_feature_names)
    resolved.check_enabled()
    job = historical_job(offline, resolved, dataset.entity_df(), False, resolved.key_arrow_types())
    return job.to_arrow()


def reproduce(
    dataset: SavedDataset,
    state: RegistryState,
    offline: OfflineStore,
    repo_path: Path,
    options: ObjectStoreOptions,
) -> ReproduceReport:
    """Rebuild ``dataset`` with the definitions of the registry version it recorded (the data as it is now) and
    compare it with the stored rows; ``state`` is the registry now."""
    meta = dataset.metadata
    recorded_version = meta.get("registry_version")
    definitions = definitions_for(state, recorded_version, dataset.name)
    if definitions.warning is not None:
        warnings.warn(definitions.warning, LadleWarning, stacklevel=2)
    stored = dataset.to_arrow()
    rebuilt = _rebuild(dataset, definitions, offline)
    keys = [*dataset.join_keys, *([meta["timestamp_column"]] if meta.get("timestamp_column") else [])]
    rows = compare(stored, rebuilt, keys)
    recorded_views = dict(meta.get("views", {}))
    contracts = _contract_changes(recorded_views, state)
    fallback = definitions.warning is not None
    changed = {c["view"] for c in contracts}
    definition_changes = [] if fallback else _definition_changes(dataset, definitions.specs, state.specs(), changed)
    sources = _source_changes(recorded_views, definitions.state, offline, repo_path, options)
    return ReproduceReport(
        name=dataset.name,
        rows=stored.num_rows,
        rebuilt_rows=rebuilt.num_rows,
        differing_rows=rows.rows,
        differing_columns=rows.columns,
        differing_samples=rows.samples,
        saved_registry_version=recorded_version,
        registry_version=state.version,
        definitions_version=definitions.version,
        contract_changes=contracts,
        definition_changes=definition_changes,
        source_changes=sources,
        changes=_change_lines(recorded_version, state.version, contracts, definition_changes, sources),
        warnings=[definitions.warning] if definitions.warning else [],
    )
