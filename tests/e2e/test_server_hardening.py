"""``ladle serve`` against careless and hostile clients: values that do not fit, huge batches, cross-site
requests from a browser, scoped keys. Each test is a user's (or an attacker's) request over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from server_helpers import Server, demo_repo, serving

CONV = "driver_hourly_stats:conv_rate"
PUSH_SOURCE = "driver_stats_push_source"


def error_of(response: Any, status: int, kind: str) -> str:
    """Assert an error response; return its message."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    body = response.json()
    assert set(body) == {"error"} and body["error"]["type"] == kind, body
    return str(body["error"]["message"])


def _row(driver: int, when: datetime, trips: Any = 1) -> dict[str, list[Any]]:
    return {
        "driver_id": [driver],
        "event_timestamp": [when.isoformat()],
        "created": [when.isoformat()],
        "conv_rate": [0.5],
        "acc_rate": [0.5],
        "avg_daily_trips": [trips],
    }


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo repo with a small entity cap."""
    return demo_repo(
        tmp_path_factory.mktemp("hardening"), yaml_extra="feature_server:\n  max_entities_per_request: 100\n"
    )


@pytest.fixture(scope="module")
def server(repo: Path) -> Iterator[Server]:
    """``ladle serve`` over the demo repo, open (no API key)."""
    with serving(repo) as running:
        yield running


# --- item 10: values and methods the server refused or crashed on -------------------------------------
@pytest.mark.parametrize("path", ["/push", "/write-to-online-store"])
def test_an_integer_beyond_int64_is_a_422_naming_the_column(server: Server, path: str) -> None:
    now = datetime.now(UTC)
    target = {"push_source_name": PUSH_SOURCE} if path == "/push" else {"feature_view_name": "driver_hourly_stats"}
    response = server.post(path, {**target, "df": _row(1001, now, trips=2**70)})
    message = error_of(response, 422, "RequestValidationError")
    assert "avg_daily_trips" in message and "64-bit" in message
    # the connection stays usable: the next request on it is answered
    assert server.http.get("/health").status_code == 200


def test_head_health_is_200(server: Server) -> None:
    response = server.http.head("/health")
    assert response.status_code == 200 and response.content == b""


def test_materialize_accepts_date_only_timestamps(server: Server) -> None:
    """A date alone is midnight UTC (ends in the future are refused: see test_online_flow)."""
    today = datetime.now(UTC).date()
    body = {
        "start_ts": (today - timedelta(days=3)).isoformat(),
        "end_ts": today.isoformat(),
        "feature_views": ["driver_hourly_stats_fresh"],
    }
    response = server.post("/materialize", body)
    assert response.status_code == 200, response.text
    view = response.json()["feature_views"][0]
    assert datetime.fromisoformat(view["start_ts"]) == datetime.combine(
        today - timedelta(days=3), datetime.min.time(), UTC
    )
    assert datetime.fromisoformat(view["end_ts"]) == datetime.combine(today, datetime.min.time(), UTC)
    error_of(server.post("/materialize", {**body, "end_ts": "2024-13-01"}), 422, "RequestValidationError")
    # any ISO 8601 spelling ("Z" included); an end before the last run's is refused, so this one is now
    # (microseconds kept: an earlier test's run may have ended within this same second)
    incremental = server.post(
        "/materialize-incremental", {"end_ts": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
    )
    assert incremental.status_code == 200, incremental.text


# --- item 8: bounded work per request -----------------------------------------------------------------
def test_entity_rows_are_capped_with_a_413_naming_the_limit(server: Server) -> None:
    ok = server.post("/get-online-features", {"features": [CONV], "entities": {"driver_id": list(range(100))}})
    assert ok.status_code == 200, ok.text
    message = error_of(
        server.post("/get-online-features", {"features": [CONV], "entities": {"driver_id": list(range(101))}}),
        413,
        "TooManyRows",
    )
    assert "101 entity rows" in message and "at most 100" in message and "max_entities_per_request" in message
    now = datetime.now(UTC)
    rows = {k: v * 101 for k, v in _row(1001, now).items()}
    error_of(server.post("/push", {"push_source_name": PUSH_SOURCE, "df": rows}), 413, "TooManyRows")
    error_of(
        server.post("/write-to-online-store", {"feature_view_name": "driver_hourly_stats", "df": rows}),
        413,
        "TooManyRows",
    )


@pytest.mark.parametrize(
    "body",
    [
        {"features": ["v" * 1_000_000 + ":conv_rate"], "entities": {"driver_id": [1]}},
        {"features": [CONV], "entities": {"k" * 1_000_000: [1]}},
        {"features": [CONV], "entities": {"driver_id": ["x" * 1_000_000]}},
        {"push_source_name": "p" * 1_000_000, "df": {"driver_id": [1]}},
    ],
)
def test_errors_do_not_echo_unbounded_input(server: Server, body: dict[str, Any]) -> None:
    path = "/push" if "push_source_name" in body else "/get-online-features"
    response = server.post(path, body)
    assert 400 <= response.status_code < 500, response.text[:300]
    assert len(response.content) < 2_000, len(response.content)
    assert response.json()["error"]["message"]


# --- item 12: a web page the developer visits must not reach the local server -------------------------
def _fresh(server: Server, driver: int) -> Any:
    body = {"features": ["driver_hourly_stats_fresh:conv_rate"], "entities": {"driver_id": [driver]}}
    return server.post("/get-online-features", body).json()["results"][1]["values"][0]


def test_a_form_post_from_a_page_is_refused(server: Server) -> None:
    import orjson

    now = datetime.now(UTC)
    body = orjson.dumps({"push_source_name": PUSH_SOURCE, "df": {**_row(1003, now), "conv_rate": [0.999]}})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        message = error_of(
            server.post("/push", content=body, headers={"content-type": content_type}), 415, "UnsupportedMediaType"
        )
        assert "application/json" in message
    assert _fresh(server, 1003) != 0.999  # nothing was written
    sent = server.post("/push", content=body, headers={"content-type": "application/json; charset=utf-8"})
    assert sent.status_code == 200, sent.text


def test_foreign_host_names_are_refused(server: Server) -> None:
    """DNS rebinding: the page's own name resolves to 127.0.0.1, so the browser sends that name as Host."""
    message = error_of(server.http.get("/metrics", headers={"host": "attacker.example:6566"}), 400, "InvalidHost")
    assert "feature_server.allowed_hosts" in message
    body = {"features": [CONV], "entities": {"driver_id": [1001]}}
    error_of(server.post("/get-online-features", body, headers={"host": "attacker.example"}), 400, "InvalidHost")
    for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}", "[::1]"):
        assert server.post("/get-online-features", body, headers={"host": host}).status_code == 200, host
    assert server.http.get("/health", headers={"host": "10.1.2.3:6566"}).status_code == 200  # probes by IP


