"""Small online reads skip Arrow (Redis: values decoded straight to Python, statuses computed in place) and,
from asyncio code, run on the event loop. Both must answer exactly what the Arrow path answers: the same
values (NaN, -0.0, infinities, unicode, bytes, nulls), statuses (incl. OUTSIDE_MAX_AGE), timestamps, types.
The Arrow path serves batches over ``SMALL_BATCH_ROWS`` rows, so a small batch is compared with the same
rows padded past that bound.
"""

from __future__ import annotations

import asyncio
import math
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends import REDIS_URL, redis_ping
from ladle.errors import BackendUnavailable
from ladle.retrieval.online_read import SMALL_BATCH_ROWS, PyColumn
from ladle.store import FeatureStore

pytestmark = pytest.mark.services

NOW = datetime.now(UTC).replace(microsecond=0)

REPO = """
from datetime import timedelta

from ladle import Entity, FeatureView, Field, FileSource
from ladle.types import Bool, Bytes, Float32, Float64, Int32, Int64, String, UnixTimestamp

driver = Entity(name="driver", join_keys=["driver_id"])
src = FileSource(name="src", path="data/src.parquet", timestamp_field="ts")
plain = FeatureView(
    name="plain", entities=[driver], ttl=timedelta(hours=1), source=src,
    schema=[Field(name="driver_id", dtype=Int64), Field(name="i32", dtype=Int32), Field(name="i64", dtype=Int64),
            Field(name="f32", dtype=Float32), Field(name="f64", dtype=Float64), Field(name="flag", dtype=Bool),
            Field(name="text", dtype=String), Field(name="raw", dtype=Bytes)],
)
other = FeatureView(
    name="other", entities=[driver], ttl=None, source=src,
    schema=[Field(name="driver_id", dtype=Int64), Field(name="g64", dtype=Float64)],
)
stamped = FeatureView(
    name="stamped", entities=[driver], ttl=None, source=src,
    schema=[Field(name="driver_id", dtype=Int64), Field(name="when", dtype=UnixTimestamp)],
)
"""
PLAIN = ["plain:i32", "plain:i64", "plain:f32", "plain:f64", "plain:flag", "plain:text", "plain:raw", "other:g64"]


def make_repo(tmp_path: Path, online: str) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "features.py").write_text(REPO)
    (tmp_path / "feature_store.yaml").write_text(
        f"project: p_{uuid.uuid4().hex[:8]}\nregistry: data/registry.db\nprovider: local\n"
        f"offline_store:\n  type: duckdb\nonline_store:\n{online}"
    )
    sample = pd.DataFrame(
        {"driver_id": [1], "ts": [pd.Timestamp(NOW)], "i32": [1], "i64": [1], "f32": [1.0], "f64": [1.0],
         "flag": [True], "text": ["a"], "raw": [b"a"], "g64": [1.0], "when": [pd.Timestamp(NOW)]}
    )  # fmt: skip
    sample.astype({"i32": "int32", "f32": "float32"}).to_parquet(tmp_path / "data/src.parquet")
    FeatureStore(repo_path=tmp_path).apply_repo()
    return tmp_path


@pytest.fixture
def redis_store(tmp_path: Path) -> Iterator[FeatureStore]:
    client = redis_ping()
    store = FeatureStore(repo_path=make_repo(tmp_path, f"  type: redis\n  connection_string: {REDIS_URL}\n"))
    yield store
    for key in client.scan_iter(match=f"ladle:{store.project}:*"):
        client.delete(key)
    store.close()
    client.close()


@pytest.fixture(params=["redis", "sqlite"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FeatureStore]:
    """A store on Redis (small batches skip Arrow, and read on the event loop) or SQLite (skip Arrow)."""
    if request.param == "redis":
        yield request.getfixturevalue("redis_store")
        return
    store = FeatureStore(repo_path=make_repo(tmp_path, "  type: sqlite\n  path: data/online.db\n"))
    yield store
    store.close()


floats = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([-0.0, 0.0]))
ROW = st.fixed_dictionaries(
    {
        "i32": st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
        "i64": st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
        "f32": st.one_of(st.none(), st.floats(width=32, allow_nan=True)),
        "f64": floats,
        "flag": st.one_of(st.none(), st.booleans()),
        "text": st.one_of(st.none(), st.text(max_size=8)),
        "raw": st.one_of(st.none(), st.binary(max_size=8)),
        "age_min": st.sampled_from([1, 30, 90]),  # older than the hour of ttl: OUTSIDE_MAX_AGE
    }
)


def write(store: FeatureStore, rows: dict[int, dict[str, Any]]) -> None:
    ids = sorted(rows)
    ts = [NOW - timedelta(minutes=rows[i]["age_min"]) for i in ids]
    plain = pa.table(
        {
            "driver_id": pa.array(ids, pa.int64()),
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            **{
                c: pa.array([rows[i][c] for i in ids], t)
                for c, t in [("i32", pa.int32()), ("i64", pa.int64()), ("f32", pa.float32()), ("f64", pa.float64()),
                             ("flag", pa.bool_()), ("text", pa.string()), ("raw", pa.binary())]
            },
        }
    )  # fmt: skip
    store.write_to_online_store("plain", plain)
    half = [i for i in ids if i % 2]  # the other view has half the keys: NOT_FOUND per view
    other = pa.table({"driver_id": pa.array(half, pa.int64()), "ts": pa.array([NOW] * len(half), pa.timestamp("us", tz="UTC")),
                      "g64": pa.array([rows[i]["f64"] for i in half], pa.float64())})  # fmt: skip
    store.write_to_online_store("other", other)


def same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN and -0.0 told from 0.0."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return type(a) is type(b) and a == b


