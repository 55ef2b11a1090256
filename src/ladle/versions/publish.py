"""Publishing a feature set: data checked against a view's contract, written as a new version, then ``latest``
moved to it (docs/operating.md).

Nothing is half-written: locally the version is written in a hidden folder and renamed into place (a rename
onto an existing version fails, so two publishers of the same version cannot both win); on an object store
``metadata.json`` is written last and a version without it is not listed or read. ``latest`` moves only after
the version is complete, and not at all when the data does not match the contract.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ladle.common.frames import as_arrow
from ladle.definitions import FeatureView
from ladle.definitions.contract import contract, schema_hash
from ladle.errors import InvalidRequest, LadleError
from ladle.offline.columns import cast_to_declared, ensure_utc_micros
from ladle.versions.layout import DATA_FILE, METADATA_FILE, FeatureSetRoot, check_version_name

__all__ = ["PublishResult", "check_contract", "default_version", "fingerprint", "load_data", "publish"]


@dataclass(frozen=True)
class PublishResult:
    """What one publish wrote: the version, its metadata, and the version ``latest`` pointed at before."""

    view: str
    version: str
    metadata: dict[str, Any]
    previous: str | None
    path: str


def default_version(now: datetime | None = None) -> str:
    """A UTC timestamp to the microsecond (``20260601T120000.000123Z``): sortable, unique per publisher."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")


def load_data(path: str | Path) -> pa.Table:
    """A parquet or csv file, or a folder of them, as one Arrow table."""
    p = Path(path)
    if not p.exists():
        raise InvalidRequest(f"publish data '{path}' does not exist: give a parquet or csv file, or a folder of them")
    fmt = "csv" if (p.suffix.lower() == ".csv" or (p.is_dir() and not any(p.rglob("*.parquet")))) else "parquet"
    try:
        if p.is_file() and fmt == "csv":
            return pacsv.read_csv(p)
        if p.is_file():
            return pq.read_table(p)
        return ds.dataset(p, format=fmt).to_table()
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidRequest(f"publish data '{path}' cannot be read as {fmt}: {exc}") from exc


def _missing_columns(view: FeatureView, table: pa.Table) -> list[tuple[str, str]]:
    src = view.batch_source
    wanted = [(src.source_column(f.name), f"join key, {f.dtype}") for f in view.entity_columns]
    wanted += [(src.source_column(f.name), f"feature, {f.dtype}") for f in view.features]
    wanted.append((src.timestamp_field, "event timestamp"))
    if src.created_timestamp_column:
        wanted.append((src.created_timestamp_column, "created timestamp"))
    return [(c, what) for c, what in wanted if c not in table.column_names]


def check_contract(view: FeatureView, data: Any) -> pa.Table:
    """``data`` with every contract column cast to its declared type (other columns kept as they are).

    :class:`InvalidRequest` names the view, the column and the fix when a column is missing, a value does not
    convert, or an event timestamp is null.
    """
    table = as_arrow(data)
    missing = _missing_columns(view, table)
    if missing:
        listed = ", ".join(f"'{c}' ({what})" for c, what in missing)
        raise InvalidRequest(
            f"cannot publish feature view '{view.name}': the data has no column {listed}; add it to the data, "
            "or change the view's schema / the source's field_mapping and `ladle apply`"
        )
    src = view.batch_source
    columns = dict(zip(table.column_names, table.columns, strict=True))
    for f in [*view.entity_columns, *view.features]:
        name = src.source_column(f.name)
        try:
            columns[name] = cast_to_declared(columns[name], f.dtype, f"{view.name}:{f.name}")
        except LadleError as exc:
            raise InvalidRequest(
                f"cannot publish feature view '{view.name}': column '{name}' holds {table.column(name).type}, which "
                f"does not convert to the declared {f.dtype} ({exc}); fix the data, or the type in the view's schema"
            ) from exc
    for name in [src.timestamp_field, src.created_timestamp_column]:
        if not name:
            continue
        try:
            columns[name] = ensure_utc_micros(columns[name], name)
        except LadleError as exc:
            raise InvalidRequest(f"cannot publish feature view '{view.name}': {exc}") from exc
    if columns[src.timestamp_field].null_count:
        raise InvalidRequest(
            f"cannot publish feature view '{view.name}': {columns[src.timestamp_field].null_count} row(s) have no "
            f"event timestamp in column '{src.timestamp_field}'; fill or drop them"
        )
    return pa.table(columns)


