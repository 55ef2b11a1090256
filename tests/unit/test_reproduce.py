"""``reproduce`` rebuilds a saved dataset with the definitions of the registry version it recorded (the data as
it is now), and reports apart the rows that differ and what changed since: the registry version, contracts,
other definition changes, sources (fingerprint or published version). Past the history's retention it falls
back to the current definitions with a warning. DuckDB; the PostgreSQL rebuild is in
tests/conformance/test_saved_dataset_postgres.py."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from ladle.definitions import SavedDatasetFileStorage
from ladle.definitions.contract import schema_hash
from ladle.errors import LadleWarning
from ladle.store import FeatureStore
from stats_repo import REPO, ROWS, h, write_stats

YAML = """\
project: {project}
registry:
  path: data/registry.db
  history_limit: {limit}
provider: local
online_store: null
offline_store:
  type: duckdb
"""


ENTITIES = pd.DataFrame({"driver_id": [1, 1, 2, 3, 4], "event_timestamp": [h(7), h(1), h(1), h(1), h(1)]})


@pytest.fixture
def repo(make_repo) -> Path:
    folder = make_repo({"features.py": REPO}, yaml=YAML.format(project="repro", limit=100))
    write_stats(folder / "data/stats.parquet", ROWS)
    FeatureStore(repo_path=folder).apply_repo()
    return folder


def save(repo: Path, name: str = "train", features: object = None) -> None:
    store = FeatureStore(repo_path=repo)
    wanted = store.get_feature_service("model") if features == "service" else ["stats:rate", "stats:trips"]
    job = store.get_historical_features(ENTITIES, wanted)
    store.create_saved_dataset(
        from_=job,
        name=name,
        storage=SavedDatasetFileStorage(path=str(repo / "data" / f"{name}.parquet")),
        feature_service=wanted if features == "service" else None,
    )


def edit(repo: Path, old: str, new: str) -> None:
    path = repo / "features.py"
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))
    assert not FeatureStore(repo_path=repo).apply_repo().is_empty


def reproduce(repo: Path, name: str = "train"):  # type: ignore[no-untyped-def]
    return FeatureStore(repo_path=repo).reproduce_saved_dataset(name)


def test_unchanged_store_reports_nothing(repo: Path) -> None:
    save(repo)
    report = reproduce(repo)
    assert report.identical and report.differing_rows == 0 and report.differing_samples == []
    assert (report.saved_registry_version, report.registry_version, report.definitions_version) == (1, 1, 1)
    assert report.changes == [] and report.warnings == []
    assert report.lines() == [
        "Saved dataset 'train' reproduced: 5 rows, 0 differ.",
        "  rebuilt with the definitions of registry version 1 (the version it was saved at) and the data as it is now",
        "Nothing changed since it was saved.",
    ]


def test_a_shortened_ttl_is_rebuilt_with_the_ttl_it_had(repo: Path) -> None:
    save(repo)
    edit(repo, "ttl=timedelta(days=3)", "ttl=timedelta(hours=2)")  # now driver 1's h(5) value is too old at h(1)
    current = FeatureStore(repo_path=repo).get_historical_features(ENTITIES, ["stats:rate"]).to_df()
    assert current["rate"].isna().all()  # the current definition would give other rows ...
    report = reproduce(repo)
    assert report.identical  # ... the rebuild reads the definition as it was
    assert (report.saved_registry_version, report.registry_version, report.definitions_version) == (1, 2, 1)
    assert report.contract_changes == []
    assert report.definition_changes == [{"kind": "feature_view", "name": "stats", "fields": ["ttl_seconds"]}]
    assert report.changes == [
        "registry: saved at version 1, now at version 2",
        "feature view 'stats': definition changed without a contract change (ttl_seconds)",
    ]


def test_a_contract_change_that_keeps_the_rows_is_still_reported(repo: Path) -> None:
    save(repo)
    saved_hash = schema_hash(FeatureStore(repo_path=repo).get_feature_view("stats"))
    edit(repo, ', Field(name="trips", dtype=Int64)]', "]")  # trips dropped: a contract change
    new_hash = schema_hash(FeatureStore(repo_path=repo).get_feature_view("stats"))
    report = reproduce(repo)
    assert report.identical and report.rows == 5
    assert report.contract_changes == [{"view": "stats", "saved_schema_hash": saved_hash, "schema_hash": new_hash}]
    assert f"feature view 'stats': contract changed (schema hash {saved_hash[:12]} -> {new_hash[:12]})" in (
        report.changes
    )
    assert "0 differ" in report.lines()[0]


def test_the_source_is_read_as_it_was_defined(repo: Path) -> None:
    save(repo)
    write_stats(repo / "data/other.parquet", [(1, h(3), 9.0, 9)])
    edit(repo, 'path="data/stats.parquet"', 'path="data/other.parquet"')
    report = reproduce(repo)
    assert report.identical and report.source_changes == []
    assert report.definition_changes == [{"kind": "feature_view", "name": "stats", "fields": ["source.path"]}]


def test_a_feature_service_is_rebuilt_as_it_was(repo: Path) -> None:
    save(repo, "svc", features="service")
    edit(repo, 'stats[["rate"]]', 'stats[["rate", "trips"]]')
    report = reproduce(repo, "svc")
    assert report.identical and report.rebuilt_rows == 5
    assert report.definition_changes == [
        {"kind": "feature_service", "name": "model", "fields": ["features[0].features[1]"]}
    ]
    assert "feature service 'model': definition changed (features[0].features[1])" in report.changes


def test_an_extra_rebuilt_column_is_a_difference(repo: Path) -> None:
    from ladle.retrieval.reproduce import compare

    stored = pa.table({"k": [1, 2], "a": [1.0, 2.0]})
    diff = compare(stored, stored.append_column("b", pa.array([3, 4])), ["k"])
    assert diff.rows == 2 and diff.columns == {"b": 2}
    diff = compare(stored, stored.set_column(1, "a", pa.array([1.0, 5.0])), ["k"])
    assert diff.rows == 1 and diff.columns == {"a": 1}
    assert diff.samples == [{"row": 1, "keys": {"k": 2}, "values": {"a": {"saved": 2.0, "rebuilt": 5.0}}}]


def test_changed_source_data_names_the_rows_and_the_source(repo: Path) -> None:
    save(repo)
    write_stats(repo / "data/stats.parquet", [*ROWS, (2, h(2), 0.9, 9)])
    report = reproduce(repo)
    assert report.differing_rows == 1 and report.differing_columns == {"rate": 1, "trips": 1}
    assert report.differing_samples == [
        {
            "row": 2,
            "keys": {"driver_id": 2, "event_timestamp": h(1)},
            "values": {"rate": {"saved": 0.8, "rebuilt": 0.9}, "trips": {"saved": 8, "rebuilt": 9}},
        }
    ]
    assert report.source_changes == [
        {"view": "stats", "source": "stats_src", "saved_version": None, "version": None, "data_changed": True}
    ]
    lines = report.lines()
    assert "1 of 5 rows differ" in lines[0]
    assert any("row 2: driver_id=2" in line and "rate saved 0.8, rebuilt 0.9" in line for line in lines)
    assert "  source 'stats_src' of feature view 'stats': its data changed since the dataset was saved" in lines


def test_past_retention_falls_back_to_the_current_definitions_with_a_warning(make_repo) -> None:
    repo = make_repo({"features.py": REPO}, yaml=YAML.format(project="repro_ret", limit=2))
    write_stats(repo / "data/stats.parquet", ROWS)
    FeatureStore(repo_path=repo).apply_repo()
    save(repo)
    edit(repo, "ttl=timedelta(days=3)", "ttl=timedelta(days=4)")
    edit(repo, "ttl=timedelta(days=4)", "ttl=timedelta(days=5)")  # version 1 is now past retention (limit 2)
    with pytest.warns(LadleWarning, match=r"registry version 1 .*past retention.*current definitions"):
        report = reproduce(repo)
    # the current ttl (5 days) keeps driver 3's value that the saved ttl (3 days) dropped: the rows say so
    assert report.differing_rows == 1 and report.differing_samples[0]["keys"]["driver_id"] == 3
    assert report.definitions_version == 3 and len(report.warnings) == 1
    assert "raise `registry.history_limit`" in report.warnings[0]
    assert report.definition_changes == []  # the definitions of version 1 are gone: nothing to compare them with
    assert report.changes == ["registry: saved at version 1, now at version 3"]
    assert any("rebuilt with the current definitions (registry version 3)" in line for line in report.lines())


PUBLISHED = REPO.replace('path="data/stats.parquet"', 'path="data/sets/stats/latest"')


def test_a_published_version_change_is_named_and_rollback_reproduces(make_repo) -> None:
    repo = make_repo(
        {"features.py": PUBLISHED},
        yaml=YAML.format(project="repro_pub", limit=100) + "feature_sets:\n  root: data/sets\n",
    )
    store = FeatureStore(repo_path=repo)
    frame = pd.DataFrame(ROWS, columns=["driver_id", "ts", "rate", "trips"])
    store.publish("stats", frame, version="v1")
    store.apply_repo()
    save(repo)
    assert store.get_saved_dataset("train").metadata["views"]["stats"]["version"] == "v1"
    newer = frame.assign(rate=frame["rate"] + 1)
    store.publish("stats", newer, version="v2")
    report = reproduce(repo)
    assert not report.identical and report.differing_columns == {"rate": 3}
    assert report.source_changes == [
        {"view": "stats", "source": "stats_src", "saved_version": "v1", "version": "v2", "data_changed": True}
    ]
    assert report.changes == ["source 'stats_src' of feature view 'stats': published version v1 when saved, v2 now"]
    store.rollback("stats", "v1", online=False)
    report = reproduce(repo)
    assert report.identical and report.changes == []


def test_a_view_no_longer_registered_is_rebuilt_and_named(repo: Path) -> None:
    save(repo)
    (repo / "features.py").write_text(REPO.split("stats = FeatureView", maxsplit=1)[0])  # only the entity is left
    assert not FeatureStore(repo_path=repo).apply_repo().is_empty
    report = reproduce(repo)
    assert report.identical and report.definitions_version == 1
    assert report.contract_changes[0]["view"] == "stats" and report.contract_changes[0]["schema_hash"] is None
    assert "feature view 'stats': no longer registered" in report.changes


def test_a_pinned_view_version_reference_is_rebuilt(repo: Path) -> None:
    edit(repo, ', Field(name="trips", dtype=Int64)]', "]")  # stats v1 (no trips); v0 keeps it
    store = FeatureStore(repo_path=repo)
    job = store.get_historical_features(ENTITIES, ["stats@v0:trips"])
    store.create_saved_dataset(
        from_=job, name="pinned", storage=SavedDatasetFileStorage(path=str(repo / "data/pinned.parquet"))
    )
    recorded = store.get_saved_dataset("pinned").metadata["views"]
    assert list(recorded) == ["stats@v0"] and recorded["stats@v0"]["fingerprint"].startswith("files:")
    edit(repo, "ttl=timedelta(days=3)", "ttl=timedelta(days=4)")
    report = reproduce(repo, "pinned")
    assert report.identical and report.definitions_version == 2 and report.rows == 5
    assert report.contract_changes == []  # version 0 of the view is what it was
    assert report.changes == [
        "registry: saved at version 2, now at version 3",
        "feature view 'stats': definition changed without a contract change (ttl_seconds)",
    ]
    write_stats(repo / "data/stats.parquet", [*ROWS, (2, h(2), 0.9, 9)])
    assert reproduce(repo, "pinned").source_changes[0]["view"] == "stats@v0"
