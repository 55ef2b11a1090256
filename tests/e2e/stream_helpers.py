"""A stream repo on disk and ``ladle stream`` processes, for the stream worker's e2e tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ladle import FeatureStore

LADLE = Path(sys.executable).parent / "ladle"
USERS = 20

YAML = """\
project: {project}
registry: data/registry.db
provider: local
online_store:
  type: sqlite
  path: data/online_store.db
offline_store:
{offline}
entity_key_serialization_version: 3
"""
DUCKDB = "  type: duckdb"
POSTGRES = '  type: postgres\n  dsn: "{dsn}"\n  db_schema: {schema}'


REPO = """
from datetime import timedelta

from ladle import Aggregation, Entity, FeatureView, Field, FileSource, JsonFormat, PostgreSQLSource
from ladle import RedisStreamSource, StreamFeatureView, ValueType
from ladle.types import Float32, Int64

user = Entity(name="user_id", value_type=ValueType.INT64)
transactions = {batch_source}
transaction_stream = RedisStreamSource(
    name="transaction_stream",
    stream="{stream}",
    batch_source=transactions,
    message_format=JsonFormat(),
    connection_string="redis://127.0.0.1:6379/0",
)
transaction_windows = StreamFeatureView(
    name="transaction_windows",
    entities=[user],
    ttl=timedelta(hours=2),
    schema=[
        Field(name="transaction_count_1h", dtype=Int64),
        Field(name="total_amount_1h", dtype=Float32),
    ],
    source=transaction_stream,
    aggregations=[
        Aggregation(column="transaction_amount", function="count", time_window=timedelta(hours=1)),
        Aggregation(column="transaction_amount", function="sum", time_window=timedelta(hours=1)),
    ],
)
last_transaction = FeatureView(
    name="last_transaction",
    entities=[user],
    ttl=timedelta(days=1),
    schema=[Field(name="transaction_amount", dtype=Float32)],
    source=transaction_stream,
)
"""


def redis_client() -> Any:
    """A client of the test Redis (skip, or fail under LADLE_REQUIRE_SERVICES=1, when it is down)."""
    redis = pytest.importorskip("redis")
    client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        from services import unavailable

        unavailable("Redis", str(exc))
    return client


@dataclass
class StreamRepo:
    """A repo whose views read the Redis stream ``stream``; ``offline`` is its parquet file or folder, or with
    ``schema`` set, the PostgreSQL schema holding its table ``transactions``."""

    path: Path
    stream: str
    offline: Path
    base: datetime
    schema: str | None = None

    def event(self, i: int) -> dict[str, Any]:
        """Event ``i``: user ``i % USERS``, an amount exact in float32, a timestamp within the last hour."""
        ts = self.base + timedelta(milliseconds=i)
        return {"user_id": i % USERS, "transaction_amount": (i % 7) + 0.5, "transaction_timestamp": ts.isoformat()}

    def send(self, client: Any, start: int, stop: int) -> None:
        """XADD events ``start..stop-1`` (pipelined)."""
        with client.pipeline(transaction=False) as pipe:
            for i in range(start, stop):
                pipe.xadd(self.stream, {"payload": orjson.dumps(self.event(i))})
            pipe.execute()

    def expected(self, n: int) -> dict[int, tuple[int, float]]:
        """Per user: count and sum of events ``0..n-1`` (all inside the 1-hour window)."""
        out: dict[int, tuple[int, float]] = {}
        for i in range(n):
            e = self.event(i)
            count, total = out.get(e["user_id"], (0, 0.0))
            out[e["user_id"]] = (count + 1, total + e["transaction_amount"])
        return out

    def offline_rows(self) -> pd.DataFrame:
        """What the offline source holds now, seed rows excluded."""
        if self.schema is not None:
            from services import postgres_admin

            with postgres_admin() as conn, conn.cursor() as cur:
                cur.execute(
                    f'SELECT user_id, transaction_amount, transaction_timestamp FROM "{self.schema}".transactions'
                )
                names = [c.name for c in cur.description]
                frame = pd.DataFrame(cur.fetchall(), columns=names)
            return frame[frame["user_id"] >= 0]
        frame = pq.read_table(self.offline).to_pandas() if self.offline.is_file() else _folder(self.offline)
        return frame[frame["user_id"] >= 0]

    def group_info(self, client: Any, group: str = "ladle") -> dict[str, Any]:
        """The consumer group's ``XINFO GROUPS`` entry (lag, pending, entries-read)."""
        for info in client.xinfo_groups(self.stream):
            if info["name"].decode() == group:
                return {k: v for k, v in info.items()}
        return {}

    def wait_drained(self, client: Any, n: int, timeout: float = 120.0) -> None:
        """Until the group has read ``n`` entries and acknowledged all (bounded)."""
        deadline = time.monotonic() + timeout
        info: dict[str, Any] = {}
        while time.monotonic() < deadline:
            info = self.group_info(client)
            if info.get("entries-read") == n and info.get("pending") == 0 and info.get("lag") == 0:
                return
            time.sleep(0.2)
        pytest.fail(f"the stream was not drained within {timeout} s: {info}")


