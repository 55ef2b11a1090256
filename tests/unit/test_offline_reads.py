"""pull_all and append on the DuckDB store: time bounds, field mapping, single-file and folder sources."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ladle.config import DuckDBOfflineStoreConfig
from ladle.definitions import FileSource
from ladle.errors import BackendFailure, InvalidRequest
from ladle.offline.duckdb import DuckDBOfflineStore

T = datetime(2026, 2, 1, tzinfo=timezone.utc)
UTC = pa.timestamp("us", tz="UTC")


def data(ts: list[datetime], values: list[float]) -> pa.Table:
    return pa.table({"id": pa.array(range(len(ts)), pa.int64()), "ts": pa.array(ts, UTC), "v": values})


def test_pull_all_bounds_and_mapping(tmp_path: Path) -> None:
    pq.write_table(data([T, T + timedelta(hours=1), T + timedelta(hours=2)], [1.0, 2.0, 3.0]), tmp_path / "a.parquet")
    src = FileSource(name="a", path="a.parquet", timestamp_field="ts", field_mapping={"v": "value"})
    store = DuckDBOfflineStore(DuckDBOfflineStoreConfig(), tmp_path)
    got = store.pull_all(src, ["id", "value"], T + timedelta(minutes=30), T + timedelta(hours=2))
    assert sorted(zip(got.column("id").to_pylist(), got.column("value").to_pylist(), strict=True)) == [
        (1, 2.0),
        (2, 3.0),
    ]
    assert store.pull_all(src, ["value"], None, None).num_rows == 3


def test_append_to_single_file_and_folder(tmp_path: Path) -> None:
    pq.write_table(data([T], [1.0]), tmp_path / "one.parquet")
    (tmp_path / "many").mkdir()
    pq.write_table(data([T], [1.0]), tmp_path / "many/part-0.parquet")
    store = DuckDBOfflineStore(DuckDBOfflineStoreConfig(), tmp_path)
    for path in ("one.parquet", "many"):
        src = FileSource(name=path.split(".")[0], path=path, timestamp_field="ts")
        store.append(src, data([T + timedelta(hours=1)], [2.0]))
        got = store.pull_all(src, ["v"], None, None)
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
