"""Saved datasets and reproduction on DuckDB (the rebuild on PostgreSQL is in
tests/conformance/test_saved_dataset_postgres.py): the stored training set, its reproducibility metadata in the
registry, and ``reproduce`` finding zero differences on an unchanged store and naming what changed otherwise."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ladle import __version__
from ladle.definitions import SavedDatasetFileStorage
from ladle.errors import InvalidRequest, NotFound
from ladle.store import FeatureStore
from stats_repo import REPO, ROWS, h, write_stats

ENTITIES = pd.DataFrame(
    {"driver_id": [1, 1, 2, 3, 4], "event_timestamp": [h(7), h(1), h(1), h(1), h(1)], "label": [0, 1, 0, 1, 1]}
)


@pytest.fixture
def store(make_repo) -> FeatureStore:
    repo = make_repo({"features.py": REPO})
    write_stats(repo / "data/stats.parquet", ROWS)
    s = FeatureStore(repo_path=repo)
    s.apply_repo()
    return s


def save(store: FeatureStore, name: str = "train", **kwargs: object) -> tuple[object, Path]:
    job = store.get_historical_features(ENTITIES, ["stats:rate", "stats:trips"])
    path = store.repo_path / "data" / f"{name}.parquet"
    saved = store.create_saved_dataset(
        from_=job, name=name, storage=SavedDatasetFileStorage(path=str(path)), tags={"team": "risk"}, **kwargs
    )
    assert saved.storage["path"] == f"data/{name}.parquet"  # inside the repo: recorded relative to it
    return job, store.repo_path / saved.storage["path"]


def test_saved_dataset_holds_the_rows_and_how_they_were_made(store: FeatureStore) -> None:
    job, path = save(store)
    assert path.exists() and Path(str(path).removesuffix(".parquet") + ".entity_df.parquet").exists()
    got = store.get_saved_dataset("train")
    pd.testing.assert_frame_equal(got.to_df(), job.to_df(), check_dtype=False)
    assert got.tags == {"team": "risk"} and got.features == ["stats:rate", "stats:trips"]
    meta = got.metadata
    assert meta["registry_version"] == store.registry.version == 1
    assert meta["rows"] == 5 and meta["timestamp_column"] == "event_timestamp"
    view = store.get_feature_view("stats")
    from ladle.definitions.contract import schema_hash

    assert meta["views"]["stats"]["schema_hash"] == schema_hash(view)
    assert meta["views"]["stats"]["source"] == "stats_src"
    assert meta["views"]["stats"]["fingerprint"].startswith("files:")
    assert len(meta["entity_df_fingerprint"]) == 64 and len(meta["result_fingerprint"]) == 64
    assert meta["versions"]["ladle"] == __version__ and "pyarrow" in meta["versions"]
    assert got.entity_df().column("label").to_pylist() == [0, 1, 0, 1, 1]
    assert [d.name for d in store.list_saved_datasets()] == ["train"]
    assert store.list_saved_datasets(tags={"team": "other"}) == []


def test_storage_outside_the_repo_is_recorded_absolute_and_read_from_any_directory(
    store: FeatureStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = store.get_historical_features(ENTITIES, ["stats:rate"])
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    saved = store.create_saved_dataset(from_=job, name="out", storage=SavedDatasetFileStorage(path="train.parquet"))
    assert saved.storage["path"] == str(tmp_path / "elsewhere" / "train.parquet")
    monkeypatch.chdir(store.repo_path)
    assert FeatureStore(repo_path=store.repo_path).get_saved_dataset("out").to_df()["rate"].tolist()[:3] == [
        0.1,
        0.5,
        0.8,
    ]


def test_names_are_unique_unless_overwrite_and_survive_applies(store: FeatureStore) -> None:
    save(store)
    with pytest.raises(InvalidRequest, match="already exists"):
        save(store)
    save(store, allow_overwrite=True)
    features = store.repo_path / "features.py"
    features.write_text(features.read_text().replace("timedelta(days=3)", "timedelta(days=4)"))
    assert not store.apply_repo().is_empty  # a new registry version ...
    assert [d.name for d in FeatureStore(repo_path=store.repo_path).list_saved_datasets()] == ["train"]  # ... kept
    with pytest.raises(NotFound, match=r"unknown saved dataset 'trian'.*did you mean 'train'"):
        store.get_saved_dataset("trian")


def test_reproduce_on_an_unchanged_store_finds_no_difference(store: FeatureStore) -> None:
    save(store)
    report = FeatureStore(repo_path=store.repo_path).reproduce_saved_dataset("train")
    assert report.identical and report.rows == 5 and report.differing_rows == 0
    assert report.changes == []
    assert report.lines()[0] == "Saved dataset 'train' reproduced: 5 rows, 0 differ."
    assert report.lines()[-1] == "Nothing changed since it was saved."


def test_reproduce_names_the_changed_source_and_the_rows(store: FeatureStore) -> None:
    save(store)
    write_stats(
        store.repo_path / "data/stats.parquet", [*ROWS, (2, h(2), 0.9, 9)]
    )  # a newer row for driver 2, before its h(1) row
    report = FeatureStore(repo_path=store.repo_path).reproduce_saved_dataset("train")
    assert not report.identical
    assert report.differing_rows == 1 and report.differing_columns == {"rate": 1, "trips": 1}
    assert report.changes == [
        "source 'stats_src' of feature view 'stats': its data changed since the dataset was saved"
    ]
    assert "1 of 5 rows differ" in report.lines()[0]


def test_a_feature_service_dataset_is_rebuilt_through_the_service(store: FeatureStore) -> None:
    service = store.get_feature_service("model")
    job = store.get_historical_features(ENTITIES, service)
    store.create_saved_dataset(
        from_=job,
        name="svc",
        storage=SavedDatasetFileStorage(path=str(store.repo_path / "data/svc.parquet")),
        feature_service=service,
    )
    assert store.get_saved_dataset("svc").feature_service_name == "model"
    assert store.reproduce_saved_dataset("svc").identical
