"""The UI's history, saved-dataset and published-version endpoints on a repo with a real history: the demo repo
of ``ladle init`` applied three times (a cosmetic ttl edit, then a contract change), two published feature-set
versions and two saved datasets, one saved before the contract change. Values are asserted against the
registry's own history API (``store.registry_history``, ``store.diff_registry_versions``) and the stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_helpers import demo_repo
from ui_helpers import VIEW, build_history, edit_repo

from ladle import FeatureStore
from ladle.definitions.contract import schema_hash
from ladle.server.settings import ServerSettings
from ladle.ui.app import create_ui_app

LOCAL = "http://127.0.0.1"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LADLE_USER", "ui-tester")
        yield build_history(tmp_path_factory.mktemp("ui_history"))


@pytest.fixture(scope="module")
def client(repo: Path) -> Iterator[TestClient]:
    with TestClient(create_ui_app(ServerSettings(repo_path=str(repo))), base_url=LOCAL) as c:
        yield c


@pytest.fixture(scope="module")
def store(repo: Path) -> Iterator[FeatureStore]:
    s = FeatureStore(repo_path=repo)
    yield s
    s.close()


def ok(client: TestClient, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def refused(client: TestClient, path: str, status: int, kind: str) -> str:
    response = client.get(path)
    assert response.status_code == status, response.text
    assert response.json()["error"]["type"] == kind
    return str(response.json()["error"]["message"])


def test_history_lists_every_version_with_who_and_contract_flags(client: TestClient, store: FeatureStore) -> None:
    doc = ok(client, "/api/history")
    assert (doc["current"], doc["retained"]) == (3, 3)
    assert [v["version"] for v in doc["versions"]] == [3, 2, 1]
    expected = {v.version: v for v in store.registry_history()}
    for item in doc["versions"]:
        known = expected[item["version"]]
        assert (item["time"], item["user"], item["host"], item["summary"]) == (
            known.time,
            known.user,
            known.host,
            known.summary,
        )
        assert item["user"] == "ui-tester" and item["restorable"] is True and item["rollback_of"] is None
    v3, v2, v1 = doc["versions"]
    assert (v1["added"], v1["changed"], v1["removed"], v1["objects"]) == (12, 0, 0, 12)
    assert (v2["changed"], v2["contract_changes"]) == (1, 0)
    assert (v3["changed"], v3["contract_changes"]) == (1, 1)
    assert v3["summary"] == "changed feature_view 'driver_hourly_stats' (schema[2].dtype)"
    assert "ladle registry history" in doc["snippets"][1]["code"]


def test_a_version_shows_its_changes_with_old_and_new_values(client: TestClient, store: FeatureStore) -> None:
    v2 = ok(client, "/api/history/2")
    assert (v2["previous"], v2["values"], v2["user"]) == (1, True, "ui-tester")
    assert v2["changes"] == [
        {
            "kind": "feature_view",
            "name": VIEW,
            "change": "changed",
            "fields": [{"path": "ttl_seconds", "old": 86400.0, "new": 7200.0, "absent": None}],
            "contract_changed": False,
            "schema_hash_before": v2["changes"][0]["schema_hash_before"],
            "schema_hash_after": v2["changes"][0]["schema_hash_before"],
        }
    ]
    v3 = ok(client, "/api/history/3")
    (change,) = v3["changes"]
    assert change["fields"] == [{"path": "schema[2].dtype", "old": "Float32", "new": "Float64", "absent": None}]
    assert change["contract_changed"] is True and v3["contract_changes"] == 1
    assert change["schema_hash_after"] == schema_hash(store.get_feature_view(VIEW))
    assert change["schema_hash_before"] != change["schema_hash_after"]
    assert "ladle registry diff 2 3" in v3["snippets"][1]["code"]
    assert "ladle registry rollback 3" in v3["snippets"][1]["code"]
    v1 = ok(client, "/api/history/1")  # against the empty registry: everything added
    assert v1["values"] is True and {c["change"] for c in v1["changes"]} == {"added"} and len(v1["changes"]) == 12
    assert "registered registry versions: 1, 2, 3" in refused(client, "/api/history/9", 404, "NotFound")
    refused(client, "/api/history/latest", 422, "RequestValidationError")


def test_compare_any_two_versions(client: TestClient, store: FeatureStore) -> None:
    doc = ok(client, "/api/history/compare?a=1&b=3")
    expected = store.diff_registry_versions(1, 3)
    assert [(c["kind"], c["name"], c["change"]) for c in doc["changes"]] == [
        (c.kind, c.name, c.change) for c in expected.changes
    ]
    (change,) = doc["changes"]
    assert [(f["path"], f["old"], f["new"]) for f in change["fields"]] == [
        ("schema[2].dtype", "Float32", "Float64"),
        ("ttl_seconds", 86400.0, 7200.0),
    ]
    assert change["contract_changed"] is True and doc["contract_changes"] == 1
    assert (doc["from"], doc["to"], doc["changed"]) == (1, 3, 1)
    back = ok(client, "/api/history/compare?a=3&b=2")
    assert back["changes"][0]["fields"] == [
        {"path": "schema[2].dtype", "old": "Float64", "new": "Float32", "absent": None}
    ]
    assert ok(client, "/api/history/compare?a=2&b=2")["changes"] == []
    empty = ok(client, "/api/history/compare?a=0&b=1")
    assert len(empty["changes"]) == 12 and empty["added"] == 12
    removed = ok(client, "/api/history/compare?a=1&b=0")
    assert {c["change"] for c in removed["changes"]} == {"removed"}
    assert "ladle registry diff 1 3" in doc["snippets"][1]["code"]
    assert "registry version '7'" in refused(client, "/api/history/compare?a=1&b=7", 404, "NotFound")
    refused(client, "/api/history/compare?a=1", 422, "RequestValidationError")
    refused(client, "/api/history/compare?a=-1&b=2", 422, "RequestValidationError")


def test_saved_datasets_list_filters_and_pages(client: TestClient) -> None:
    doc = ok(client, "/api/saved-datasets")
    assert [d["name"] for d in doc["items"]] == ["train_eta", "train_trips"]
    eta = doc["items"][0]
    assert (eta["rows"], eta["features"], eta["views"], eta["registry_version"]) == (3, 2, [VIEW], 2)
    assert eta["tags"] == {"model": "eta"} and eta["path"].endswith("data/train_eta.parquet")
    assert doc["tags"] == {"model:eta": 1, "model:trips": 1}
    assert [d["name"] for d in ok(client, "/api/saved-datasets?tag=model:trips")["items"]] == ["train_trips"]
    assert ok(client, "/api/saved-datasets?q=ETA")["total"] == 1
    assert ok(client, f"/api/saved-datasets?q={VIEW}")["total"] == 2  # view names are searched
    page = ok(client, "/api/saved-datasets?per_page=1&page=2")
    assert (page["pages"], [d["name"] for d in page["items"]]) == (2, ["train_trips"])
    assert ok(client, "/api/overview")["counts"]["saved-datasets"] == 2
    assert "ladle saved-datasets list" in doc["snippets"][1]["code"]
    refused(client, "/api/saved-datasets?per_page=0", 422, "RequestValidationError")


def test_a_saved_dataset_page_names_what_changed_since(client: TestClient, store: FeatureStore) -> None:
    doc = ok(client, "/api/saved-datasets/train_eta")
    saved = store.get_saved_dataset("train_eta")
    assert doc["features"] == [f"{VIEW}:conv_rate", f"{VIEW}:acc_rate"] == saved.features
    assert (doc["rows"], doc["registry_version"], doc["registry_version_now"]) == (3, 2, 3)
    assert doc["created_timestamp"] == saved.created_timestamp
    assert doc["result_fingerprint"] == saved.metadata["result_fingerprint"]
    (view,) = doc["views"]
    recorded = saved.metadata["views"][VIEW]
    assert (view["schema_hash"], view["source"], view["fingerprint"]) == (
        recorded["schema_hash"],
        "driver_hourly_stats_source",
        recorded["fingerprint"],
    )
    assert view["fingerprint"].startswith("files:") and view["version"] is None
    assert view["schema_hash_now"] == schema_hash(store.get_feature_view(VIEW)) != view["schema_hash"]
    assert view["contract_changed"] is True and doc["contract_changes"] == [VIEW]
    trips = ok(client, "/api/saved-datasets/train_trips")
    assert trips["contract_changes"] == [] and trips["views"][0]["contract_changed"] is False
    assert trips["registry_version"] == trips["registry_version_now"] == 3
    calls = " ".join(s["code"] for s in doc["snippets"])
    assert "ladle reproduce train_eta" in calls and "store.reproduce_saved_dataset('train_eta')" in calls
    assert "did you mean 'train_eta'?" in refused(client, "/api/saved-datasets/train_et", 404, "NotFound")


def test_a_saved_dataset_sample_is_its_stored_rows(client: TestClient, store: FeatureStore) -> None:
    doc = ok(client, "/api/saved-datasets/train_eta/sample?limit=2")
    stored = store.get_saved_dataset("train_eta").to_arrow()
    assert doc["columns"] == stored.column_names
    assert doc["total_rows"] == 3 and len(doc["rows"]) == 2
    first = dict(zip(doc["columns"], doc["rows"][0], strict=True))
    expected = stored.slice(0, 1).to_pylist()[0]
    assert first["driver_id"] == expected["driver_id"]
    assert first["conv_rate"] == pytest.approx(expected["conv_rate"])
    assert first["event_timestamp"] == expected["event_timestamp"].isoformat()
    refused(client, "/api/saved-datasets/train_eta/sample?limit=101", 422, "RequestValidationError")
    refused(client, "/api/saved-datasets/nope/sample", 404, "NotFound")


def test_a_missing_saved_dataset_file_is_a_json_error(client: TestClient, repo: Path) -> None:
    path = repo / "data" / "train_trips.parquet"
    kept = path.read_bytes()
    path.unlink()
    try:
        response = client.get("/api/saved-datasets/train_trips/sample")
        assert response.status_code in (502, 503) and "train_trips" in response.json()["error"]["message"]
    finally:
        path.write_bytes(kept)


def test_published_versions_of_a_view(client: TestClient, store: FeatureStore) -> None:
    doc = ok(client, f"/api/feature-views/{VIEW}/versions")
    assert doc["configured"] is True and doc["latest"] == "v2"
    assert [(v["version"], v["is_latest"]) for v in doc["versions"]] == [("v1", False), ("v2", True)]
    listed = {v.version: v.metadata for v in store.list_versions(VIEW)}
    v1, v2 = doc["versions"]
    assert (v1["row_count"], v2["row_count"]) == (listed["v1"]["row_count"], 10)
    assert v2["fingerprint"] == listed["v2"]["fingerprint"] and v2["registry_version"] == 3
    assert (v1["current_contract"], v2["current_contract"]) == (False, True)  # v1 was published before v3
    assert "ladle versions driver_hourly_stats" in doc["snippets"][1]["code"]
    fresh = ok(client, "/api/feature-views/driver_hourly_stats_fresh/versions")
    assert (fresh["configured"], fresh["versions"], fresh["latest"]) == (True, [], None)
    refused(client, "/api/feature-views/nope/versions", 404, "NotFound")


def test_a_view_page_links_its_versions_and_datasets(client: TestClient) -> None:
    doc = ok(client, f"/api/feature-views/{VIEW}")
    assert doc["feature_sets"] is True
    assert doc["saved_datasets"] == ["train_eta", "train_trips"]
    assert [(v["version"], v["active"]) for v in doc["contract_versions"]] == [(0, False), (1, True)]
    # a cosmetic edit (v2) updates the current contract version in place
    assert [v["registry_version"] for v in doc["contract_versions"]] == [2, 3]
    assert "spec" not in doc["contract_versions"][0]


def test_published_versions_without_a_root(tmp_path: Path) -> None:
    repo = demo_repo(tmp_path, name="ui_noroot")
    with TestClient(create_ui_app(ServerSettings(repo_path=str(repo))), base_url=LOCAL) as c:
        assert ok(c, f"/api/feature-views/{VIEW}")["feature_sets"] is False
        doc = ok(c, f"/api/feature-views/{VIEW}/versions")
        assert (doc["configured"], doc["versions"]) == (False, [])
        assert ok(c, "/api/saved-datasets")["items"] == []


def plain_diff(diff: Any) -> list[tuple[Any, ...]]:
    """A registry diff as comparable tuples (absent values as None, as ``registry diff --json`` gives them)."""
    from ladle.registry.diff import MISSING

    def value(v: Any) -> Any:
        return None if v is MISSING else v

    return [
        (c.kind, c.name, c.change, c.contract_changed, [(f.path, value(f.old), value(f.new)) for f in c.fields])
        for c in diff.changes
    ]


def test_every_pair_of_versions_matches_the_registrys_diff(client: TestClient, store: FeatureStore) -> None:
    """The UI walks only objects whose content hash differs; the result is the registry's own diff."""
    for a in range(4):
        for b in range(4):
            doc = ok(client, f"/api/history/compare?a={a}&b={b}")
            got = [
                (
                    c["kind"],
                    c["name"],
                    c["change"],
                    c["contract_changed"],
                    [(f["path"], f["old"], f["new"]) for f in c["fields"]],
                )
                for c in doc["changes"]
            ]
            assert got == plain_diff(store.diff_registry_versions(a, b)), (a, b)


