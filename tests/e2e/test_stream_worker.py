"""``ladle stream`` as a user runs it, against the real Redis: a worker killed mid-stream and restarted loses
no event and counts none twice (online window values, offline rows); two workers in one group share the
stream; SIGTERM stops a worker cleanly (its Prometheus metrics served meanwhile); a source it cannot consume is one line naming what it can."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from server_helpers import eventually, free_port
from stream_helpers import LADLE, USERS, StreamRepo, Worker, drop_postgres_schema, make_stream_repo, redis_client

from ladle import FeatureStore

pytestmark = pytest.mark.services

N = 3_000


@pytest.fixture
def client() -> Any:
    c = redis_client()
    yield c
    c.close()


def _cleanup(client: Any, repo: StreamRepo) -> None:
    client.delete(repo.stream, f"{repo.stream}:dead", f"ladle:stream:{repo.stream}:ladle:journal")


def _online(repo: StreamRepo) -> dict[str, list[Any]]:
    store = FeatureStore(repo_path=repo.path)
    try:
        return store.get_online_features(
            features=[
                "transaction_windows:transaction_count_1h",
                "transaction_windows:total_amount_1h",
                "last_transaction:transaction_amount",
            ],
            entity_rows=[{"user_id": u} for u in range(USERS)],
        ).to_dict()
    finally:
        store.close()


def _assert_exact(repo: StreamRepo, n: int) -> None:
    """Every event once: offline rows per user, and the online 1-hour count and sum per user."""
    expected = repo.expected(n)
    rows = repo.offline_rows()
    assert len(rows) == n
    assert rows.groupby("user_id").size().to_dict() == {u: c for u, (c, _) in expected.items()}
    assert rows["transaction_timestamp"].nunique() == n  # no event twice, none lost
    online = _online(repo)
    assert online["transaction_count_1h"] == [expected[u][0] for u in range(USERS)]
    assert online["total_amount_1h"] == pytest.approx([expected[u][1] for u in range(USERS)])
    last = {u: repo.event(max(i for i in range(n) if i % USERS == u))["transaction_amount"] for u in range(USERS)}
    assert online["transaction_amount"] == [last[u] for u in range(USERS)]


def _wait_read(repo: StreamRepo, client: Any, at_least: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (repo.group_info(client).get("entries-read") or 0) >= at_least:
            return
        time.sleep(0.02)
    pytest.fail(f"the worker read fewer than {at_least} events within {timeout} s")


@pytest.mark.parametrize("same_consumer", [True, False], ids=["restart-same-name", "claimed-by-another"])
def test_sigkill_mid_stream_then_restart_loses_nothing_and_counts_nothing_twice(
    tmp_path: Path, client: Any, same_consumer: bool
) -> None:
    repo = make_stream_repo(tmp_path)
    try:
        repo.send(client, 0, N)
        first = Worker(repo, "--consumer", "w1", "--batch-size", "40")
        _wait_read(repo, client, N // 3)
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        for _ in range(4):  # a kill that lands between two batches holds nothing: kill a new worker further on
            info = repo.group_info(client)
            if info["pending"] > 0 or info["entries-read"] >= N:
                break
            again = Worker(repo, "--consumer", "w1", "--batch-size", "40")
            _wait_read(repo, client, min(N, info["entries-read"] + 40))
            assert again.stop(signal.SIGKILL) == -signal.SIGKILL
        assert repo.group_info(client)["pending"] > 0  # it died holding an unacknowledged batch
        name = "w1" if same_consumer else "w2"
        second = Worker(repo, "--consumer", name, "--batch-size", "40", "--claim-idle-sec", "0.5")
        repo.wait_drained(client, N)
        assert second.stop() == 0, second.log()
        _assert_exact(repo, N)
    finally:
        _cleanup(client, repo)


def test_sigkill_with_a_postgresql_offline_source_appends_each_batch_once(tmp_path: Path, client: Any) -> None:
    """The offline append to a PostgreSQL table is keyed by the batch id: killed workers (several times, so
    some die between the append and the acknowledgement) and the replays leave every event there once."""
    repo = make_stream_repo(tmp_path, postgres=True)
    try:
        repo.send(client, 0, N)
        for part in range(1, 4):
            worker = Worker(repo, "--consumer", "w1", "--batch-size", "40")
            _wait_read(repo, client, part * N // 4)
            assert worker.stop(signal.SIGKILL) == -signal.SIGKILL
        last = Worker(repo, "--consumer", "w1", "--batch-size", "40")
        repo.wait_drained(client, N)
        assert last.stop() == 0, last.log()
        _assert_exact(repo, N)
    finally:
        _cleanup(client, repo)
        drop_postgres_schema(repo)


def test_a_replayed_batch_is_appended_once_to_a_postgresql_table(tmp_path: Path) -> None:
    """What a replay after a crash between the append and the acknowledgement does: the same batch id again."""
    from ladle.stream.offline_sink import OfflineSink

    repo = make_stream_repo(tmp_path, postgres=True)
    store = FeatureStore(repo_path=repo.path)
    try:
        source = store.get_data_source("transaction_stream")
        sink = OfflineSink(store.offline_store, source, repo.path)
        assert sink.exactly_once
        rows = pa.table(
            {
                "user_id": pa.array([1, 2], pa.int64()),
                "transaction_amount": pa.array([1.5, 2.5], pa.float32()),
                "transaction_timestamp": pa.array([repo.base, repo.base], pa.timestamp("us", tz="UTC")),
            }
        )
        sink.write(rows, "batch-1")
        sink.write(rows, "batch-1")  # the replay
        assert len(repo.offline_rows()) == 2
        sink.write(rows, "batch-2")  # another batch, even with equal rows, is appended
        assert len(repo.offline_rows()) == 4
    finally:
        store.close()
        drop_postgres_schema(repo)


def test_two_workers_in_one_group_share_the_stream(tmp_path: Path, client: Any) -> None:
    repo = make_stream_repo(tmp_path, folder=True)
    try:
        a = Worker(repo, "--consumer", "a", "--batch-size", "25")
        b = Worker(repo, "--consumer", "b", "--batch-size", "25")
        time.sleep(0.5)
        repo.send(client, 0, N)
        repo.wait_drained(client, N)
        assert a.stop() == 0 and b.stop() == 0
        consumers = {c["name"].decode(): c for c in client.xinfo_consumers(repo.stream, "ladle")}
        assert set(consumers) == {"a", "b"}
        assert all(c["pending"] == 0 for c in consumers.values())
        done = [_events_in(w.log()) for w in (a, b)]
        assert sum(done) == N and min(done) > 0, (a.log(), b.log())
        _assert_exact(repo, N)
    finally:
        _cleanup(client, repo)


def _events_in(log: str) -> int:
    line = next(line for line in log.splitlines() if line.startswith("Stopped."))
    return int(line.split(": ", 1)[1].split(" events")[0].replace(",", ""))


def test_sigterm_stops_cleanly_and_bad_messages_go_to_the_dead_letter_stream(tmp_path: Path, client: Any) -> None:
    repo = make_stream_repo(tmp_path)
    try:
        repo.send(client, 0, 10)
        client.xadd(repo.stream, {"payload": b"{not json"})
        client.xadd(repo.stream, {"payload": b'{"user_id": 1, "transaction_amount": 2}'})  # no timestamp
        port = free_port()
        worker = Worker(repo, "--consumer", "w1", "--metrics-port", str(port))
        repo.wait_drained(client, 12)
        metrics = eventually(lambda: _scrape(port, "ladle_stream_rejected_total"), timeout=15)
        assert 'ladle_stream_events_total{source="transaction_stream"} 10.0' in metrics
        assert 'ladle_stream_rejected_total{source="transaction_stream"} 2.0' in metrics
        assert 'ladle_stream_batches_total{source="transaction_stream"}' in metrics
        started = time.monotonic()
        assert worker.stop(signal.SIGTERM) == 0, worker.log()
        assert time.monotonic() - started < 10
        log = worker.log()
        assert "Consuming redis stream" in log
        assert "Stopped. transaction_stream: 10 events" in log and "2 rejected" in log
        dead = client.xrange(f"{repo.stream}:dead")
        assert len(dead) == 2
        assert b"not JSON" in dead[0][1][b"error"]
        assert b"transaction_timestamp" in dead[1][1][b"error"]
        assert len(repo.offline_rows()) == 10
    finally:
        _cleanup(client, repo)


def _scrape(port: int, needle: str) -> str | None:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.TransportError:
        return None
    return text if needle in text else None


def test_a_source_without_a_reader_is_one_line_naming_what_is_supported(tmp_path: Path) -> None:
    repo = tmp_path / "kafka"
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text("project: k\nregistry: data/registry.db\nprovider: local\n")
    (repo / "features.py").write_text(
        "from datetime import timedelta\n"
        "from ladle import Entity, FeatureView, Field, FileSource, KafkaSource, JsonFormat\n"
        "from ladle.types import Float32, Int64\n"
        "batch = FileSource(path='data/t.parquet', timestamp_field='ts')\n"
        "src = KafkaSource(name='tx_kafka', kafka_bootstrap_servers='localhost:9092', topic='tx',\n"
        "                  message_format=JsonFormat(schema_json=''), batch_source=batch)\n"
        "u = Entity(name='user_id', join_keys=['user_id'])\n"
        "fv = FeatureView(name='tx', entities=[u], schema=[Field(name='user_id', dtype=Int64),\n"
        "                 Field(name='amount', dtype=Float32)], source=src, ttl=timedelta(days=1))\n"
    )
    import pandas as pd

    pd.DataFrame({"user_id": [1], "amount": [1.0], "ts": [datetime.now(UTC)]}).to_parquet(repo / "data/t.parquet")
    assert (
        subprocess.run([str(LADLE), "apply"], cwd=repo, capture_output=True, timeout=120, check=False).returncode == 0
    )
    done = subprocess.run(
        [str(LADLE), "stream", "tx_kafka"], cwd=repo, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "cannot consume KafkaSource 'tx_kafka'" in lines[0] and "RedisStreamSource" in lines[0]


@pytest.mark.parametrize("kind", ["FileSource", "SparkSource"])
def test_a_replayed_batch_is_written_once_to_a_folder_the_spark_store_reads(tmp_path: Path, kind: str) -> None:
    """With the Spark offline store, a parquet folder (a FileSource's, or a SparkSource's path) gets one file
    per batch id, so a replayed batch rewrites its own file: Spark reads every event once."""
    from backends import spark_session
    from ladle.definitions import FileSource, PushSource, SparkSource
    from ladle.offline.spark import SparkOfflineStore, SparkOfflineStoreConfig
    from ladle.stream.offline_sink import OfflineSink

    session = spark_session()
    base = datetime(2024, 6, 1, tzinfo=UTC)
    folder = tmp_path / "events"
    folder.mkdir()
    ts = pa.timestamp("us", tz="UTC")
    seed = pa.table({"user_id": pa.array([-1], pa.int64()), "amount": pa.array([0.0]), "ts": pa.array([base], ts)})
    pq.write_table(seed, folder / "seed.parquet")
    batch: FileSource | SparkSource = (
        FileSource(name="events", path=str(folder), timestamp_field="ts")
        if kind == "FileSource"
        else SparkSource(name="events", path=str(folder), file_format="parquet", timestamp_field="ts")
    )
    store = SparkOfflineStore(SparkOfflineStoreConfig(), tmp_path)
    sink = OfflineSink(store, PushSource(name="pushed", batch_source=batch), tmp_path)
    assert sink.exactly_once
    rows = pa.table(
        {"user_id": pa.array([1, 2], pa.int64()), "amount": pa.array([1.5, 2.5]), "ts": pa.array([base] * 2, ts)}
    )
    sink.write(rows, "batch-1")
    sink.write(rows, "batch-1")  # the replay after a crash between the write and the acknowledgement
    read = session.read.parquet(str(folder))
    assert sorted(r.user_id for r in read.collect()) == [-1, 1, 2]
    sink.write(rows, "batch-2")  # another batch, even with equal rows, is appended
    again = session.read.parquet(str(folder))
    assert again.count() == 5
    assert [r.amount for r in again.where("user_id = 2").collect()] == [2.5, 2.5]
