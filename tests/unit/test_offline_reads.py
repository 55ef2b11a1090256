"""append on the DuckDB store (single-file and folder sources), missing sources and local listings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ladle.definitions import FileSource
from ladle.errors import BackendFailure, InvalidRequest
from ladle.offline.duckdb import DuckDBOfflineStore, DuckDBOfflineStoreConfig

T = datetime(2026, 2, 1, tzinfo=timezone.utc)
UTC = pa.timestamp("us", tz="UTC")


def data(ts: list[datetime], values: list[float]) -> pa.Table:
    return pa.table({"id": pa.array(range(len(ts)), pa.int64()), "ts": pa.array(ts, UTC), "v": values})


def test_append_to_single_file_and_folder(tmp_path: Path) -> None:
    pq.write_table(data([T], [1.0]), tmp_path / "one.parquet")
    (tmp_path / "many").mkdir()
    pq.write_table(data([T], [1.0]), tmp_path / "many/part-0.parquet")
    store = DuckDBOfflineStore(DuckDBOfflineStoreConfig(), tmp_path)
    for path in ("one.parquet", "many"):
        src = FileSource(name=path.split(".")[0], path=path, timestamp_field="ts")
        store.append(src, data([T + timedelta(hours=1)], [2.0]))
        got = pq.read_table(tmp_path / path)
        assert sorted(got.column("v").to_pylist()) == [1.0, 2.0], path
    assert not [p for p in tmp_path.rglob("*.tmp")]  # nothing half-written left behind
    with pytest.raises(InvalidRequest, match=r"lack column\(s\) \['v'\]"):
        store.append(
            FileSource(name="one", path="one.parquet", timestamp_field="ts"),
            pa.table({"id": [5], "ts": pa.array([T], UTC)}),
        )


def test_missing_source_names_the_path(tmp_path: Path) -> None:
    store = DuckDBOfflineStore(DuckDBOfflineStoreConfig(), tmp_path)
    with pytest.raises(BackendFailure, match=r"FileSource 'x' has no parquet data at 'nope\.parquet'"):
        store.source_schema(FileSource(name="x", path="nope.parquet", timestamp_field="ts"))


def test_local_listing_globs_folders_and_hidden_files(tmp_path: Path) -> None:
    """Directories, globs (``*`` within a folder, ``**`` across folders) and ``file://`` URIs list the same files
    a user expects; hidden (``.x``) and bookkeeping (``_x``) files and folders are never read."""
    from ladle.offline.filesystem import ObjectStoreOptions, ParquetPath

    for rel in ("d/a.parquet", "d/sub/b.parquet", "d/.tmp.parquet", "d/_temporary/c.parquet", "d/notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(data([T], [1.0]), tmp_path / rel)

    def listed(path: str) -> list[str]:
        found = ParquetPath(path, "FileSource 'x'", tmp_path, ObjectStoreOptions()).files()
        return [str(Path(p).relative_to(tmp_path)) for p in found]

    assert listed("d") == ["d/a.parquet", "d/sub/b.parquet"]
    assert listed("d/*.parquet") == ["d/a.parquet"]
    assert listed("d/**/*.parquet") == ["d/a.parquet", "d/sub/b.parquet"]
    assert listed("d/?.parquet") == ["d/a.parquet"]
    assert listed("d/[ab].parquet") == ["d/a.parquet"]
    assert listed(f"file://{tmp_path}/d/sub") == ["d/sub/b.parquet"]
    with pytest.raises(BackendFailure, match=r"FileSource 'x' has no parquet data at 'd/\*\.csv'"):
        listed("d/*.csv")