def assert_same_response(small: Any, big: Any, n: int) -> None:
    """``small`` (n rows) equals the first n rows of ``big``: values, statuses, timestamps and Arrow types."""
    got, want = small.to_dict(), big.to_dict()
    assert list(got) == list(want)
    for name in got:
        assert all(same(a, b) for a, b in zip(got[name], want[name][:n], strict=False)), name
        assert len(got[name]) == n
    assert small.statuses == {k: v[:n] for k, v in big.statuses.items()}
    assert small.event_timestamps == {k: v[:n] for k, v in big.event_timestamps.items()}
    assert small.to_arrow().schema == big.to_arrow().schema


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.dictionaries(st.integers(0, 40), ROW, min_size=1, max_size=12),
    asked=st.lists(st.one_of(st.integers(-1, 45), st.none()), min_size=0, max_size=SMALL_BATCH_ROWS),
)
def test_small_batches_answer_as_the_arrow_path(
    redis_store: FeatureStore, rows: dict[int, Any], asked: list[int]
) -> None:
    write(redis_store, rows)
    small = redis_store.get_online_features(PLAIN, {"driver_id": asked})
    assert all(isinstance(c, PyColumn) for c in small._features.values()) or not asked
    padded = asked + [-1] * (SMALL_BATCH_ROWS + 1 - len(asked))
    big = redis_store.get_online_features(PLAIN, {"driver_id": padded})
    assert_same_response(small, big, len(asked))
    on_loop = asyncio.run(redis_store.get_online_features_async(PLAIN, {"driver_id": asked}))
    assert_same_response(on_loop, big, len(asked))
    frame = small.to_df()  # built through Arrow: the declared types, as the Arrow path's frame
    assert frame["f32"].dtype == big.to_df()["f32"].dtype and len(frame) == len(asked)


def test_statuses_of_a_small_batch(any_store: FeatureStore) -> None:
    redis_store = any_store
    write(redis_store, {1: {"i32": 5, "i64": None, "f32": 1.5, "f64": math.nan, "flag": False, "text": "é",
                            "raw": b"\x00", "age_min": 1},
                        2: {"i32": 7, "i64": 8, "f32": None, "f64": 2.0, "flag": True, "text": None, "raw": None,
                            "age_min": 90}})  # fmt: skip
    response = redis_store.get_online_features(
        ["plain:i32", "plain:i64", "plain:text", "other:g64"], [{"driver_id": d} for d in (1, 2, 3)]
    )
    values = response.to_dict()
    assert values["driver_id"] == [1, 2, 3] and values["i32"] == [5, None, None] and values["i64"] == [None] * 3
    assert values["text"] == ["é", None, None]
    assert math.isnan(values["g64"][0]) and values["g64"][1:] == [None, None]  # "other" holds the odd keys
    assert response.statuses == {
        "driver_id": ["PRESENT"] * 3,
        "i32": ["PRESENT", "OUTSIDE_MAX_AGE", "NOT_FOUND"],
        "i64": ["NULL_VALUE", "OUTSIDE_MAX_AGE", "NOT_FOUND"],
        "text": ["PRESENT", "OUTSIDE_MAX_AGE", "NOT_FOUND"],
        "g64": ["PRESENT", "NOT_FOUND", "NOT_FOUND"],  # NaN is a value, not a null
    }
    stamps = response.event_timestamps
    assert stamps["i32"][:2] == [NOW - timedelta(minutes=1), NOW - timedelta(minutes=90)] and stamps["i32"][2] is None
    assert stamps["g64"] == [NOW, None, None]


def test_types_without_a_python_decoder_take_the_arrow_path(any_store: FeatureStore) -> None:
    redis_store = any_store
    when = NOW - timedelta(days=3)
    redis_store.write_to_online_store(
        "stamped", pd.DataFrame({"driver_id": [4], "ts": [pd.Timestamp(NOW)], "when": [pd.Timestamp(when)]})
    )
    response = redis_store.get_online_features(["stamped:when"], {"driver_id": [4, 5]})
    assert not isinstance(response._features["when"], PyColumn)
    assert response.to_dict()["when"][0] == when and response.statuses["when"] == ["PRESENT", "NOT_FOUND"]
    on_loop = asyncio.run(redis_store.get_online_features_async(["stamped:when"], {"driver_id": [4, 5]}))
    assert on_loop.to_dict() == response.to_dict()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_redis_is_backend_unavailable_on_the_loop(redis_store: FeatureStore, tmp_path: Path) -> None:
    yaml = tmp_path / "feature_store.yaml"  # the applied repo, its online store moved to a port nobody listens on
    yaml.write_text(yaml.read_text().replace(REDIS_URL, f"127.0.0.1:{free_port()}"))
    store = FeatureStore(repo_path=tmp_path)
    with pytest.raises(BackendUnavailable, match=r"cannot reach Redis at 127\.0\.0\.1:\d+ while reading feature view"):
        asyncio.run(store.get_online_features_async(PLAIN, {"driver_id": [1]}))
    store.close()


def test_a_response_hands_out_copies(any_store: FeatureStore) -> None:
    """Changing what ``to_dict`` or ``event_timestamps`` returned does not change the response."""
    write(
        any_store,
        {1: {"i32": 5, "i64": 6, "f32": 1.5, "f64": 2.5, "flag": True, "text": "a", "raw": b"b", "age_min": 1}},
    )
    response = any_store.get_online_features(["plain:i32"], {"driver_id": [1]})
    response.to_dict()["i32"].append(99)
    response.event_timestamps["i32"].clear()
    assert response.to_dict()["i32"] == [5] and len(response.event_timestamps["i32"]) == 1
