"""``ladle check``'s items: each one failing (a pending apply, a missing column, a stale view, a null read, a
skew) names the view and the fix, and a healthy repo passes every item."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pyarrow as pa

from ladle.check import CheckReport, run_checks
from ladle.store import FeatureStore
from operating_repo import FEATURES, NOW, SQLITE_ONLINE, YAML, build

VIEW = "driver_stats"


def healthy(make_repo: Any, path: str = "data/sets/driver_stats/latest") -> FeatureStore:
    yaml = YAML.format(
        project="checks", registry="data/registry.db", online=SQLITE_ONLINE, offline="", root="data/sets", root_extra=""
    )
    store = FeatureStore(
        repo_path=make_repo({"features.py": FEATURES.format(ttl_days=2, path=path, extra="")}, yaml=yaml)
    )
    store.publish(VIEW, build([1, 2, 3, 4], 1.0, 10), version="v1")
    store.apply_repo()
    store.materialize(NOW - timedelta(days=1), NOW)
    return store


def outcome(report: CheckReport) -> dict[tuple[str, str], bool]:
    return {(i.check, i.target): i.ok for i in report.items}


def failure(report: CheckReport, check: str) -> str:
    [item] = [i for i in report.items if i.check == check and not i.ok]
    return f"{item.target}: {item.detail} | fix: {item.fix}"


def test_a_healthy_repo_passes_every_item(make_repo: Any) -> None:
    report = healthy(make_repo).check(sample=3)
    assert report.ok, report.to_dict()
    assert outcome(report) == {
        ("registry", "registry"): True,
        ("source", VIEW): True,
        ("freshness", VIEW): True,
        ("online read", VIEW): True,
        ("skew", VIEW): True,
    }
    assert "3 sampled keys equal the historical values" in next(i.detail for i in report.items if i.check == "skew")
    assert report.to_dict()["failed"] == 0 and report.to_dict()["checked"] == 5


def test_a_pending_apply_fails_the_registry_item(make_repo: Any) -> None:
    store = healthy(make_repo)
    features = store.repo_path / "features.py"
    features.write_text(features.read_text().replace("ttl=timedelta(days=2)", "ttl=timedelta(days=3)"))
    text = failure(store.check(), "registry")
    assert "repo differs from the registry" in text and "driver_stats" in text and "run `ladle apply`" in text


def test_a_missing_column_fails_the_source_item(make_repo: Any) -> None:
    store = healthy(make_repo)
    v1 = store.repo_path / "data/sets/driver_stats/v1/data.parquet"
    pd.read_parquet(v1).drop(columns=["trips"]).to_parquet(v1)  # the data changed under the published version
    report = store.check()
    text = failure(report, "source")
    assert text.startswith("driver_stats:") and "missing column(s) ['trips']" in text and "fix: publish data" in text
    assert ("skew", VIEW) not in outcome(report)  # an unreadable view is not sampled


def test_a_stale_view_fails_the_freshness_item(make_repo: Any) -> None:
    store = healthy(make_repo)
    report = run_checks(store, sample=3, now=NOW + timedelta(days=3))
    text = failure(report, "freshness")
    assert text.startswith("driver_stats:") and "3d ago: staler than its ttl (2d)" in text
    assert "ladle materialize-incremental now" in text


def test_a_view_never_materialized_fails_the_freshness_item(make_repo: Any) -> None:
    yaml = YAML.format(
        project="checks", registry="data/registry.db", online=SQLITE_ONLINE, offline="", root="data/sets", root_extra=""
    )
    path = "data/sets/driver_stats/latest"
    store = FeatureStore(
        repo_path=make_repo({"features.py": FEATURES.format(ttl_days=2, path=path, extra="")}, yaml=yaml)
    )
    store.publish(VIEW, build([1], 1.0, 10), version="v1")
    store.apply_repo()
    assert "never materialized" in failure(store.check(), "freshness")


def test_a_null_online_read_fails_the_online_read_item(make_repo: Any) -> None:
    store = healthy(make_repo)
    view = store.get_feature_view(VIEW)
    store.online_store.delete(store.project, view, pa.table({"driver_id": pa.array([2], pa.int64())}))
    report = store.check(sample=4)
    text = failure(report, "online read")
    assert text.startswith("driver_stats: 1 of 4 sampled keys read null online (driver_id=2)")
    assert "materialize" in text
    assert outcome(report)[("skew", VIEW)]  # the other keys still equal the historical values


def test_an_online_value_that_differs_fails_the_skew_item(make_repo: Any) -> None:
    store = healthy(make_repo)
    written = pd.DataFrame({"driver_id": [3], "rate": [9.5], "trips": [999], "ts": [NOW]})
    store.write_to_online_store(VIEW, written)
    report = store.check(sample=4)
    text = failure(report, "skew")
    assert text.startswith("driver_stats: 1 of 4 sampled keys differ from the historical values")
    assert "driver_id=3 rate: online 9.5, offline 1.75" in text and "driver_id=3 trips: online 999, offline 13" in text
    assert "ladle materialize START END" in text
    assert outcome(report)[("online read", VIEW)]


WINDOWED = """
from datetime import timedelta
from ladle import Aggregation, BatchFeatureView, Entity, FileSource

user = Entity(name="user", join_keys=["user_id"])
src = FileSource(name="tx_src", path="data/tx.parquet", timestamp_field="ts")
aggs = [Aggregation(column="amount", function=fn, time_window=timedelta(hours=h)) for h in (1, 24) for fn in ("sum", "count")]
tx = BatchFeatureView(name="tx", entities=[user], source=src, aggregations=aggs)
"""


def test_windowed_views_are_compared_with_the_training_set_at_now(make_repo: Any) -> None:
    repo = make_repo({"features.py": WINDOWED})
    minutes = [10, 50, 200, 30, 600]
    pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2, 2],
            "ts": [NOW - timedelta(minutes=m) for m in minutes],
            "amount": [10.0, 2.5, 4.0, 7.0, 1.0],
        }
    ).to_parquet(repo / "data/tx.parquet")
    store = FeatureStore(repo_path=repo)
    store.apply_repo()
    store.materialize(NOW - timedelta(days=2), NOW)
    report = store.check(sample=5)
    assert report.ok, report.to_dict()
    assert "2 sampled keys equal the historical values at now" in next(
        i.detail for i in report.items if i.check == "skew"
    )
    # an event written online only: the online aggregates no longer equal the training set's
    store.write_to_online_store("tx", pd.DataFrame({"user_id": [2], "ts": [NOW], "amount": [100.0]}))
    text = failure(store.check(sample=5), "skew")
    assert text.startswith("tx: 1 of 2 sampled keys differ from the historical values at now")
    assert "user_id=2 sum_amount_3600s: online 107.0, offline 7.0" in text
