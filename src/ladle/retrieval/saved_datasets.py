"""Saved datasets: a training set stored with what it takes to rebuild it, and the rebuild's comparison.

``store.create_saved_dataset(from_=job, name=, storage=)`` (Feast's call) writes the job's rows to
``storage`` (one parquet file, or Spark's folder), the entity rows beside them
(``<path>.entity_df.parquet``), and registers a record in the registry (kept across applies, like Feast's
saved datasets) holding the reproducibility metadata: the registry version, each view's schema hash and its
source's version (the job's ``metadata["source_versions"]``, when it read published versions) or fingerprint, the
entity rows' fingerprint, the result's fingerprint and row count, the ladle and dependency versions, and the
time. ``ladle reproduce NAME`` (:mod:`ladle.retrieval.reproduce`) rebuilds the training set and reports what
differs. Feast's ``feast.saved_dataset`` names (``SavedDataset``, ``SavedDatasetStorage``) resolve here.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from abc import ABC
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ladle.definitions import DataSource, FeatureView, FileSource, SavedDatasetFileStorage, SavedDatasetSparkStorage
from ladle.definitions.contract import schema_hash
from ladle.errors import InvalidRequest
from ladle.offline.base import OfflineStore
from ladle.offline.filesystem import ObjectStoreOptions, ParquetPath
from ladle.registry.state import RegistryState, Specs
from ladle.registry.view_versions import split_versioned, versioned_view
from ladle.retrieval.job import RetrievalJob, arrow_to_pandas

__all__ = [
    "SavedDataset",
    "SavedDatasetStorage",
    "dataset_record",
    "entity_rows_path",
    "recorded_view",
    "source_fingerprint",
    "table_fingerprint",
    "used_views",
]

_DEPENDENCIES = ("ladle", "pyarrow", "pandas", "numpy", "duckdb", "psycopg", "pyspark", "polars")


class SavedDatasetStorage(ABC):  # noqa: B024  (a type to check against: ladle's storages are registered below)
    """Where a saved dataset's rows are stored (Feast's base class of the same name).

    :class:`~ladle.definitions.SavedDatasetFileStorage` and :class:`~ladle.definitions.SavedDatasetSparkStorage`
    are its (virtual) subclasses, so ``isinstance(storage, SavedDatasetStorage)`` and type hints written for
    Feast hold.

    >>> isinstance(SavedDatasetFileStorage(path="train.parquet"), SavedDatasetStorage)
    True
    """


SavedDatasetStorage.register(SavedDatasetFileStorage)
SavedDatasetStorage.register(SavedDatasetSparkStorage)


def table_fingerprint(table: pa.Table) -> str:
    """SHA-256 of a table's rows (column names, types and values, in order), independent of its chunking."""
    sink = pa.BufferOutputStream()
    plain = table.replace_schema_metadata(None).combine_chunks()
    with pa.ipc.new_stream(sink, plain.schema) as writer:
        writer.write_table(plain)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def source_fingerprint(offline: OfflineStore, source: DataSource, repo_path: Path) -> str:
    """What a view's source holds now: for a FileSource, SHA-256 of its files' names and bytes; for any
    other source, its row count and newest event time as the offline store reads them."""
    if isinstance(source, FileSource) and source.path:
        options = getattr(offline, "object_store", ObjectStoreOptions())
        path = ParquetPath(source.path, f"FileSource '{source.name}'", repo_path, options, source.s3_endpoint_override)
        digest = hashlib.sha256()
        for name in sorted(path.files()):
            digest.update(name.encode())
            with path.filesystem.open_input_stream(name) as stream:
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
        return "files:" + digest.hexdigest()
    rows = offline.pull_all(source, [source.timestamp_field], None, None)
    newest = pc.max(rows.column(0)).as_py() if rows.num_rows else None
    return f"rows:{rows.num_rows};newest:{newest}"


