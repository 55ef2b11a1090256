"""The feature server's parts, one at a time and in-process: error mapping, API keys, the body limit, the
response encoding, the registry refresher, settings."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from ladle.config import parse_repo_config
from ladle.errors import (
    BackendFailure,
    BackendUnavailable,
    FeatureNotFound,
    InvalidConfig,
    InvalidRequest,
    NotFound,
    RegistryConflict,
)
from ladle.retrieval.online_read import OnlineResponse
from ladle.server.auth import ApiKey, ApiKeyMiddleware, key_matches, needed_scope, parse_keys, read_key_file
from ladle.server.breaker import CircuitBreaker, CircuitOpen
from ladle.server.errors import (
    PayloadTooLarge,
    RegistryUnavailable,
    TooManyRows,
    bounded,
    describe_error,
    status_of,
)
from ladle.server.limits import BodyLimitMiddleware
from ladle.server.online_json import EPOCH, encode_online_response
from ladle.server.refresh import RegistryRefresher
from ladle.server.schemas import GetOnlineFeaturesRequest, component_schemas
from ladle.server.settings import ENV_VAR, ServerSettings
from ladle.server.state import ServerState


# --- errors -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidRequest("bad"), 400),
        (NotFound("feature view", "x", "p"), 404),
        (FeatureNotFound("v", "f", "p", ["a"]), 404),
        (RegistryConflict("raced"), 409),
        (PayloadTooLarge(10), 413),
        (BackendFailure("redis", "no"), 502),
        (BackendUnavailable("redis", "down"), 503),
        (RegistryUnavailable("registry", "not yet"), 503),
        (InvalidConfig("f.yaml", "bad"), 500),  # the server's own configuration, not the request
        (RuntimeError("bug"), 500),
    ],
)
def test_each_error_class_has_one_status(error: BaseException, status: int) -> None:
    assert status_of(error) == status
    assert describe_error(error)[0] == status


def test_validation_errors_are_400_for_bad_json_and_422_for_the_wrong_shape() -> None:
    with pytest.raises(ValidationError) as bad_json:
        GetOnlineFeaturesRequest.model_validate_json(b"{nope")
    assert describe_error(bad_json.value)[:2] == (400, "InvalidJSON")
    with pytest.raises(ValidationError) as wrong:
        GetOnlineFeaturesRequest.model_validate_json(b'{"features": "x:y", "entities": {}}')
    status, kind, message = describe_error(wrong.value)
    assert (status, kind) == (422, "RequestValidationError") and message.startswith("features")
    assert describe_error(HTTPException(405))[:2] == (405, "MethodNotAllowed")
    assert describe_error(RuntimeError("boom"))[1] == "InternalError"


def test_every_body_model_is_in_the_openapi_components() -> None:
    schemas = component_schemas()
    for name in (
        "GetOnlineFeaturesRequest",
        "PushRequest",
        "WriteToOnlineStoreRequest",
        "MaterializeRequest",
        "MaterializeIncrementalRequest",
        "OnlineFeaturesResponse",
        "ErrorBody",
    ):
        assert name in schemas
    assert "$defs" not in orjson.dumps(schemas).decode()
    features = schemas["GetOnlineFeaturesRequest"]["properties"]["features"]["anyOf"][0]
    assert features["items"]["pattern"] == "^[^:]+:[^:]+$"


# --- ASGI helpers -------------------------------------------------------------------------------------
async def _ok_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"%d" % len(body)})


def _call(
    app: Any,
    path: str = "/x",
    headers: list[tuple[bytes, bytes]] | None = None,
    chunks: list[bytes] | None = None,
    method: str = "POST",
) -> tuple[int, bytes, dict[str, Any]]:
    scope: dict[str, Any] = {"type": "http", "path": path, "method": method, "headers": headers or []}
    pending = list(chunks or [b""])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        body = pending.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), scope


# --- API keys -----------------------------------------------------------------------------------------
def test_keys_come_from_every_source_once() -> None:
    assert parse_keys("a, b,,", ["b", "c"], None, " ") == ("a", "b", "c")
    assert key_matches(b"b", (b"a", b"b")) and not key_matches(b"", (b"a",)) and not key_matches(b"a", ())


def test_api_key_middleware() -> None:
    app = ApiKeyMiddleware(_ok_app, (ApiKey("s3cret"),))
    status, body, scope = _call(app)
    assert status == 401 and orjson.loads(body)["error"]["type"] == "Unauthorized"
    assert scope["ladle"]["error_type"] == "Unauthorized"
    assert _call(app, headers=[(b"authorization", b"Bearer s3cret")])[0] == 200
    assert _call(app, headers=[(b"x-api-key", b"s3cret")])[0] == 200
    assert _call(app, headers=[(b"authorization", b"Basic s3cret")])[0] == 401
    assert _call(app, headers=[(b"x-api-key", b"s3cre")])[0] == 401
    assert _call(app, path="/health")[0] == 200


def test_scoped_keys_allow_their_scope_and_below() -> None:
    keys = (ApiKey("r", "read"), ApiKey("w", "write"), ApiKey("a", "admin"))
    app = ApiKeyMiddleware(_ok_app, keys)
    allowed = {
        (path, key): _call(app, path=path, headers=[(b"x-api-key", key.encode())])[0]
        for path in ("/get-online-features", "/push", "/write-to-online-store", "/materialize")
        for key in "rwa"
    }
    assert allowed == {
        ("/get-online-features", "r"): 200,
        ("/get-online-features", "w"): 200,
        ("/get-online-features", "a"): 200,
        ("/push", "r"): 403,
        ("/push", "w"): 200,
        ("/push", "a"): 200,
        ("/write-to-online-store", "r"): 403,
        ("/write-to-online-store", "w"): 200,
        ("/write-to-online-store", "a"): 200,
        ("/materialize", "r"): 403,
        ("/materialize", "w"): 403,
        ("/materialize", "a"): 200,
    }
    status, body, scope = _call(app, path="/push", headers=[(b"x-api-key", b"r")])
    error = orjson.loads(body)["error"]
    assert status == 403 and error["type"] == "Forbidden" and scope["ladle"]["error_type"] == "Forbidden"
    assert "scope 'read'" in error["message"] and "needs scope 'write'" in error["message"]
    assert needed_scope("GET", "/metrics") == "read" and needed_scope("POST", "/materialize-incremental") == "admin"


def test_key_files_and_projects(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(
        "# keys of the feature servers\n\nread  r-key demo,other\nwrite w-key\nplain-key\nadmin a-key other\n"
    )
    entries = read_key_file(path)
    assert [(e.key, e.scope, e.projects) for e in entries] == [
        ("r-key", "read", ["demo", "other"]),
        ("w-key", "write", None),
        ("plain-key", "admin", None),
        ("a-key", "admin", ["other"]),
    ]
    config = parse_repo_config(
        {
            "project": "demo",
            "feature_server": {
                "api_keys": ["yaml-admin", {"key": "yaml-read", "scope": "read"}, {"key": "x", "projects": ["other"]}],
                "api_keys_file": "keys",
            },
        },
        tmp_path,
    )
    resolved = ServerSettings(repo_path=str(tmp_path), api_keys=("cli-admin",)).resolve(config)
    assert resolved.api_keys == (
        ApiKey("cli-admin"),
        ApiKey("yaml-admin"),
        ApiKey("yaml-read", "read"),
        ApiKey("r-key", "read"),
        ApiKey("w-key", "write"),
        ApiKey("plain-key"),
    )
    path.write_text("read a b c\n")
    with pytest.raises(InvalidConfig, match="line 1 has 4 words"):
        read_key_file(path)
    with pytest.raises(InvalidConfig, match="cannot be read"):
        read_key_file(tmp_path / "missing")
    with pytest.raises(InvalidConfig, match="scope"):
        parse_repo_config({"project": "p", "feature_server": {"api_keys": [{"key": "k", "scope": "root"}]}}, tmp_path)


# --- body limit ---------------------------------------------------------------------------------------
def test_body_limit_by_content_length_and_while_reading() -> None:
    app = BodyLimitMiddleware(_ok_app, limit=10)
    assert _call(app, headers=[(b"content-length", b"10")], chunks=[b"0123456789"])[:2] == (200, b"10")
    status, body, _ = _call(app, headers=[(b"content-length", b"11")], chunks=[b"0123456789a"])
    assert status == 413 and orjson.loads(body)["error"]["type"] == "PayloadTooLarge"
    assert _call(app, chunks=[b"01234", b"56789"])[:2] == (200, b"10")
    with pytest.raises(PayloadTooLarge):  # the route's error handler turns it into 413
        _call(app, chunks=[b"012345", b"6789ab"])


# --- the response encoding ----------------------------------------------------------------------------
def test_online_response_as_feast_json() -> None:
    ts = pa.array([datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC), None], pa.timestamp("us", tz="UTC"))
    response = OnlineResponse(
        {"driver_id": pa.array([1, 2])},
        {
            "rate": pa.array([0.5, None], pa.float32()),
            "blob": pa.array([b"\x00\x01", None]),
            "score": pa.array([float("nan"), None]),
        },
        {"rate": np.array([1, 3], np.int8), "blob": np.array([1, 3], np.int8), "score": np.array([1, 3], np.int8)},
        {"rate": ts, "blob": ts, "score": pa.nulls(2, pa.timestamp("us", tz="UTC"))},
    )
    document = orjson.loads(encode_online_response(response))
    assert document["metadata"] == {"feature_names": ["driver_id", "rate", "blob", "score"]}
    entity, rate, blob, score = document["results"]
    assert entity == {"values": [1, 2], "statuses": ["PRESENT", "PRESENT"], "event_timestamps": [EPOCH, EPOCH]}
    assert rate == {
        "values": [0.5, None],
        "statuses": ["PRESENT", "NOT_FOUND"],
        "event_timestamps": ["2024-05-01T12:00:00.250000Z", EPOCH],
    }
    assert blob["values"] == ["AAE=", None]  # bytes as base64, as protobuf JSON does
    assert score["values"] == [None, None] and score["event_timestamps"] == [EPOCH, EPOCH]


def test_statuses_and_timestamps_of_large_batches() -> None:
    n = 1000
    ts = pa.array(np.full(n, 1_700_000_000_000_000), pa.timestamp("us", tz="UTC"))
    codes = np.tile(np.array([1, 2, 3, 4], np.int8), n // 4)
    response = OnlineResponse(
        {"k": pa.array(range(n))},
        {"a": pa.array(range(n)), "b": pa.array(range(n))},
        {"a": codes, "b": codes},
        {"a": ts, "b": ts},
    )
    assert response.statuses["a"][:4] == ["PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE"]
    stamps = response.event_timestamps
    assert stamps["a"] == stamps["b"] and stamps["a"] is not stamps["b"]


# --- the registry refresher ---------------------------------------------------------------------------
def test_refresher_keeps_the_last_good_registry() -> None:
    outcomes: list[bool] = []
    failing = {"now": True}
    version = {"v": 1}

    def reload() -> None:
        if failing["now"]:
            raise OSError("registry unreachable")

    refresher = RegistryRefresher(reload, lambda: version["v"], interval=0.05, on_result=outcomes.append)
    refresher.start()
    try:
        assert refresher.loaded is False and refresher.status()["error"] == "OSError: registry unreachable"
        failing["now"] = False
        deadline = time.monotonic() + 5
        while not refresher.loaded and time.monotonic() < deadline:  # retried every second until loaded
            time.sleep(0.02)
        assert refresher.loaded and refresher.status()["ok"] and refresher.status()["version"] == 1
        failing["now"] = True
        deadline = time.monotonic() + 5
        while refresher.status()["ok"] and time.monotonic() < deadline:
            time.sleep(0.02)
        status = refresher.status()
        assert status["loaded"] is True and status["ok"] is False and "unreachable" in status["error"]
    finally:
        refresher.stop()
    assert outcomes[0] is False and True in outcomes
    assert not any(t.name == "ladle-registry-refresh" and t.is_alive() for t in threading.enumerate())


def test_a_ttl_of_zero_reads_once() -> None:
    reads: list[int] = []
    refresher = RegistryRefresher(lambda: reads.append(1), lambda: 1, interval=0)
    refresher.start()
    time.sleep(0.2)
    refresher.stop()
    assert reads == [1]


# --- settings -----------------------------------------------------------------------------------------
def test_settings_travel_through_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = ServerSettings(repo_path=str(tmp_path), api_keys=("k1",), registry_ttl_sec=2.5)
    monkeypatch.setenv(ENV_VAR, settings.to_env())
    assert ServerSettings.from_env() == settings
    config = parse_repo_config(
        {"project": "p", "feature_server": {"api_keys": ["k2"], "registry_ttl_sec": 9, "max_body_bytes": 100}}, tmp_path
    )
    resolved = settings.resolve(config)
    assert resolved.api_keys == (ApiKey("k1"), ApiKey("k2"))
    assert resolved.registry_ttl_sec == 2.5  # the command line wins
    assert resolved.max_body_bytes == 100


# --- where request work runs, the breaker --------------------------------------------------------------
def _down() -> BackendUnavailable:
    return BackendUnavailable("redis online store", "cannot reach Redis")


def test_the_breaker_opens_after_failures_in_a_row_and_one_probe_closes_it() -> None:
    now = {"t": 0.0}
    breaker = CircuitBreaker(failures=3, open_for=2.0, clock=lambda: now["t"])
    for error in (_down(), _down(), None, _down(), _down()):  # a success resets the count
        breaker.record(error, breaker.admit())
    assert breaker.state == "closed"
    breaker.record(InvalidRequest("bad key"), breaker.admit())  # a caller's mistake says nothing
    breaker.record(BackendUnavailable("postgres offline store", "down"), breaker.admit())  # nor the offline store
    assert breaker.state == "closed"
    breaker.record(_down(), breaker.admit())
    assert breaker.state == "open" and breaker.status()["times_opened"] == 1
    with pytest.raises(CircuitOpen, match="failed 3 times in a row"):
        breaker.admit()
    now["t"] = 2.0
    assert breaker.state == "half_open"
    assert breaker.admit() is True  # the probe
    with pytest.raises(CircuitOpen):
        breaker.admit()  # only one probe at a time
    breaker.record(_down(), True)
    assert breaker.state == "open"  # the probe failed: open again, for another 2 s
    now["t"] = 3.0
    with pytest.raises(CircuitOpen, match=r"next probe in 1\.0 s"):
        breaker.admit()
    now["t"] = 4.0
    breaker.record(None, breaker.admit())
    assert breaker.state == "closed" and breaker.status()["failures_in_a_row"] == 0
    assert status_of(CircuitOpen("online store", "open")) == 503


def test_store_calls_run_off_the_loop_within_their_deadline() -> None:
    state = ServerState(
        store=None,
        refresher=None,
        metrics=None,  # type: ignore[arg-type]
        breaker=CircuitBreaker(failures=2, open_for=60),
    )
    release = threading.Event()

    def stalled() -> str:
        release.wait(5)
        return "late"

    async def scenario() -> None:
        loop_thread = threading.get_ident()
        assert await state.online(threading.get_ident) != loop_thread
        assert await state.off_loop(threading.get_ident) != loop_thread
        for _ in range(2):
            started = time.monotonic()
            with pytest.raises(BackendUnavailable, match=r"no answer within 0\.05 s"):
                await state.online(stalled, timeout=0.05)
            assert time.monotonic() - started < 0.5
        started = time.monotonic()
        with pytest.raises(CircuitOpen):  # open: refused without calling the store
            await state.online(stalled, timeout=0.05)
        assert time.monotonic() - started < 0.01

    try:
        asyncio.run(scenario())
    finally:
        release.set()
    assert state.breaker.state == "open"


def test_error_messages_are_bounded() -> None:
    assert bounded("short") == "short"
    long = bounded("a" * 600 + "b" * 10_000 + "c" * 600)
    assert len(long) < 1100 and long.startswith("a" * 500) and long.endswith("c" * 500)
    assert "10200 characters left out" in long
    status, kind, message = describe_error(NotFound("feature view", "v" * 1_000_000, "p"))
    assert (status, kind) == (404, "NotFound") and len(message) <= 1100
    assert status_of(TooManyRows("entity rows", 11, 10)) == 413


def test_uvicorn_workers_import_the_protocol_without_the_app() -> None:
    """A worker process imports ``ladle.server.protocol`` before it answers uvicorn's health check: that import
    must stay light (no FastAPI, no store), or a loaded machine's workers are killed as hung."""
    import subprocess
    import sys

    code = (
        "import sys, ladle.server.protocol\n"
        "heavy = [m for m in ('fastapi', 'ladle.store', 'ladle.server.app', 'duckdb') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == ""
