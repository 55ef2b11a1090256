"""The JSON API of ``ladle ui`` (every endpoint, values asserted, errors 4xx with a JSON body): in-process
over the demo repo of ``ladle init``, a windowed repo, and as a real ``ladle ui`` process with API keys."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from server_helpers import demo_repo, free_port

from ladle import FeatureStore
from ladle.repo.init_template import init_repo
from ladle.server.settings import ServerSettings
from ladle.ui.app import create_ui_app

LADLE = Path(sys.executable).parent / "ladle"
LOCAL = "http://127.0.0.1"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_repo(tmp_path_factory.mktemp("ui"), name="ui_demo")


@pytest.fixture(scope="module")
def client(repo: Path) -> Iterator[TestClient]:
    with TestClient(create_ui_app(ServerSettings(repo_path=str(repo))), base_url=LOCAL) as c:
        yield c


def ok(client: TestClient, path: str, **kwargs: Any) -> Any:
    response = client.post(path, **kwargs) if "json" in kwargs else client.get(path, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def refused(client: TestClient, path: str, status: int, kind: str, **kwargs: Any) -> str:
    response = client.post(path, **kwargs) if "json" in kwargs or "content" in kwargs else client.get(path)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == kind
    return str(error["message"])


def test_overview_counts_stores_and_health(client: TestClient) -> None:
    doc = ok(client, "/api/overview")
    assert doc["project"] == "ui_demo"
    assert doc["registry"]["version"] == 1 and doc["registry"]["last_apply"]
    assert doc["counts"] == {
        "data-sources": 3,
        "entities": 1,
        "feature-views": 2,
        "on-demand-feature-views": 2,
        "feature-services": 3,
        "saved-datasets": 0,
    }
    assert doc["stores"]["online_store"]["type"] == "sqlite"
    assert doc["stores"]["registry"]["path"] == "data/registry.db"
    deadline = time.monotonic() + 30  # a probe that misses its budget on a loaded machine is asked again
    while not all(h["ok"] for h in doc["health"].values()) and time.monotonic() < deadline:
        time.sleep(0.2)
        doc = ok(client, "/api/overview")
    assert doc["health"]["registry"]["ok"] is True
    assert doc["health"]["online_store"]["ok"] is True, doc["health"]
    assert doc["health"]["online_store"]["probe"] == "read feature view 'driver_hourly_stats'"
    assert doc["health"]["offline_store"] == {
        "ok": True,
        "probe": "read the schema of source 'driver_hourly_stats_source'",
    }
    assert [s["label"] for s in doc["snippets"]] == ["Python SDK", "CLI", "curl"]


def test_lists_search_filter_and_paginate(client: TestClient) -> None:
    views = ok(client, "/api/feature-views")
    assert [v["name"] for v in views["items"]] == ["driver_hourly_stats", "driver_hourly_stats_fresh"]
    first = views["items"][0]
    assert first["features"] == ["conv_rate", "acc_rate", "avg_daily_trips"]  # the join key is not a feature
    assert (first["ttl_seconds"], first["source"], first["entities"]) == (
        86400.0,
        "driver_hourly_stats_source",
        ["driver"],
    )
    assert views["tags"] == {"team:driver_performance": 2}
    assert ok(client, "/api/feature-views?q=FRESH")["total"] == 1
    assert ok(client, "/api/feature-views?q=avg_daily")["total"] == 2  # feature names are searched too
    assert ok(client, "/api/feature-views?tag=team:other")["total"] == 0
    assert ok(client, "/api/feature-views?tag=team")["total"] == 2
    page = ok(client, "/api/feature-services?per_page=2&page=2")
    assert (page["total"], page["pages"], [s["name"] for s in page["items"]]) == (3, 2, ["driver_activity_v3"])
    assert page["items"][0]["views"] == ["driver_hourly_stats_fresh", "transformed_conv_rate_fresh"]
    sources = ok(client, "/api/data-sources")["items"]
    assert {s["name"]: s["type"] for s in sources} == {
        "driver_hourly_stats_source": "file",
        "driver_stats_push_source": "push",
        "vals_to_add": "request",
    }
    assert ok(client, "/api/entities")["items"][0]["join_keys"] == ["driver_id"]
    odfvs = ok(client, "/api/on-demand-feature-views")["items"]
    assert odfvs[0]["sources"] == ["driver_hourly_stats", "vals_to_add"]
    assert (
        "ladle feature-views list --tags team:x" in ok(client, "/api/feature-views?tag=team:x")["snippets"][1]["code"]
    )


def test_list_errors_are_4xx_json(client: TestClient) -> None:
    assert "registered object kinds: data-sources" in refused(client, "/api/features", 404, "NotFound")
    assert "page" in refused(client, "/api/feature-views?page=0", 422, "RequestValidationError")
    assert "per_page" in refused(client, "/api/entities?per_page=1000", 422, "RequestValidationError")
    assert "page" in refused(client, "/api/freshness?page=16545467290833343798575104", 422, "RequestValidationError")
    assert ok(client, "/api/entities?page=1000000")["items"] == []


def test_object_pages(client: TestClient) -> None:
    view = ok(client, "/api/feature-views/driver_hourly_stats")
    assert view["spec"]["ttl_seconds"] == 86400.0 and len(view["schema_hash"]) == 64
    assert view["join_keys"] == ["driver_id"]
    assert view["reads"] == ["data_source/driver_hourly_stats_source"]
    assert view["read_by"] == [
        "feature_service/driver_activity_v1",
        "feature_service/driver_activity_v2",
        "on_demand_feature_view/transformed_conv_rate",
    ]
    assert view["freshness"]["stale"] is False and view["freshness"]["intervals"]
    odfv = ok(client, "/api/on-demand-feature-views/transformed_conv_rate")
    assert odfv["spec"]["udf_source"].startswith("def transformed_conv_rate(inputs: pd.DataFrame)")
    assert odfv["reads"] == ["data_source/vals_to_add", "feature_view/driver_hourly_stats"]
    entity = ok(client, "/api/entities/driver")
    assert entity["feature_views"] == ["driver_hourly_stats", "driver_hourly_stats_fresh"]
    service = ok(client, "/api/feature-services/driver_activity_v1")
    assert [p["features"] for p in service["spec"]["features"]] == [
        ["conv_rate"],
        ["conv_rate_plus_val1", "conv_rate_plus_val2"],
    ]
    assert service["snippets"][1]["code"] == "ladle feature-services describe driver_activity_v1"
    assert (service["join_keys"], service["request_fields"]) == (["driver_id"], ["val_to_add", "val_to_add_2"])
    push = ok(client, "/api/data-sources/driver_stats_push_source")
    assert push["reads"] == ["data_source/driver_hourly_stats_source"]
    assert push["read_by"] == ["feature_view/driver_hourly_stats_fresh"]
    message = refused(client, "/api/feature-views/driver_hourly_stat", 404, "NotFound")
    assert "did you mean 'driver_hourly_stats'?" in message


def test_lineage_whole_and_per_object(client: TestClient) -> None:
    whole = ok(client, "/api/lineage")
    nodes = {n["id"]: n for n in whole["nodes"]}
    edges = {(e["from"], e["to"]) for e in whole["edges"]}
    assert len(nodes) == 10 and len(edges) == 13
    assert ("data_source/driver_hourly_stats_source", "data_source/driver_stats_push_source") in edges
    assert ("feature_view/driver_hourly_stats", "on_demand_feature_view/transformed_conv_rate") in edges
    assert ("on_demand_feature_view/transformed_conv_rate", "feature_service/driver_activity_v2") in edges
    for a, b in edges:  # laid out left to right
        assert nodes[a]["x"] < nodes[b]["x"]
    columns = {(n["kind"], n["x"]) for n in nodes.values()}
    assert ("feature_service", max(n["x"] for n in nodes.values())) in columns
    one = ok(client, "/api/lineage?node=feature_service/driver_activity_v3")
    assert {n["id"] for n in one["nodes"]} == {
        "data_source/driver_hourly_stats_source",
        "data_source/driver_stats_push_source",
        "data_source/vals_to_add",
        "feature_view/driver_hourly_stats_fresh",
        "on_demand_feature_view/transformed_conv_rate_fresh",
        "feature_service/driver_activity_v3",
    }
    assert len(one["edges"]) == 6
    assert (
        one["snippets"][2]["code"] == "curl -s 'http://127.0.0.1/api/lineage?node=feature_service/driver_activity_v3'"
    )
    refused(client, "/api/lineage?node=feature_view/nope", 404, "NotFound")
    entity = ok(client, "/api/lineage?node=entity/driver")
    # every view of the demo has this entity: all but the request source, which only feeds what they feed
    assert {n["id"] for n in entity["nodes"]} == {n["id"] for n in whole["nodes"]} - {"data_source/vals_to_add"}
    assert len(entity["edges"]) == 11
    refused(client, "/api/lineage?node=entity/nobody", 404, "NotFound")


def test_freshness_list_and_probe(client: TestClient, repo: Path) -> None:
    doc = ok(client, "/api/freshness")
    assert (doc["total"], doc["stale"]) == (2, 0)
    row = doc["items"][0]
    assert row["name"] == "driver_hourly_stats" and len(row["intervals"]) == 1
    assert 0 <= row["lag_seconds"] < 3600 and "within the ttl" in row["why"]
    assert ok(client, "/api/freshness?stale=true")["items"] == []
    assert "materialization_intervals" in doc["snippets"][0]["code"]
    probed = ok(client, "/api/feature-views/driver_hourly_stats/freshness")
    newest = max(pq.read_table(repo / "data/driver_stats.parquet").column("event_timestamp").to_pylist())
    assert probed["offline"]["newest_event_time"] == newest.isoformat()
    assert probed["online_store"] == {"keys_read": 5, "present": 5, "newest_event_time": newest.isoformat()}
    assert probed["lag_from"] == "newest online event" and probed["stale"] is False


def test_sample_of_offline_rows(client: TestClient) -> None:
    sample = ok(client, "/api/feature-views/driver_hourly_stats/sample?limit=3")
    assert sample["columns"][:4] == ["driver_id", "conv_rate", "acc_rate", "avg_daily_trips"]
    assert len(sample["rows"]) == 3
    times = [r[sample["columns"].index("event_ts")] for r in sample["rows"]]
    assert times == sorted(times, reverse=True) and times[0] == sample["newest_event_time"]
    assert "limit" in refused(
        client, "/api/feature-views/driver_hourly_stats/sample?limit=0", 422, "RequestValidationError"
    )


def test_online_lookup_with_statuses(client: TestClient, repo: Path) -> None:
    body = {
        "features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"],
        "entities": {"driver_id": [1001, 7]},
    }
    doc = ok(client, "/api/online", json=body)
    result = doc["result"]
    assert result["metadata"]["feature_names"] == ["driver_id", "conv_rate", "avg_daily_trips"]
    store = FeatureStore(repo_path=repo)
    expected = store.get_online_features(body["features"], {"driver_id": [1001]}).to_dict()
    store.close()
    assert result["results"][1]["values"][0] == pytest.approx(expected["conv_rate"][0])
    assert result["results"][2]["values"] == [expected["avg_daily_trips"][0], None]
    assert result["results"][1]["statuses"] == ["PRESENT", "NOT_FOUND"]
    assert "get-online-features" in doc["snippets"][2]["code"]
    service = ok(
        client,
        "/api/online",
        json={
            "feature_service": "driver_activity_v1",
            "entities": {"driver_id": [1001], "val_to_add": [1], "val_to_add_2": [2]},
        },
    )
    assert service["result"]["metadata"]["feature_names"] == [
        "driver_id",
        "conv_rate",
        "conv_rate_plus_val1",
        "conv_rate_plus_val2",
    ]
    plus = service["result"]["results"]
    assert plus[2]["values"][0] == pytest.approx(plus[1]["values"][0] + 1)


def test_online_lookup_errors(client: TestClient) -> None:
    assert "features" in refused(client, "/api/online", 400, "InvalidRequest", json={"entities": {"driver_id": [1]}})
    refused(client, "/api/online", 404, "NotFound", json={"features": ["nope:x"], "entities": {"driver_id": [1]}})
    refused(client, "/api/online", 400, "InvalidJSON", content=b"{", headers={"content-type": "application/json"})
    refused(client, "/api/online", 415, "UnsupportedMediaType", content=b"{}", headers={"content-type": "text/plain"})
    refused(client, "/api/online", 422, "RequestValidationError", json={"features": "x", "entities": {}})


def test_training_set_preview(client: TestClient) -> None:
    doc = ok(client, "/api/feature-services/driver_activity_v1/preview", json={"rows": 2})
    assert [r["driver_id"] for r in doc["entity_rows"]] == [1001, 1002]
    assert doc["entity_rows"][0]["val_to_add"] == 0
    assert doc["columns"][-3:] == ["conv_rate", "conv_rate_plus_val1", "conv_rate_plus_val2"]
    row = dict(zip(doc["columns"], doc["rows"][0], strict=True))
    assert row["conv_rate_plus_val1"] == pytest.approx(row["conv_rate"])
    at = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    given = ok(
        client,
        "/api/feature-services/driver_activity_v2/preview",
        json={"entity_rows": [{"driver_id": 1003, "event_timestamp": at, "val_to_add": 5, "val_to_add_2": 6}]},
    )
    row = dict(zip(given["columns"], given["rows"][0], strict=True))
    assert row["driver_id"] == 1003 and row["conv_rate_plus_val2"] == pytest.approx(row["conv_rate"] + 6)
    assert "get_historical_features" in given["snippets"][0]["code"]
    refused(client, "/api/feature-services/nope/preview", 404, "NotFound", json={})
    message = refused(
        client,
        "/api/feature-services/driver_activity_v1/preview",
        400,
        "InvalidRequest",
        json={"entity_rows": [{"driver_id": 1, "event_timestamp": "yesterday"}]},
    )
    assert "yesterday" in message


def test_history(client: TestClient) -> None:
    doc = ok(client, "/api/history")
    assert doc["current"] == 1 and doc["retained"] == 1
    (v1,) = doc["versions"]
    assert (v1["version"], v1["objects"], v1["added"], v1["changed"], v1["removed"], v1["contract_changes"]) == (
        1,
        12,
        12,
        0,
        0,
        0,
    )
    assert v1["summary"].startswith("added project 'ui_demo'; added data_source") and v1["user"] and v1["host"]
    assert "ladle registry history" in doc["snippets"][1]["code"]
    version = ok(client, "/api/history/1")
    assert {
        "change": "added",
        "fields": [],
        "kind": "feature_view",
        "name": "driver_hourly_stats",
        "contract_changed": None,
    } in version["changes"]
    assert "registered registry versions: 1" in refused(client, "/api/history/7", 404, "NotFound")
    refused(client, "/api/history/latest", 422, "RequestValidationError")


def test_pages_and_openapi(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and '<script src="/static/app.js"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/app.css").status_code == 200
    for page in ("/", "/static/app.js", "/static/app.css"):  # nothing is loaded from another site
        assert set(re.findall(r"https?://[^\s\"'`)]+", client.get(page).text)) <= {"http://www.w3.org/2000/svg"}
    assert client.get("/docs").status_code == 404  # Swagger UI would need a CDN
    doc = ok(client, "/openapi.json")
    paths = set(doc["paths"])
    assert {
        "/api/overview",
        "/api/lineage",
        "/api/freshness",
        "/api/history",
        "/api/history/{version}",
        "/api/history/compare",
        "/api/saved-datasets",
        "/api/saved-datasets/{name}",
        "/api/saved-datasets/{name}/sample",
        "/api/feature-views/{name}/versions",
        "/api/online",
        "/api/feature-services/{name}/preview",
        "/api/feature-views/{name}/freshness",
        "/api/feature-views/{name}/sample",
        "/api/{kind}",
        "/api/{kind}/{name}",
    } == paths
    assert (
        "features"
        in doc["paths"]["/api/online"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
    )
    assert client.get("/api/nope/x/y").json()["error"]["type"] == "NotFound"
    assert client.post("/api/overview", json={}).status_code == 405


def test_registry_changes_show_after_refresh(tmp_path: Path) -> None:
    repo = demo_repo(tmp_path, name="ui_refresh")
    with TestClient(create_ui_app(ServerSettings(repo_path=str(repo), registry_ttl_sec=0.2)), base_url=LOCAL) as c:
        assert ok(c, "/api/history")["current"] == 1
        store = FeatureStore(repo_path=repo)
        store.apply(
            [store.get_entity("driver")],
            objects_to_delete=[store.get_feature_service("driver_activity_v3")],
            partial=True,
        )
        store.close()
        deadline = time.monotonic() + 20
        while ok(c, "/api/history")["current"] != 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ok(c, "/api/overview")["counts"]["feature-services"] == 2
        change = ok(c, "/api/history/2")["changes"]
        assert {
            "change": "removed",
            "fields": [],
            "kind": "feature_service",
            "name": "driver_activity_v3",
            "contract_changed": None,
        } in change


WINDOWED = """
from datetime import timedelta
from ladle import Aggregation, Entity, Field, FileSource, PushSource, StreamFeatureView
from ladle.types import Float64, Int64