def test_cross_origin_requests_are_refused_and_no_cors_by_default(server: Server) -> None:
    body = {"features": [CONV], "entities": {"driver_id": [1001]}}
    message = error_of(
        server.post("/get-online-features", body, headers={"origin": "https://attacker.example"}),
        403,
        "CrossOriginRefused",
    )
    assert "feature_server.cors_origins" in message
    same = server.post("/get-online-features", body, headers={"origin": server.url})  # e.g. /docs
    assert same.status_code == 200 and "access-control-allow-origin" not in same.headers
    preflight = server.http.options(
        "/push", headers={"origin": "https://attacker.example", "access-control-request-method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize("path", ["/push", "/write-to-online-store"])
def test_far_future_event_times_are_refused(server: Server, path: str) -> None:
    target = {"push_source_name": PUSH_SOURCE} if path == "/push" else {"feature_view_name": "driver_hourly_stats"}
    future = datetime(2999, 1, 1, tzinfo=UTC)
    message = error_of(server.post(path, {**target, "df": _row(1004, future)}), 400, "InvalidRequest")
    assert "event_timestamp" in message and "max_future_event_sec" in message
    soon = datetime.now(UTC) + timedelta(seconds=60)  # within the allowed skew (300 s)
    assert server.post(path, {**target, "df": _row(1004, soon)}).status_code == 200


def test_configured_hosts_and_cors_origins(tmp_path: Path) -> None:
    yaml = (
        "feature_server:\n  allowed_hosts: [features.internal]\n"
        "  cors_origins: ['https://dashboard.internal']\n  max_future_event_sec: null\n"
    )
    repo = demo_repo(tmp_path, yaml_extra=yaml)
    body = {"features": [CONV], "entities": {"driver_id": [1001]}}
    with serving(repo) as server:
        assert server.post("/get-online-features", body, headers={"host": "features.internal:6566"}).status_code == 200
        error_of(server.post("/get-online-features", body), 400, "InvalidHost")  # 127.0.0.1 is not listed now
        headers = {"host": "features.internal", "origin": "https://dashboard.internal"}
        preflight = server.http.options(
            "/get-online-features",
            headers={
                **headers,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://dashboard.internal"
        answer = server.post("/get-online-features", body, headers=headers)
        assert (
            answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "https://dashboard.internal"
        )
        far = {"push_source_name": PUSH_SOURCE, "df": _row(1005, datetime(2999, 1, 1, tzinfo=UTC))}
        assert server.post("/push", far, headers={"host": "features.internal"}).status_code == 200  # no limit


# --- item 13: read, write and admin keys ----------------------------------------------------------------
def test_scoped_keys_from_yaml_file_and_environment(tmp_path: Path) -> None:
    keys = tmp_path / "server-keys"
    keys.write_text("read reader-key\nwrite writer-key demo\nadmin other-project-key elsewhere\n")
    yaml = "feature_server:\n  api_keys:\n    - yaml-admin-key\n    - {key: yaml-reader-key, scope: read}\n"
    repo = demo_repo(tmp_path, yaml_extra=yaml)
    now = datetime.now(UTC)
    calls = {
        "read": ("/get-online-features", {"features": [CONV], "entities": {"driver_id": [1001]}}),
        "write": ("/push", {"push_source_name": PUSH_SOURCE, "df": _row(1001, now)}),
        "admin": ("/materialize-incremental", {"end_ts": now.isoformat(), "feature_views": ["driver_hourly_stats"]}),
    }
    with serving(repo, "--api-key-file", str(keys), env={"LADLE_API_KEY": "env-admin-key"}) as server:

        def status(key: str, call: str) -> int:
            path, body = calls[call]
            return server.post(path, body, headers={"Authorization": f"Bearer {key}"}).status_code

        grid = {
            (key, call): status(key, call)
            for key in ("reader-key", "yaml-reader-key", "writer-key", "yaml-admin-key", "env-admin-key")
            for call in calls
        }
        assert grid == {
            ("reader-key", "read"): 200,
            ("reader-key", "write"): 403,
            ("reader-key", "admin"): 403,
            ("yaml-reader-key", "read"): 200,
            ("yaml-reader-key", "write"): 403,
            ("yaml-reader-key", "admin"): 403,
            ("writer-key", "read"): 200,
            ("writer-key", "write"): 200,
            ("writer-key", "admin"): 403,
            ("yaml-admin-key", "read"): 200,
            ("yaml-admin-key", "write"): 200,
            ("yaml-admin-key", "admin"): 200,
            ("env-admin-key", "read"): 200,
            ("env-admin-key", "write"): 200,
            ("env-admin-key", "admin"): 200,
        }
        path, body = calls["admin"]
        message = error_of(server.post(path, body, headers={"X-API-Key": "writer-key"}), 403, "Forbidden")
        assert "scope 'write'" in message and "needs scope 'admin'" in message
        # a key of another project's server is not valid here
        error_of(server.post(*calls["read"], headers={"X-API-Key": "other-project-key"}), 401, "Unauthorized")
        metrics = server.http.get("/metrics", headers={"X-API-Key": "reader-key"})
        assert metrics.status_code == 200
    assert "reader-key" not in server.log() and "writer-key" not in server.log()