def _folder(path: Path) -> pd.DataFrame:
    files = sorted(p for p in path.glob("*.parquet"))
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def _postgres_table(schema: str) -> None:
    from services import postgres_admin

    with postgres_admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(
            f'CREATE TABLE "{schema}".transactions (user_id BIGINT, transaction_amount REAL, '
            "transaction_timestamp TIMESTAMPTZ)"
        )
        conn.execute(f"INSERT INTO \"{schema}\".transactions VALUES (-1, 0, '2024-01-01T00:00:00Z')")


def drop_postgres_schema(repo: StreamRepo) -> None:
    """Remove the PostgreSQL schema a repo made with ``postgres=True`` created."""
    if repo.schema is not None:
        from services import postgres_admin

        with postgres_admin() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{repo.schema}" CASCADE')


def make_stream_repo(root: Path, folder: bool = False, postgres: bool = False) -> StreamRepo:
    """A repo with one seed row (user -1, so the source is readable at apply) and a unique stream name; with
    ``postgres``, the offline store is PostgreSQL and the source a table in a schema of its own."""
    stream = f"ladle-test-stream-{uuid.uuid4().hex[:10]}"
    repo = root / "repo"
    (repo / "data").mkdir(parents=True)
    rel = "data/transactions/" if folder else "data/transactions.parquet"
    offline = repo / rel
    seed = pd.DataFrame(
        {
            "user_id": pd.Series([-1], dtype="int64"),
            "transaction_amount": pd.Series([0.0], dtype="float32"),
            "transaction_timestamp": [pd.Timestamp("2024-01-01", tz="UTC")],
        }
    )
    schema = f"ladle_stream_{uuid.uuid4().hex[:8]}" if postgres else None
    if schema is not None:
        from services import PG_DSN

        _postgres_table(schema)
        offline_yaml = POSTGRES.format(dsn=PG_DSN, schema=schema)
        batch_source = (
            'PostgreSQLSource(name="transactions", table="transactions", timestamp_field="transaction_timestamp")'
        )
    else:
        offline_yaml = DUCKDB
        batch_source = f'FileSource(path="{rel}", timestamp_field="transaction_timestamp")'
        if folder:
            offline.mkdir()
            seed.to_parquet(offline / "seed.parquet")
        else:
            seed.to_parquet(offline)
    (repo / "feature_store.yaml").write_text(YAML.format(project=f"s{uuid.uuid4().hex[:8]}", offline=offline_yaml))
    (repo / "features.py").write_text(textwrap.dedent(REPO.format(batch_source=batch_source, stream=stream)))
    store = FeatureStore(repo_path=repo)
    store.apply_repo()
    store.close()
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=40)
    return StreamRepo(repo, stream, offline, base, schema)


class Worker:
    """A ``ladle stream`` process writing its output to a log file."""

    def __init__(self, repo: StreamRepo, *args: str) -> None:
        self.log_path = repo.path / f"worker-{uuid.uuid4().hex[:6]}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [str(LADLE), "stream", *args],
            cwd=repo.path,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def log(self) -> str:
        """What the worker printed so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Signal the process and wait for it (killed if it does not stop in time); the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                pytest.fail(f"ladle stream did not stop within {timeout} s after signal {sig}:\n{self.log()}")
        self._log.close()
        return int(self.proc.returncode)