user = Entity(name="user", join_keys=["user_id"])
events = FileSource(name="events", path="data/events", timestamp_field="ts")
push = PushSource(name="txn_push", batch_source=events)
txn = StreamFeatureView(
    name="txn", entities=[user], ttl=timedelta(hours=2), source=push, tags={"team": "risk"},
    schema=[Field(name="txn_count_1h", dtype=Int64), Field(name="txn_sum_1h", dtype=Float64)],
    aggregations=[
        Aggregation(column="amount", function="count", time_window=timedelta(hours=1), name="txn_count_1h"),
        Aggregation(column="amount", function="sum", time_window=timedelta(hours=1), name="txn_sum_1h"),
    ],
)
"""


def test_windowed_view(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    repo = tmp_path / "windowed"
    (repo / "data/events").mkdir(parents=True)
    times = [now - timedelta(minutes=m) for m in (10, 50, 90)]
    pq.write_table(
        pa.table(
            {"user_id": [1, 1, 2], "ts": pa.array(times, pa.timestamp("us", tz="UTC")), "amount": [2.0, 3.0, 5.0]}
        ),
        repo / "data/events/part-0.parquet",
    )
    (repo / "feature_store.yaml").write_text(
        "project: ui_windowed\nregistry: data/registry.db\nprovider: local\nonline_store:\n  type: sqlite\n  path: data/online.db\n"
    )
    (repo / "features.py").write_text(WINDOWED)
    store = FeatureStore(repo_path=repo)
    store.apply_repo()
    store.materialize(now - timedelta(days=1), now)
    store.close()
    with TestClient(create_ui_app(ServerSettings(repo_path=str(repo))), base_url=LOCAL) as c:
        row = ok(c, "/api/feature-views")["items"][0]
        assert (row["view_type"], row["aggregations"]) == ("stream", 2)
        view = ok(c, "/api/feature-views/txn")
        assert [(a["function"], a["time_window_seconds"]) for a in view["spec"]["aggregations"]] == [
            ("count", 3600.0),
            ("sum", 3600.0),
        ]
        sample = ok(c, "/api/feature-views/txn/sample?limit=5")
        assert sample["columns"] == ["user_id", "ts", "amount"]
        assert [r[2] for r in sample["rows"]] == [2.0, 3.0, 5.0]  # raw events, newest first
        lookup = ok(
            c, "/api/online", json={"features": ["txn:txn_count_1h", "txn:txn_sum_1h"], "entities": {"user_id": [1]}}
        )
        assert [r["values"] for r in lookup["result"]["results"]] == [[1], [2], [5.0]]
        probed = ok(c, "/api/feature-views/txn/freshness")
        assert probed["offline"]["newest_event_time"] == times[0].isoformat()
        assert probed["online_store"]["present"] == 2


def test_ladle_ui_process_requires_api_keys_for_the_api(repo: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [str(LADLE), "ui", "-h", "127.0.0.1", "-p", str(port), "--api-key", "secret-key", "--registry-ttl-sec", "1"],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                page = httpx.get(f"{url}/", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "ladle ui did not start"
                time.sleep(0.2)
        assert page.status_code == 200 and "ladle UI" in page.text  # the page itself holds no data
        denied = httpx.get(f"{url}/api/overview", timeout=10)
        assert denied.status_code == 401 and denied.json()["error"]["type"] == "Unauthorized"
        assert httpx.get(f"{url}/api/overview", headers={"X-API-Key": "wrong"}, timeout=10).status_code == 401
        allowed = httpx.get(f"{url}/api/overview", headers={"Authorization": "Bearer secret-key"}, timeout=10)
        assert allowed.status_code == 200 and allowed.json()["project"] == "ui_demo"
        schema = httpx.get(f"{url}/openapi.json", headers={"X-API-Key": "secret-key"}, timeout=10).json()
        assert schema["components"]["securitySchemes"]["apiKey"]["name"] == "X-API-Key"
        foreign = httpx.get(
            f"{url}/api/overview", headers={"X-API-Key": "secret-key", "Host": "evil.example"}, timeout=10
        )
        assert foreign.status_code == 400 and foreign.json()["error"]["type"] == "InvalidHost"
    finally:
        proc.terminate()
        proc.wait(30)
        if proc.stderr is not None:
            proc.stderr.close()


def test_openapi_fuzzing_finds_no_server_error(repo: Path) -> None:
    """Schemathesis generates requests (valid and invalid) from the UI's own /openapi.json: no 5xx, every
    answer has a documented status, content type and schema, invalid input is refused."""
    pytest.importorskip("schemathesis")
    st = LADLE.parent / "st"
    assert st.exists(), f"schemathesis' st command is not installed next to {LADLE}"
    port = free_port()
    log = repo.parent / f"ui-fuzz-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(LADLE), "ui", "-p", str(port)], cwd=repo, stdout=out, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{url}/openapi.json", timeout=5)
                    break
                except httpx.TransportError:
                    assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            checks = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
            done = subprocess.run(
                [
                    *(str(st), "run", f"{url}/openapi.json", "--checks", f"{checks},negative_data_rejection"),
                    *("--max-examples", "30", "--workers", "1", "--generation-database", "none", "--seed", "20261130"),
                    *("--no-color", "--request-timeout", "30"),
                ],
                cwd=repo.parent,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        finally:
            proc.terminate()
            proc.wait(30)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Traceback" not in log.read_text(), log.read_text()
    summary = done.stdout[done.stdout.rfind("Test cases:") :]
    assert int(summary.split()[2]) >= 200, summary


def test_stale_views_are_flagged(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "stale").path
    store = FeatureStore(repo_path=repo)
    store.apply_repo()
    now = datetime.now(UTC)
    store.materialize(now - timedelta(days=10), now - timedelta(days=3), ["driver_hourly_stats"])
    store.close()
    with TestClient(create_ui_app(ServerSettings(repo_path=str(repo))), base_url=LOCAL) as c:
        doc = ok(c, "/api/freshness")
        rows = {r["name"]: r for r in doc["items"]}
        assert doc["stale"] == 1 and rows["driver_hourly_stats"]["stale"] is True
        assert rows["driver_hourly_stats"]["lag_seconds"] >= 3 * 86400 - 60
        assert "over the ttl of 86400 s" in rows["driver_hourly_stats"]["why"]
        assert rows["driver_hourly_stats_fresh"]["stale"] is False  # a push source feeds it
        assert "push or stream source" in rows["driver_hourly_stats_fresh"]["why"]
        assert [r["name"] for r in ok(c, "/api/freshness?stale=true")["items"]] == ["driver_hourly_stats"]
        probed = ok(c, "/api/feature-views/driver_hourly_stats/freshness")
        newest_online = datetime.fromisoformat(probed["online_store"]["newest_event_time"])
        assert newest_online <= now - timedelta(days=3) and probed["stale"] is True
        assert datetime.fromisoformat(probed["offline"]["newest_event_time"]) > newest_online


def test_an_offline_only_repo(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "offline_only").path
    yaml = repo / "feature_store.yaml"
    text = yaml.read_text()
    yaml.write_text(text[: text.index("online_store:")] + "online_store: null\n" + text[text.index("offline_store:") :])
    FeatureStore(repo_path=repo).apply_repo()
    with TestClient(create_ui_app(ServerSettings(repo_path=str(repo))), base_url=LOCAL) as c:
        health = ok(c, "/api/overview")["health"]["online_store"]
        assert health == {"type": None, "ok": True, "probe": "no online store configured (offline only)"}
        doc = ok(c, "/api/freshness")
        assert doc["stale"] == 0 and all("no online store" in r["why"] for r in doc["items"])
        assert ok(c, "/api/feature-views/driver_hourly_stats")["online_store"] is False
        probed = ok(c, "/api/feature-views/driver_hourly_stats/freshness")
        assert probed["online_store"]["keys_read"] == 0 and probed["offline"]["newest_event_time"]
        message = refused(
            c,
            "/api/online",
            400,
            "InvalidRequest",
            json={"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001]}},
        )
        assert "online_store: null" in message
        assert ok(c, "/api/feature-services/driver_activity_v1/preview", json={"rows": 1})["rows"]


def test_a_missing_offline_source_is_reported_not_raised(tmp_path: Path) -> None:
    repo = demo_repo(tmp_path, name="ui_missing")
    (repo / "data/driver_stats.parquet").unlink()
    with TestClient(create_ui_app(ServerSettings(repo_path=str(repo))), base_url=LOCAL) as c:
        health = ok(c, "/api/overview")["health"]
        deadline = time.monotonic() + 30
        while "error" in health["offline_store"] and "within" in health["offline_store"]["error"]:
            assert time.monotonic() < deadline, health
            time.sleep(0.2)
            health = ok(c, "/api/overview")["health"]
        assert health["offline_store"]["ok"] is False
        assert "driver_stats.parquet" in health["offline_store"]["error"]
        response = c.get("/api/feature-views/driver_hourly_stats/sample")
        assert response.status_code in (400, 502) and "driver_stats.parquet" in response.json()["error"]["message"]
        assert ok(c, "/api/feature-views")["total"] == 2  # the registry pages still work
