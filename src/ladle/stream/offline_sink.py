"""Appending streamed batches to the offline source exactly once, keyed by the batch id.

* a **folder** FileSource (local or object store): each batch is one file ``part-stream-{batch id}.parquet``
  written atomically; a replayed batch rewrites the same file with the same rows;
* a **single-file** FileSource: the file is rewritten with the batch's rows and the batch id recorded in the
  file's own metadata (``ladle.stream.batches``, the last :data:`KEPT_BATCH_IDS` ids) in the same atomic
  rename, so a replayed batch whose id is already there is skipped; local files are rewritten under a lock
  file, so two workers never lose each other's rows;
* a **PostgreSQL** table: the offline store's ``append_once``, which records the batch id in the table
  ``ladle_stream_batches`` in the same transaction as the rows, so a replayed batch appends nothing;
* a ``SparkSource(path=..., file_format="parquet")`` is a folder (or file) like a FileSource's, written the same
  way, and Spark reads what the worker wrote;
* any other writable source (Spark catalog tables, Spark paths in other formats): the offline store's
  ``append``, *at least once* — a worker killed between the append and the acknowledgement appends that batch
  again when it is replayed.
"""

from __future__ import annotations

import contextlib
import fcntl
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from ladle.definitions import DataSource, FileSource, SparkSource
from ladle.offline.base import OfflineStore
from ladle.offline.columns import align_to_source
from ladle.offline.filesystem import ObjectStoreOptions, ParquetPath

__all__ = ["KEPT_BATCH_IDS", "OfflineSink"]

#: how many batch ids a single-file source remembers (far more than batches in flight at once)
KEPT_BATCH_IDS = 1_000
_META_KEY = b"ladle.stream.batches"


class OfflineSink:
    """Writes batches of rows (raw source columns) to ``source``'s batch source through ``offline``."""

    def __init__(self, offline: OfflineStore, source: DataSource, repo_path: Path) -> None:
        self.offline, self.source, self.batch = offline, source, source.batch
        self.repo_path = repo_path
        self._schema: pa.Schema | None = None
        options = getattr(offline, "object_store", None)
        if not isinstance(options, ObjectStoreOptions):  # a store without S3 settings (Spark): the defaults
            options = ObjectStoreOptions()
        self._path: ParquetPath | None = None
        if isinstance(self.batch, FileSource):
            self._path = ParquetPath(
                self.batch.path,
                f"FileSource '{self.batch.name}'",
                repo_path,
                options,
                self.batch.s3_endpoint_override or "",
            )
        elif isinstance(self.batch, SparkSource) and self.batch.path and self.batch.file_format == "parquet":
            self._path = ParquetPath(self.batch.path, f"SparkSource '{self.batch.name}'", repo_path, options)

    @property
    def exactly_once(self) -> bool:
        """Whether a replayed batch can never add rows twice (see the module docs)."""
        return (self._path is not None and not self._path.is_glob) or self._append_once is not None

    @property
    def _append_once(self) -> Callable[[DataSource, pa.Table, str], bool] | None:
        once: Callable[[DataSource, pa.Table, str], bool] | None = getattr(self.offline, "append_once", None)
        return once

    def schema(self) -> pa.Schema:
        """The offline source's raw columns (read once)."""
        if self._schema is None:
            self._schema = self.offline.source_schema(self.batch)
        return self._schema

    def aligned(self, rows: pa.Table) -> pa.Table:
        """``rows`` as the source's columns and types; InvalidRequest names what does not fit."""
        return align_to_source(self.batch, self.schema(), rows, f"appending a stream batch to '{self.batch.name}'")

    def write(self, rows: pa.Table, batch_id: str) -> None:
        """Append ``rows`` for batch ``batch_id`` (a no-op for an empty table)."""
        if rows.num_rows == 0:
            return
        path = self._path
        if path is None or path.is_glob:
            table = self.aligned(rows)  # the source's columns only: a message may carry others
            once = self._append_once
            if once is not None:
                once(self.source, table, batch_id)
            else:
                self.offline.append(self.source, table)
            return
        table = self.aligned(rows)
        fs, root = path.filesystem, path.fs_path
        info = fs.get_file_info(root)
        if info.type == pafs.FileType.Directory or path.uri.endswith("/"):
            _put(fs, table, f"{root}/part-stream-{batch_id}.parquet", path.is_local)
            return
        with _locked(root, path.is_local):
            existing = pq.read_table(root, filesystem=fs)
            meta = dict(existing.schema.metadata or {})
            done = [b for b in meta.get(_META_KEY, b"").decode().split(",") if b]
            if batch_id in done:
                return
            meta[_META_KEY] = ",".join([*done, batch_id][-KEPT_BATCH_IDS:]).encode()
            merged = pa.concat_tables([existing, table.cast(existing.schema)])
            _put(fs, merged.replace_schema_metadata(meta), root, path.is_local)


def _put(fs: pafs.FileSystem, table: pa.Table, target: str, local: bool) -> None:
    """One parquet file that readers see whole or not at all (temp file + rename locally)."""
    if not local:
        pq.write_table(table, target, filesystem=fs)
        return
    folder, _, name = target.rpartition("/")
    fs.create_dir(folder, recursive=True)
    tmp = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
    pq.write_table(table, tmp, filesystem=fs)
    fs.move(tmp, target)


@contextlib.contextmanager
def _locked(path: str, local: bool) -> Iterator[None]:
    """An exclusive lock on ``.{file}.lock`` beside a local file (nothing for object stores)."""
    if not local:
        yield
        return
    folder, _, name = path.rpartition("/")
    with open(f"{folder}/.{name}.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
