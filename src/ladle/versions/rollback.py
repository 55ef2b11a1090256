"""Rolling a feature set back: ``latest`` moves to an older version and the online store serves its values.

Newer-wins would keep the rows being rolled back (they are newer), so the online part replaces instead: every
key of the current version and of the target is deleted (:meth:`OnlineStore.delete`), then the target's
latest row per key is written. Keys only in the current version are thereby gone online.

All-or-nothing: the online values of those keys are read first; then the pointer moves; if the online work
fails, the pointer is put back, the values read before are written back (the online store then serves what it
served before; their created timestamps are not kept), and the error is raised.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ladle.definitions import FeatureView
from ladle.definitions.contract import schema_hash
from ladle.errors import InvalidRequest
from ladle.ingest.push import online_rows
from ladle.ingest.windowed import is_windowed
from ladle.online.base import CREATED_TS, EVENT_TS, OnlineStore
from ladle.versions.layout import DATA_FILE, FeatureSetRoot

__all__ = ["RollbackResult", "read_version", "rollback"]


@dataclass(frozen=True)
class RollbackResult:
    """What a rollback did: the version ``latest`` named before and now, and the online keys replaced."""

    view: str
    version: str
    previous: str | None
    keys_replaced: int
    rows_written: int


def read_version(root: FeatureSetRoot, view: str, version: str) -> pa.Table:
    """The data of one published version."""
    path = f"{root.version_dir(view, version)}/{DATA_FILE}"
    try:
        return pq.read_table(path, filesystem=root.fs)
    except OSError as exc:
        raise root.failure(f"reading version '{version}' of '{view}' failed: {exc}") from exc


def _keys(view: FeatureView, tables: list[pa.Table]) -> pa.Table:
    """The distinct join-key tuples of ``tables`` (source columns mapped to join keys, declared types)."""
    parts = [online_rows(view, t, f"rollback of '{view.name}'", True).select(view.join_keys) for t in tables]
    merged = pa.concat_tables([p.cast(parts[0].schema) for p in parts])
    return merged.group_by(view.join_keys).aggregate([]) if view.join_keys else merged.slice(0, 1)


def _newest_per_key(view: FeatureView, rows: pa.Table) -> pa.Table:
    """One row per key, the newest by ``(event_ts, created_ts)`` (null created first; ties: the later row):
    the row newer-wins would keep, chosen before the write so the store gets one row per key."""
    if not view.join_keys or rows.num_rows == 0:
        return rows
    created = pc.fill_null(rows.column(CREATED_TS).cast(pa.int64()), -(2**63))  # null created sorts first
    order = rows.append_column("__row", pa.array(range(rows.num_rows), pa.int64())).append_column("__cr", created)
    order = order.sort_by([(EVENT_TS, "ascending"), ("__cr", "ascending"), ("__row", "ascending")])
    order = order.append_column("__rank", pa.array(range(order.num_rows), pa.int64()))
    newest = order.group_by(view.join_keys).aggregate([("__rank", "max")]).column("__rank_max")
    return order.take(newest).drop_columns(["__row", "__cr", "__rank"])


def _snapshot(online: OnlineStore, project: str, view: FeatureView, keys: pa.Table) -> pa.Table:
    """What the online store holds for ``keys`` now, as rows to write back (stored keys only)."""
    features = [f.name for f in view.features]
    held = online.read(project, view, keys, features)
    found = held.column(EVENT_TS).is_valid()
    rows = {k: keys.column(k) for k in view.join_keys}
    rows.update({f: held.column(f) for f in features})
    rows[EVENT_TS] = held.column(EVENT_TS)
    rows[CREATED_TS] = pa.nulls(keys.num_rows, held.column(EVENT_TS).type)
    return pa.table(rows).filter(found)


def rollback(
    root: FeatureSetRoot, view: FeatureView, version: str, online: OnlineStore | None, project: str
) -> RollbackResult:
    """Move ``latest`` of ``view`` to ``version``; with ``online``, make it serve that version (module doc)."""
    meta = root.metadata(view.name, version)
    if meta.get("schema_hash") != schema_hash(view):
        raise InvalidRequest(
            f"cannot roll feature view '{view.name}' back to '{version}': that version was published under another "
            "contract (its schema_hash differs from the view's); publish the data again under the current contract, "
            "or roll the view's definition back too (`ladle apply`) first"
        )
    if online is not None and is_windowed(view):
        raise InvalidRequest(
            f"cannot roll windowed feature view '{view.name}' back online: its online state is raw events; "
            "roll back the pointer with --offline-only and materialize the window again"
        )
    previous = root.pointer(view.name)
    if online is None:
        root.move_pointer(view.name, version, previous)
        return RollbackResult(view.name, version, previous, 0, 0)
    target = read_version(root, view.name, version)
    tables = [read_version(root, view.name, previous), target] if previous else [target]
    keys = _keys(view, tables)
    before = _snapshot(online, project, view, keys)
    root.move_pointer(view.name, version, previous)
    try:
        online.delete(project, view, keys)
        rows = _newest_per_key(view, online_rows(view, target, f"rollback of '{view.name}'", True))
        written = online.write(project, view, rows) if rows.num_rows else 0
    except BaseException:
        root.move_pointer(view.name, previous, version)
        with contextlib.suppress(Exception):  # best effort: the error that made the rollback fail is raised
            online.delete(project, view, keys)
            online.write(project, view, before)
        raise
    return RollbackResult(view.name, version, previous, keys.num_rows, written)
