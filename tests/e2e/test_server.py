"""``ladle serve`` as a user runs it: the real command on a free loopback port, driven over HTTP.

The story: a demo repo (``ladle init`` + apply + materialize) is served; a client reads features by
reference and by feature service, pushes and writes rows and reads them back, materializes; every
mistake a client can make gets a 4xx with ``{"error": {"type", "message"}}``; with an API key only
``/health`` is open; ``ladle apply`` of a changed repo in another process is served without a restart;
a Redis outage is a 503; the server stops gracefully; the OpenAPI document survives a fuzzer.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from server_helpers import LADLE, Server, demo_repo, eventually, free_port, ladle, result, serving

from backends import REDIS_URL, program, redis_ping
from ladle import FeatureStore
from ladle.client import FeatureClient
from ladle.errors import BackendUnavailable, FeatureNotFound, InvalidRequest, NotFound

CONV = "driver_hourly_stats:conv_rate"
TRIPS = "driver_hourly_stats:avg_daily_trips"
FRESH_CONV = "driver_hourly_stats_fresh:conv_rate"
MAX_BODY = 64 * 1024


def latest(repo: Path, driver_id: int) -> dict[str, Any]:
    """The newest generated row of a driver (by event time, then created)."""
    table = pq.read_table(repo / "data/driver_stats.parquet")
    rows = table.filter(pc.equal(table.column("driver_id"), driver_id)).to_pylist()
    return max(rows, key=lambda r: (r["event_timestamp"], r["created"]))


def rfc3339(when: datetime) -> str:
    """How the server writes a timestamp."""
    text = when.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return text


def error_of(response: httpx.Response, status: int, kind: str) -> str:
    """Assert an error response; return its message."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and body["error"]["type"] == kind, body
    assert body["error"]["message"]
    return str(body["error"]["message"])


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo repo, applied and materialized, with a small body limit."""
    return demo_repo(tmp_path_factory.mktemp("server"), yaml_extra=f"feature_server:\n  max_body_bytes: {MAX_BODY}\n")


@pytest.fixture(scope="module")
def server(repo: Path) -> Iterator[Server]:
    """``ladle serve`` over the demo repo, open (no API key)."""
    with serving(repo) as running:
        yield running


# --- reading features ---------------------------------------------------------------------------------
def test_online_features_by_reference_are_the_latest_rows(server: Server, repo: Path) -> None:
    response = server.post(
        "/get-online-features", {"features": [CONV, TRIPS], "entities": {"driver_id": [1001, 1002, 99]}}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert document["metadata"]["feature_names"] == ["driver_id", "conv_rate", "avg_daily_trips"]
    columns = result(document)
    assert columns["driver_id"] == {
        "values": [1001, 1002, 99],
        "statuses": ["PRESENT"] * 3,
        "event_timestamps": ["1970-01-01T00:00:00Z"] * 3,
    }
    for i, driver in enumerate((1001, 1002)):
        row = latest(repo, driver)
        assert columns["conv_rate"]["values"][i] == pytest.approx(row["conv_rate"], rel=1e-6)
        assert columns["avg_daily_trips"]["values"][i] == row["avg_daily_trips"]
        assert columns["conv_rate"]["event_timestamps"][i] == rfc3339(row["event_timestamp"])
    assert columns["conv_rate"]["statuses"] == ["PRESENT", "PRESENT", "NOT_FOUND"]
    assert columns["conv_rate"]["values"][2] is None
    assert columns["avg_daily_trips"]["event_timestamps"][2] == "1970-01-01T00:00:00Z"


def test_full_feature_names(server: Server) -> None:
    body = {"features": [CONV], "entities": {"driver_id": [1003]}, "full_feature_names": True}
    document = server.post("/get-online-features", body).json()
    assert document["metadata"]["feature_names"] == ["driver_id", "driver_hourly_stats__conv_rate"]


def test_feature_service_with_request_data(server: Server, repo: Path) -> None:
    body = {
        "feature_service": "driver_activity_v1",
        "entities": {"driver_id": [1004, 1005]},
        "request_context": {"val_to_add": [1, 2], "val_to_add_2": [10, 20]},
    }
    response = server.post("/get-online-features", body)
    assert response.status_code == 200, response.text
    columns = result(response.json())
    assert list(columns) == ["driver_id", "conv_rate", "conv_rate_plus_val1", "conv_rate_plus_val2"]
    for i, (driver, add, add2) in enumerate([(1004, 1, 10), (1005, 2, 20)]):
        conv = columns["conv_rate"]["values"][i]
        assert conv == pytest.approx(latest(repo, driver)["conv_rate"], rel=1e-6)
        assert columns["conv_rate_plus_val1"]["values"][i] == pytest.approx(conv + add)
        assert columns["conv_rate_plus_val2"]["values"][i] == pytest.approx(conv + add2)
    # Feast puts request data among the entities: the same answer
    feast_style = {
        "feature_service": "driver_activity_v1",
        "entities": {"driver_id": [1004, 1005], "val_to_add": [1, 2], "val_to_add_2": [10, 20]},
    }
    assert server.post("/get-online-features", feast_style).json() == response.json()


def test_same_answer_as_the_sdk(server: Server, repo: Path) -> None:
    """FeatureClient over HTTP and FeatureStore in-process return the same values and statuses."""
    features = [CONV, "driver_hourly_stats:acc_rate", TRIPS]
    rows = [{"driver_id": d} for d in (1001, 1003, 1005, 7)]
    local = FeatureStore(repo_path=repo).get_online_features(features, rows)
    with FeatureClient(server.url) as client:
        remote = client.get_online_features(features=features, entity_rows=rows)
        assert remote.to_dict() == local.to_dict()
        assert remote.statuses == local.statuses
        assert remote.event_timestamps == {k: v for k, v in local.event_timestamps.items()}
        assert list(remote.to_df().columns) == ["driver_id", "conv_rate", "acc_rate", "avg_daily_trips"]
        service = FeatureStore(repo_path=repo).get_feature_service("driver_activity_v2")
        by_service = client.get_online_features(
            service, {"driver_id": [1002]}, request_context={"val_to_add": [3], "val_to_add_2": [4]}
        )
        assert by_service.to_dict()["conv_rate_plus_val1"][0] == pytest.approx(by_service.to_dict()["conv_rate"][0] + 3)


# --- errors -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "kind", "words"),
    [
        (b"{not json", 400, "InvalidJSON", "not valid JSON"),
        (b"", 400, "InvalidJSON", "not valid JSON"),
        ({"features": ["nope:conv_rate"], "entities": {"driver_id": [1]}}, 404, "NotFound", "'nope'"),
        ({"features": ["driver_hourly_stats:nope"], "entities": {"driver_id": [1]}}, 404, "FeatureNotFound", "'nope'"),
        ({"feature_service": "nope", "entities": {"driver_id": [1]}}, 404, "NotFound", "feature service 'nope'"),
        ({"features": ["no_colon"], "entities": {"driver_id": [1]}}, 400, "InvalidRequest", "'feature_view:feature'"),
        ({"features": [CONV], "entities": {"rider_id": [1]}}, 400, "InvalidRequest", "driver_id"),
        ({"features": [CONV], "entities": {}}, 400, "InvalidRequest", "driver_id"),
        ({"features": [CONV], "entities": {"driver_id": ["x"]}}, 400, "InvalidRequest", "wrong type"),
        ({"features": [CONV], "entities": {"driver_id": [1.5]}}, 400, "InvalidRequest", "wrong type"),
        ({"features": [CONV], "entities": {"driver_id": [True]}}, 400, "InvalidRequest", "wrong type"),
        ({"features": [CONV], "entities": {"driver_id": [2**70]}}, 400, "InvalidRequest", "wrong type"),
        ({"features": [CONV], "entities": {"driver_id": [1, 2], "val_to_add": [1]}}, 400, "InvalidRequest", ""),
        ({"features": [CONV], "entities": {"driver_id": [{"a": 1}]}}, 422, "RequestValidationError", "driver_id"),
        (
            {"features": [CONV], "feature_service": "driver_activity_v1", "entities": {"driver_id": [1]}},
            422,
            "RequestValidationError",
            "exactly one",
        ),
        ({"entities": {"driver_id": [1]}}, 422, "RequestValidationError", "exactly one"),
        ({"features": [CONV]}, 422, "RequestValidationError", "entities"),
        ({"features": CONV, "entities": {"driver_id": [1]}}, 422, "RequestValidationError", "features"),
        ({"features": [CONV], "entities": {"driver_id": [1]}, "typo": 1}, 422, "RequestValidationError", "typo"),
        ([1, 2], 422, "RequestValidationError", ""),
    ],
)
def test_get_online_features_errors(server: Server, body: Any, status: int, kind: str, words: str) -> None:
    response = (
        server.post("/get-online-features", content=body)
        if isinstance(body, bytes)
        else server.post("/get-online-features", body)
    )
    assert words in error_of(response, status, kind)


def test_oversized_bodies_are_refused(server: Server) -> None:
    big = {"features": [CONV], "entities": {"driver_id": list(range(MAX_BODY // 4))}}
    message = error_of(server.post("/get-online-features", big), 413, "PayloadTooLarge")
    assert "max_body_bytes" in message

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield b'{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": ['
        for _ in range(MAX_BODY // 1000 + 2):
            yield b"1," * 500
        yield b"1]}}"

    error_of(server.post("/push", content=chunks()), 413, "PayloadTooLarge")
    error_of(server.post("/get-online-features", content=chunks()), 413, "PayloadTooLarge")
    assert server.http.get("/health").status_code == 200  # the server is fine afterwards


def test_unknown_routes_and_methods(server: Server) -> None:
    error_of(server.http.get("/nope"), 404, "NotFound")
    error_of(server.http.get("/get-online-features"), 405, "MethodNotAllowed")


# --- writes -------------------------------------------------------------------------------------------
def test_push_is_visible_in_the_next_read(server: Server) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    df = {
        "driver_id": [1001],
        "event_timestamp": [now.isoformat()],
        "created": [now.isoformat()],
        "conv_rate": [0.125],
        "acc_rate": [0.5],
        "avg_daily_trips": [4242],
    }
    response = server.post("/push", {"push_source_name": "driver_stats_push_source", "df": df, "to": "online"})
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "rows": 1}
    read = server.post(
        "/get-online-features",
        {"features": [FRESH_CONV, "driver_hourly_stats_fresh:avg_daily_trips"], "entities": {"driver_id": [1001]}},
    )
    columns = result(read.json())
    assert columns["conv_rate"]["values"] == [0.125]
    assert columns["avg_daily_trips"]["values"] == [4242]
    assert columns["conv_rate"]["event_timestamps"] == [rfc3339(now)]
    # an older row does not replace it (newer-wins)
    older = {**df, "event_timestamp": [(now - timedelta(hours=1)).isoformat()], "conv_rate": [0.9]}
    assert server.post("/push", {"push_source_name": "driver_stats_push_source", "df": older}).status_code == 200
    again = result(
        server.post("/get-online-features", {"features": [FRESH_CONV], "entities": {"driver_id": [1001]}}).json()
    )
    assert again["conv_rate"]["values"] == [0.125]


def test_push_online_and_offline(server: Server, repo: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    df = {
        "driver_id": [1002],
        "event_timestamp": [now.isoformat()],
        "created": [now.isoformat()],
        "conv_rate": [0.25],
        "acc_rate": [0.75],
        "avg_daily_trips": [7],
    }
    response = server.post(
        "/push", {"push_source_name": "driver_stats_push_source", "df": df, "to": "online_and_offline"}
    )
    assert response.status_code == 200, response.text
    read = result(
        server.post("/get-online-features", {"features": [FRESH_CONV], "entities": {"driver_id": [1002]}}).json()
    )
    assert read["conv_rate"]["values"] == [0.25]
    # the row is in the history too: a training set at that moment sees it
    training = (
        FeatureStore(repo_path=repo)
        .get_historical_features(
            entity_df=pd.DataFrame({"driver_id": [1002], "event_timestamp": [now + timedelta(seconds=1)]}),
            features=[CONV, TRIPS],
        )
        .to_df()
    )
    assert training["conv_rate"].tolist() == [0.25] and training["avg_daily_trips"].tolist() == [7]


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        ({"push_source_name": "nope", "df": {"driver_id": [1]}}, 404, "NotFound"),
        ({"push_source_name": "driver_hourly_stats_source", "df": {"driver_id": [1]}}, 400, "InvalidRequest"),
        ({"push_source_name": "driver_stats_push_source", "df": {"driver_id": [1]}}, 400, "InvalidRequest"),
        (
            {"push_source_name": "driver_stats_push_source", "df": {"driver_id": [1]}, "to": "sideways"},
            422,
            "RequestValidationError",
        ),
        (
            {"push_source_name": "driver_stats_push_source", "df": {"driver_id": [1, 2], "conv_rate": [1]}},
            400,
            "InvalidRequest",
        ),
        (
            {
                "push_source_name": "driver_stats_push_source",
                "df": {
                    "driver_id": [1],
                    "event_timestamp": ["yesterday"],
                    "created": [None],
                    "conv_rate": [0.1],
                    "acc_rate": [0.1],
                    "avg_daily_trips": [1],
                },
            },
            400,
            "InvalidRequest",
        ),
        (
            {
                "push_source_name": "driver_stats_push_source",
                "df": {
                    "driver_id": [1],
                    "event_timestamp": ["2024-01-01T00:00:00"],
                    "created": [None],
                    "conv_rate": ["high"],
                    "acc_rate": [0.1],
                    "avg_daily_trips": [1],
                },
            },
            400,
            "InvalidRequest",
        ),
        ({"push_source_name": "driver_stats_push_source"}, 422, "RequestValidationError"),
        ({"push_source_name": "driver_stats_push_source", "df": [1, 2]}, 422, "RequestValidationError"),
    ],
)
def test_push_errors(server: Server, body: dict[str, Any], status: int, kind: str) -> None:
    error_of(server.post("/push", body), status, kind)


def test_write_to_online_store(server: Server) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    df = {
        "driver_id": [1005, 1004],
        "event_timestamp": [now.isoformat()] * 2,
        "conv_rate": [0.5, None],
        "acc_rate": [0.25, 0.5],
        "avg_daily_trips": [11, 12],
    }
    response = server.post("/write-to-online-store", {"feature_view_name": "driver_hourly_stats", "df": df})
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "rows": 2}
    columns = result(
        server.post("/get-online-features", {"features": [CONV, TRIPS], "entities": {"driver_id": [1005, 1004]}}).json()
    )
    assert columns["conv_rate"]["values"] == [0.5, None]
    assert columns["conv_rate"]["statuses"] == ["PRESENT", "NULL_VALUE"]
    assert columns["avg_daily_trips"]["values"] == [11, 12]
    error_of(server.post("/write-to-online-store", {"feature_view_name": "nope", "df": df}), 404, "NotFound")
    error_of(
        server.post("/write-to-online-store", {"feature_view_name": "driver_hourly_stats", "df": {"driver_id": [1]}}),
        400,
        "InvalidRequest",
    )
    error_of(server.post("/write-to-online-store", {"df": df}), 422, "RequestValidationError")


def test_materialize_and_materialize_incremental(server: Server) -> None:
    end = datetime.now(UTC)
    body = {
        "start_ts": (end - timedelta(days=2)).isoformat(),
        "end_ts": end.isoformat(),
        "feature_views": ["driver_hourly_stats_fresh"],
    }
    response = server.post("/materialize", body)
    assert response.status_code == 200, response.text
    views = response.json()["feature_views"]
    assert [(v["feature_view"], v["rows"]) for v in views] == [("driver_hourly_stats_fresh", 5)]
    assert datetime.fromisoformat(views[0]["end_ts"]) == end
    response = server.post("/materialize-incremental", {"end_ts": end.isoformat()})
    assert response.status_code == 200, response.text
    assert {v["feature_view"] for v in response.json()["feature_views"]} == {
        "driver_hourly_stats",
        "driver_hourly_stats_fresh",
    }
    error_of(server.post("/materialize", {**body, "feature_views": ["nope"]}), 404, "NotFound")
    error_of(server.post("/materialize", {**body, "end_ts": "not a time"}), 422, "RequestValidationError")
    error_of(server.post("/materialize", {**body, "disable_event_timestamp": True}), 400, "InvalidRequest")
    error_of(
        server.post("/materialize-incremental", {"feature_views": ["nope"], "end_ts": end.isoformat()}), 404, "NotFound"
    )
    error_of(server.post("/materialize-incremental", {}), 422, "RequestValidationError")


# --- operations ---------------------------------------------------------------------------------------
def test_health(server: Server) -> None:
    response = server.http.get("/health")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok"
    assert health["registry"]["ok"] is True and health["registry"]["project"] == "demo"
    assert health["registry"]["version"] >= 1 and health["registry"]["error"] is None
    breaker = health["online_store"].pop("breaker")
    assert health["online_store"] == {"type": "sqlite", "ok": True, "probe": "read feature view 'driver_hourly_stats'"}
    assert breaker == {"state": "closed", "failures_in_a_row": 0, "last_error": None, "times_opened": 0}


def test_metrics_count_requests_latency_and_errors(server: Server) -> None:
    for _ in range(3):
        server.post("/get-online-features", {"features": [CONV], "entities": {"driver_id": [1001]}})
    server.post("/get-online-features", {"features": ["nope:x"], "entities": {"driver_id": [1]}})
    response = server.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    ok = 'ladle_server_requests_total{method="POST",route="/get-online-features",status="200"}'
    assert samples[ok] >= 3
    assert samples['ladle_server_errors_total{route="/get-online-features",type="NotFound"}'] >= 1
    assert samples['ladle_server_request_duration_seconds_count{route="/get-online-features"}'] >= 4
    assert samples['ladle_server_registry_refreshes_total{outcome="ok"}'] >= 1


def test_docs_and_openapi(server: Server) -> None:
    assert "swagger" in server.http.get("/docs").text.lower()
    spec = server.http.get("/openapi.json").json()
    for path in (
        "/get-online-features",
        "/push",
        "/write-to-online-store",
        "/materialize",
        "/materialize-incremental",
        "/health",
        "/metrics",
    ):
        assert path in spec["paths"], path
    body = spec["paths"]["/get-online-features"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/GetOnlineFeaturesRequest"}
    assert "entities" in spec["components"]["schemas"]["GetOnlineFeaturesRequest"]["properties"]


# --- auth ---------------------------------------------------------------------------------------------
def test_api_keys(tmp_path: Path) -> None:
    repo = demo_repo(tmp_path, yaml_extra="feature_server:\n  api_keys: [yaml-key-1]\n")
    body = {"features": [CONV], "entities": {"driver_id": [1001]}}
    with serving(repo, env={"LADLE_API_KEY": "env-key-1,env-key-2"}) as server:
        assert server.http.get("/health").status_code == 200  # open
        message = error_of(server.post("/get-online-features", body), 401, "Unauthorized")
        assert "no API key" in message
        error_of(
            server.post("/get-online-features", body, headers={"Authorization": "Bearer wrong"}), 401, "Unauthorized"
        )
        error_of(server.post("/get-online-features", body, headers={"X-API-Key": "env-key"}), 401, "Unauthorized")
        error_of(server.http.get("/metrics"), 401, "Unauthorized")
        error_of(server.http.get("/openapi.json"), 401, "Unauthorized")
        for headers in (
            {"Authorization": "Bearer env-key-1"},
            {"X-API-Key": "env-key-2"},
            {"authorization": "bearer yaml-key-1"},
        ):
            response = server.post("/get-online-features", body, headers=headers)
            assert response.status_code == 200, (headers, response.text)
            assert result(response.json())["conv_rate"]["statuses"] == ["PRESENT"]
        assert server.http.get("/metrics", headers={"X-API-Key": "yaml-key-1"}).status_code == 200
        spec = server.http.get("/openapi.json", headers={"X-API-Key": "yaml-key-1"}).json()
        assert set(spec["components"]["securitySchemes"]) == {"bearer", "apiKey"}
        with FeatureClient(server.url, api_key="env-key-2") as client:
            assert client.get_online_features([CONV], [{"driver_id": 1001}]).statuses["conv_rate"] == ["PRESENT"]
        with FeatureClient(server.url) as client, pytest.raises(Exception, match="401 Unauthorized"):
            client.get_online_features([CONV], [{"driver_id": 1001}])
    assert "env-key-1" not in server.log() and "yaml-key-1" not in server.log()


# --- the client ---------------------------------------------------------------------------------------
def test_client_errors_keep_their_classes(server: Server) -> None:
    with FeatureClient(server.url) as client:
        with pytest.raises(NotFound, match="feature view 'nope'"):
            client.get_online_features(["nope:x"], [{"driver_id": 1}])
        with pytest.raises(FeatureNotFound):
            client.get_online_features(["driver_hourly_stats:nope"], [{"driver_id": 1}])
        with pytest.raises(InvalidRequest, match="wrong type"):
            client.get_online_features([CONV], {"driver_id": ["x"]})
        now = datetime.now(UTC)
        rows = client.write_to_online_store(
            "driver_hourly_stats",
            {
                "driver_id": [1003],
                "event_timestamp": [now],
                "conv_rate": [0.0625],
                "acc_rate": [0.5],
                "avg_daily_trips": [3],
            },
        )
        assert rows == 1
        assert client.get_online_features([CONV], [{"driver_id": 1003}]).to_dict()["conv_rate"] == [0.0625]
        assert client.health()["status"] == "ok"
    with FeatureClient(f"http://127.0.0.1:{free_port()}", timeout=2) as nowhere, pytest.raises(BackendUnavailable):
        nowhere.get_online_features([CONV], [{"driver_id": 1}])


# --- registry changes ---------------------------------------------------------------------------------
NEW_SERVICE = """

