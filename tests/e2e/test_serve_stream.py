"""``ladle serve --stream``: the stream worker runs inside the server process — events sent to the Redis
stream show up in the server's own online answers and in its /metrics — and stops with the server."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from server_helpers import eventually, serving
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