def test_a_version_past_retention(tmp_path: Path) -> None:
    repo = demo_repo(tmp_path, name="ui_retention")
    yaml_path = repo / "feature_store.yaml"
    yaml_path.write_text(
        yaml_path.read_text().replace(
            "registry: data/registry.db", "registry:\n  path: data/registry.db\n  history_limit: 2"
        )
    )
    store = FeatureStore(repo_path=repo)
    for ttl in ("hours=2", "hours=3"):
        edit_repo(
            repo, "ttl=timedelta(days=1)" if ttl == "hours=2" else "ttl=timedelta(hours=2)", f"ttl=timedelta({ttl})"
        )
        store.apply_repo()
    store.close()
    with TestClient(create_ui_app(ServerSettings(repo_path=str(repo))), base_url=LOCAL) as c:
        assert [v["version"] for v in ok(c, "/api/history")["versions"]] == [3, 2]
        oldest = ok(c, "/api/history/2")  # v1 is gone: the changed paths the entry recorded, no values
        assert oldest["values"] is False and "past retention" in oldest["why"]
        assert oldest["changes"][0]["fields"] == [{"path": "ttl_seconds", "old": None, "new": None, "absent": None}]
        newest = ok(c, "/api/history/3")
        assert newest["values"] is True
        assert newest["changes"][0]["fields"][0] == {
            "path": "ttl_seconds",
            "old": 7200.0,
            "new": 10800.0,
            "absent": None,
        }
        response = c.get("/api/history/compare?a=1&b=3")
        assert response.status_code == 400 and "history_limit" in response.json()["error"]["message"]
        assert "registry version '8'" in refused(c, "/api/history/compare?a=1&b=8", 404, "NotFound")


def test_a_relative_saved_dataset_path_is_read_from_the_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Saved from the repo's folder with a relative path, the dataset is found by a UI started elsewhere."""
    import pandas as pd

    from ladle.definitions import SavedDatasetFileStorage

    repo = demo_repo(tmp_path, name="ui_relative")
    monkeypatch.chdir(repo)
    store = FeatureStore(repo_path=repo)
    entity_df = pd.DataFrame({"driver_id": [1001], "event_timestamp": [pd.Timestamp.now(tz="UTC")]})
    job = store.get_historical_features(entity_df, [f"{VIEW}:conv_rate"])
    store.create_saved_dataset(from_=job, name="rel", storage=SavedDatasetFileStorage(path="data/rel.parquet"))
    store.close()
    monkeypatch.chdir(tmp_path)
    with TestClient(create_ui_app(ServerSettings(repo_path=str(repo))), base_url=LOCAL) as c:
        doc = ok(c, "/api/saved-datasets/rel/sample")
        assert doc["columns"][:2] == ["driver_id", "event_timestamp"] and doc["rows"][0][0] == 1001