late_service = FeatureService(name="late_service", features=[driver_stats_fv[["acc_rate"]]])
"""


def test_registry_change_is_served_without_restart(tmp_path: Path) -> None:
    repo = demo_repo(tmp_path)
    body = {"feature_service": "late_service", "entities": {"driver_id": [1001]}}
    with serving(repo, "--registry-ttl-sec", "0.3") as server:
        pid = server.proc.pid
        error_of(server.post("/get-online-features", body), 404, "NotFound")
        version = server.http.get("/health").json()["registry"]["version"]
        with (repo / "example_repo.py").open("a") as f:
            f.write(NEW_SERVICE)
        applied = ladle("apply", cwd=repo)
        assert applied.returncode == 0, applied.stderr
        response = eventually(lambda: (r := server.post("/get-online-features", body)).status_code == 200 and r)
        assert result(response.json())["acc_rate"]["statuses"] == ["PRESENT"]
        assert server.http.get("/health").json()["registry"]["version"] == version + 1
        # a registry that cannot be read: the old one keeps being served, /health says so
        registry = repo / "data/registry.db"
        good = registry.read_bytes()
        registry.write_text("{ not json")
        health = eventually(lambda: (h := server.http.get("/health")).json()["status"] == "degraded" and h)
        assert health.status_code == 200
        assert health.json()["registry"]["ok"] is False and health.json()["registry"]["error"]
        assert server.post("/get-online-features", body).status_code == 200
        registry.write_bytes(good)
        eventually(lambda: server.http.get("/health").json()["status"] == "ok")
        assert server.proc.pid == pid and server.proc.poll() is None
        metrics = server.http.get("/metrics").text
        assert 'ladle_server_registry_refreshes_total{outcome="error"}' in metrics


def test_no_registry_yet_is_503_until_one_appears(tmp_path: Path) -> None:
    repo = demo_repo(tmp_path)
    registry = repo / "data/registry.db"
    saved = registry.read_bytes()
    registry.write_text("{ not json")
    with serving(repo, "--registry-ttl-sec", "0.3", ready=503) as server:
        health = server.http.get("/health").json()
        assert health["status"] == "unavailable" and health["registry"]["loaded"] is False
        error_of(
            server.post("/get-online-features", {"features": [CONV], "entities": {"driver_id": [1001]}}),
            503,
            "RegistryUnavailable",
        )
        registry.write_bytes(saved)
        server.wait_ready(200)
        response = server.post("/get-online-features", {"features": [CONV], "entities": {"driver_id": [1001]}})
        assert response.status_code == 200


# --- several workers, graceful shutdown ---------------------------------------------------------------
def test_two_workers_share_metrics(tmp_path: Path) -> None:
    repo = demo_repo(tmp_path)
    with serving(repo, "--workers", "2") as server:
        for _ in range(20):
            response = server.post("/get-online-features", {"features": [CONV], "entities": {"driver_id": [1001]}})
            assert response.status_code == 200
        text = server.http.get("/metrics").text
        line = next(
            x
            for x in text.splitlines()
            if x.startswith('ladle_server_requests_total{method="POST",route="/get-online-features",status="200"}')
        )
        assert float(line.rpartition(" ")[2]) == 20  # summed over both workers
    assert server.proc.returncode == 0


def test_graceful_shutdown_finishes_requests_in_flight(tmp_path: Path) -> None:
    repo = demo_repo(tmp_path)
    body = b'{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001]}}'
    with serving(repo) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            head = (
                f"POST /get-online-features HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            sock.sendall(head + body[:20])  # the request is in flight
            time.sleep(0.3)
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert server.proc.poll() is None  # still finishing the request
            sock.sendall(body[20:])
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}]}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert b'"PRESENT"' in answer
        # uvicorn re-raises the signal once it has shut down, so the exit status says "terminated"
        assert server.proc.wait(15) in (0, -signal.SIGTERM)
    assert "Finished server process" in server.log()


# --- Redis --------------------------------------------------------------------------------------------
@pytest.mark.services
def test_redis_backed_server(tmp_path: Path) -> None:
    client = redis_ping()
    name = f"srv_{uuid.uuid4().hex[:8]}"
    online = f"online_store:\n  type: redis\n  connection_string: {REDIS_URL}\n"
    try:
        repo = demo_repo(tmp_path, name=name, online=online)
        with serving(repo) as server:
            health = server.http.get("/health").json()
            assert health["online_store"]["type"] == "redis" and health["online_store"]["ok"] is True
            columns = result(
                server.post(
                    "/get-online-features", {"features": [CONV, TRIPS], "entities": {"driver_id": [1001, 5]}}
                ).json()
            )
            assert columns["conv_rate"]["values"][0] == pytest.approx(latest(repo, 1001)["conv_rate"], rel=1e-6)
            assert columns["avg_daily_trips"]["statuses"] == ["PRESENT", "NOT_FOUND"]
            now = datetime.now(UTC).isoformat()
            df = {
                "driver_id": [1004],
                "event_timestamp": [now],
                "created": [now],
                "conv_rate": [0.375],
                "acc_rate": [0.5],
                "avg_daily_trips": [8],
            }
            assert server.post("/push", {"push_source_name": "driver_stats_push_source", "df": df}).status_code == 200
            read = result(
                server.post(
                    "/get-online-features", {"features": [FRESH_CONV], "entities": {"driver_id": [1004]}}
                ).json()
            )
            assert read["conv_rate"]["values"] == [0.375]
    finally:
        for key in client.scan_iter(match=f"ladle:{name}:*"):
            client.delete(key)
        client.close()


@pytest.mark.services
def test_redis_outage_is_503_and_recovers(tmp_path: Path) -> None:
    binary = program("redis-server", "Redis", "apt-get install redis-server")
    redis_port = free_port()
    args = [binary, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

    def start_redis() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        eventually(lambda: socket.socket().connect_ex(("127.0.0.1", redis_port)) == 0, timeout=10)
        return proc

    redis_proc = start_redis()
    try:
        online = f"online_store:\n  type: redis\n  connection_string: 127.0.0.1:{redis_port}\n"
        repo = demo_repo(tmp_path, online=online)
        body = {"features": [CONV], "entities": {"driver_id": [1001]}}
        with serving(repo) as server:
            assert server.post("/get-online-features", body).status_code == 200
            redis_proc.terminate()
            redis_proc.wait(10)
            message = error_of(server.post("/get-online-features", body), 503, "BackendUnavailable")
            assert "redis" in message.lower()
            health = server.http.get("/health")
            assert health.status_code == 503 and health.json()["online_store"]["ok"] is False
            redis_proc = start_redis()  # empty: keys are gone, but the store answers again
            response = eventually(lambda: (r := server.post("/get-online-features", body)).status_code == 200 and r)
            assert result(response.json())["conv_rate"]["statuses"] == ["NOT_FOUND"]
    finally:
        redis_proc.terminate()
        redis_proc.wait(10)


# --- the OpenAPI document under a fuzzer --------------------------------------------------------------
FUZZ_CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection"


def test_openapi_fuzzing_finds_no_server_error(tmp_path: Path) -> None:
    """Schemathesis generates requests (valid and invalid) from the server's own /openapi.json: no 5xx,
    every answer has a documented status, content type and schema, invalid bodies are refused."""
    pytest.importorskip("schemathesis")
    st = LADLE.parent / "st"
    assert st.exists(), f"schemathesis' st command is not installed next to {LADLE}"
    repo = demo_repo(tmp_path)  # a server of its own: the fuzzer writes and materializes
    with serving(repo) as server:
        done = subprocess.run(
            [
                str(st),
                "run",
                f"{server.url}/openapi.json",
                "--checks",
                FUZZ_CHECKS,
                "--max-examples",
                "30",
                "--workers",
                "1",
                "--generation-database",
                "none",
                "--seed",
                "20261123",
                "--no-color",
                "--request-timeout",
                "30",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
        assert "Traceback" not in server.log(), server.log()
    summary = done.stdout[done.stdout.rfind("Test cases:") :]
    generated = int(summary.split()[2])
    assert generated >= 200, summary