def entity_rows_path(storage_path: str) -> str:
    """Where the entity rows of a saved dataset stored at ``storage_path`` go."""
    return storage_path.rstrip("/").removesuffix(".parquet") + ".entity_df.parquet"


def _versions() -> dict[str, str]:
    out = {}
    for name in _DEPENDENCIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def _storage_path(storage: Any) -> tuple[str, str]:
    """``(path, s3 endpoint)`` of a SavedDatasetFileStorage / FileSource / SavedDatasetSparkStorage target."""
    target = getattr(storage, "file_options", None) or getattr(storage, "spark_source", None) or storage
    path = getattr(target, "path", None)
    if not isinstance(path, str) or not path:
        raise InvalidRequest(
            f"saved datasets are stored at a path: pass SavedDatasetFileStorage(path=...), got {type(storage).__name__}"
        )
    return path, getattr(target, "s3_endpoint_override", "") or ""


def _recorded(path: str, repo_path: Path) -> str:
    """A storage path as the record keeps it: a local path relative to the repo when it lies inside it (so the
    record holds wherever the repo is checked out), else absolute; a URI as given. ``persist`` resolves a
    relative path against the current directory, and so does this."""
    if "://" in path:
        return path
    absolute = (Path.cwd() / path).resolve()
    try:
        return absolute.relative_to(repo_path.resolve()).as_posix()
    except ValueError:
        return str(absolute)


def _parquet(path: str, endpoint: str, offline: OfflineStore, what: str) -> ParquetPath:
    options = getattr(offline, "object_store", ObjectStoreOptions())
    return ParquetPath(path, what, Path.cwd(), options, endpoint, store="saved datasets")


@dataclass(frozen=True)
class ViewProvenance:
    """What a view was when a saved dataset was built from it."""

    schema_hash: str
    source: str
    #: the published version the job read (``source_versions``), else ``None``
    version: str | None
    fingerprint: str | None


def used_views(features: list[str], feature_service: str | None, specs: Specs) -> list[str]:
    """The feature views (``"view"`` or ``"view@vN"``) a dataset's features read: the views its references name
    and, through a feature service (``specs``: the registry's definitions), the views its projections read."""
    names = {ref.split(":", 1)[0] for ref in features}
    service = specs["feature_services"].get(feature_service) if feature_service else None
    if service is not None:
        names = {p["name"] for p in service["features"]}
    return sorted(n for n in names if split_versioned(n)[0] in specs["feature_views"])


def recorded_view(state: RegistryState, name: str) -> FeatureView | None:
    """Feature view ``name`` (``"view@vN"``: that version) of ``state``; ``None`` when it has no such view."""
    base, number = split_versioned(name)
    view = state.feature_views().get(base)
    if view is None or number is None:
        return view
    try:
        return versioned_view(state, base, number)
    except InvalidRequest:
        return None


def dataset_record(
    job: RetrievalJob,
    name: str,
    storage: Any,
    tags: dict[str, str] | None,
    state: RegistryState,
    offline: OfflineStore,
    repo_path: Path,
    feature_service: str | None = None,
) -> tuple[dict[str, Any], pa.Table]:
    """The registry record of a saved dataset of ``job`` (written nowhere yet) and its entity rows; ``state`` is
    the registry the job was built against."""
    given, endpoint = _storage_path(storage)
    path = _recorded(given, repo_path)
    table = job.to_arrow()
    entity = table.drop_columns([c for c in job.feature_columns if c in table.column_names])
    versions = dict(job.metadata.get("source_versions") or {})
    features = list(job.metadata.get("features", []))
    provenance = {}
    for view_name in used_views(features, feature_service, state.specs()):
        view = recorded_view(state, view_name)
        if view is None:
            continue
        version = versions.get(view.name)
        fingerprint = None if version is not None else source_fingerprint(offline, view.batch_source, repo_path)
        provenance[view_name] = ViewProvenance(schema_hash(view), view.batch_source.name, version, fingerprint)
    record = {
        "name": name,
        "features": features,
        "feature_service": feature_service,
        "join_keys": [c for c in entity.column_names if c != job.metadata.get("timestamp_column")],
        "full_feature_names": job.full_feature_names,
        "storage": {"path": path, "s3_endpoint_override": endpoint or None},
        "entity_rows": entity_rows_path(path),
        "tags": dict(tags or {}),
        "created_timestamp": datetime.now(UTC).isoformat(),
        "reproducibility": {
            "registry_version": state.version,
            "views": {n: p.__dict__ for n, p in provenance.items()},
            "entity_df_fingerprint": table_fingerprint(entity),
            "result_fingerprint": table_fingerprint(table),
            "rows": table.num_rows,
            "timestamp_column": job.metadata.get("timestamp_column"),
            "versions": _versions(),
        },
    }
    return record, entity


