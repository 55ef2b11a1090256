"""``ladle serve --stream``: the stream worker runs inside the server process — events sent to the Redis
stream show up in the server's own online answers and in its /metrics — and stops with the server."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from server_helpers import eventually, ladle, serving
from stream_helpers import USERS, make_stream_repo, redis_client

pytestmark = pytest.mark.services


def test_serve_stream_consumes_while_serving_and_stops_on_shutdown(tmp_path: Path) -> None:
    client = redis_client()
    repo = make_stream_repo(tmp_path)
    n = 200
    try:
        with serving(repo.path, "--stream") as server:
            repo.send(client, 0, n)
            repo.wait_drained(client, n, timeout=60)
            body = {
                "features": ["transaction_windows:transaction_count_1h", "last_transaction:transaction_amount"],
                "entities": {"user_id": list(range(USERS))},
            }

            def counts() -> Any:
                document = server.post("/get-online-features", body).json()
                values = document["results"][1]["values"]
                return values if values == [n // USERS] * USERS else None

            eventually(counts, timeout=30)
            metrics = server.http.get("/metrics").text
            assert f'ladle_stream_events_total{{source="transaction_stream"}} {float(n)}' in metrics
            assert 'ladle_stream_lag{source="transaction_stream"}' in metrics
            code = server.stop(signal.SIGTERM)
        # uvicorn re-raises the signal it handled once shutdown is complete
        assert code in (0, -signal.SIGTERM), server.log()
        assert "Application shutdown complete." in server.log()
        consumers = client.xinfo_consumers(repo.stream, "ladle")
        assert len(consumers) == 1 and consumers[0]["pending"] == 0
        assert len(repo.offline_rows()) == n
    finally:
        client.delete(repo.stream, f"ladle:stream:{repo.stream}:ladle:journal")
        client.close()


def test_serve_stream_without_a_stream_source_fails_in_one_line(tmp_path: Path) -> None:
    repo = tmp_path / "plain"
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text("project: plain\nregistry: data/registry.db\nprovider: local\n")
    (repo / "features.py").write_text(
        "from ladle import Entity, FeatureView, Field, FileSource\n"
        "from ladle.types import Int64\n"
        "u = Entity(name='user_id', join_keys=['user_id'])\n"
        "fv = FeatureView(name='plain', entities=[u], schema=[Field(name='user_id', dtype=Int64),\n"
        "                 Field(name='x', dtype=Int64)], source=FileSource(path='data/p.parquet', timestamp_field='ts'))\n"
    )
    pd.DataFrame({"user_id": [1], "x": [2], "ts": [pd.Timestamp("2024-01-01", tz="UTC")]}).to_parquet(
        repo / "data" / "p.parquet"
    )
    assert ladle("apply", cwd=repo).returncode == 0
    done = ladle("serve", "--stream", "-p", "0", cwd=repo)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "has no stream source feeding a feature view" in lines[0], done.stderr