def fingerprint(table: pa.Table) -> str:
    """``sha256:`` of the table's content (Arrow IPC of its columns, in order): equal data, equal fingerprint."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema.remove_metadata()) as writer:
        writer.write_table(table.replace_schema_metadata(None))
    return "sha256:" + hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def _metadata(view: FeatureView, version: str, table: pa.Table, extra: dict[str, Any]) -> dict[str, Any]:
    ts = table.column(view.batch_source.timestamp_field)
    lo, hi = (pc.min(ts).as_py(), pc.max(ts).as_py()) if table.num_rows else (None, None)
    return {
        "view": view.name,
        "version": version,
        "schema_hash": schema_hash(view),
        "contract": contract(view),
        "row_count": table.num_rows,
        "event_time_min": lo.isoformat() if lo else None,
        "event_time_max": hi.isoformat() if hi else None,
        "fingerprint": fingerprint(table),
        "generated_at": datetime.now(UTC).isoformat(),
        "files": [DATA_FILE],
        **extra,
    }


def _write_local(root: FeatureSetRoot, view: str, version: str, table: pa.Table, meta: dict[str, Any]) -> None:
    final = root.version_dir(view, version)
    tmp = f"{root.view_dir(view)}/.publishing-{version}-{uuid.uuid4().hex}"
    os.makedirs(tmp)
    try:
        pq.write_table(table, f"{tmp}/{DATA_FILE}")
        Path(tmp, METADATA_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
        try:
            os.rename(tmp, final)  # fails when the version exists (a non-empty folder): the first publisher wins
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise root.failure(f"writing version '{version}' of '{view}' failed: {exc}") from exc
            raise InvalidRequest(
                f"feature view '{view}' already has a version '{version}' under {root.uri}; a published version "
                "is never replaced: publish under a new --version"
            ) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_remote(root: FeatureSetRoot, view: str, version: str, table: pa.Table, meta: dict[str, Any]) -> None:
    folder = root.version_dir(view, version)
    try:
        pq.write_table(table, f"{folder}/{DATA_FILE}", filesystem=root.fs)
    except OSError as exc:
        raise root.failure(f"writing version '{version}' of '{view}' failed: {exc}") from exc
    root.write_bytes(f"{folder}/{METADATA_FILE}", json.dumps(meta, indent=2, sort_keys=True).encode())


def publish(
    root: FeatureSetRoot, view: FeatureView, data: Any, version: str | None, extra: dict[str, Any]
) -> PublishResult:
    """Check ``data`` against ``view``'s contract, write it as ``version`` (default: :func:`default_version`)
    with its metadata (``extra`` adds keys: ladle and registry versions), then move ``latest`` to it."""
    version = check_version_name(version) if version is not None else default_version()
    table = check_contract(view, load_data(data) if isinstance(data, str | Path) else data)
    if root.exists(view.name, version):
        raise InvalidRequest(
            f"feature view '{view.name}' already has a version '{version}' under {root.uri}; a published version "
            "is never replaced: publish under a new --version"
        )
    meta = _metadata(view, version, table, extra)
    previous = root.pointer(view.name)
    if root.is_local:
        os.makedirs(root.view_dir(view.name), exist_ok=True)
        _write_local(root, view.name, version, table, meta)
    else:
        _write_remote(root, view.name, version, table, meta)
    root.move_pointer(view.name, version, previous)
    return PublishResult(view.name, version, meta, previous, root.source_path(view.name, version))