def write_dataset(job: RetrievalJob, storage: Any, entity: pa.Table, offline: OfflineStore, overwrite: bool) -> None:
    """Write the rows (through ``job.persist``) and the entity rows beside them."""
    path, endpoint = _storage_path(storage)
    _parquet(entity_rows_path(path), endpoint, offline, f"the entity rows of saved dataset at '{path}'").write(
        entity, overwrite
    )
    job.persist(storage, allow_overwrite=overwrite)


@dataclass
class SavedDataset:
    """A registered saved dataset (Feast's ``SavedDataset``): the stored rows and how they were made."""

    name: str
    features: list[str]
    join_keys: list[str]
    full_feature_names: bool
    storage: dict[str, Any]
    tags: dict[str, str]
    created_timestamp: str
    feature_service_name: str | None
    #: registry version, views' schema hashes and sources, fingerprints, versions (see the module docs)
    metadata: dict[str, Any]
    entity_rows: str
    _offline: OfflineStore | None = field(default=None, repr=False)
    #: what a relative storage path is relative to (the repo; the current directory when ``None``)
    _repo_path: Path | None = field(default=None, repr=False)

    @classmethod
    def from_record(
        cls, record: dict[str, Any], offline: OfflineStore | None = None, repo_path: Path | None = None
    ) -> SavedDataset:
        """The object for a registry record (relative storage paths are relative to ``repo_path``)."""
        return cls(
            record["name"],
            list(record["features"]),
            list(record["join_keys"]),
            bool(record["full_feature_names"]),
            dict(record["storage"]),
            dict(record.get("tags") or {}),
            record["created_timestamp"],
            record.get("feature_service"),
            dict(record["reproducibility"]),
            record["entity_rows"],
            offline,
            repo_path,
        )

    def _read(self, path: str) -> pa.Table:
        options = getattr(self._offline, "object_store", ObjectStoreOptions())
        endpoint = self.storage.get("s3_endpoint_override") or ""
        base = self._repo_path or Path.cwd()
        return ParquetPath(path, f"saved dataset '{self.name}'", base, options, endpoint).read_table()

    def to_arrow(self) -> pa.Table:
        """The stored rows."""
        return self._read(self.storage["path"])

    def to_df(self) -> pd.DataFrame:
        """The stored rows as pandas (declared dtypes kept)."""
        return arrow_to_pandas(self.to_arrow())

    def entity_df(self) -> pa.Table:
        """The entity rows the dataset was built from."""
        return self._read(self.entity_rows)

    def to_dict(self) -> dict[str, Any]:
        """What ``ladle saved-datasets describe`` prints."""
        return {
            "name": self.name,
            "features": self.features,
            "feature_service": self.feature_service_name,
            "join_keys": self.join_keys,
            "full_feature_names": self.full_feature_names,
            "storage": self.storage,
            "entity_rows": self.entity_rows,
            "tags": self.tags,
            "created_timestamp": self.created_timestamp,
            "reproducibility": self.metadata,
        }
