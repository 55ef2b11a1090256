"""The Feast 0.67 side of ``bench/windowed_online.py``: run with Feast's Python, not ladle's.

    /work/feast-venv/bin/python bench/windowed_online_feast.py REPO sqlite|redis CALLS

``REPO/data/events/part-0.parquet`` holds the events ``windowed_online.py`` wrote. The same
StreamFeatureView (10 aggregates over a push source) is applied, then what ladle measures is tried:
materialize the windows, push raw events, read the aggregates. Feast 0.67 computes no window on its
local engine: materialize raises and a push of raw events fails (it expects the aggregate columns
precomputed). To still give a read-latency figure, precomputed values are written for every key with
``write_to_online_store`` and the same reads timed: Feast then only looks values up, while ladle
computes ten windows at read time. Every line printed starts with ``feast``.
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

KEYS = 10_000
H = timedelta(hours=1)
AGGREGATES = [
    ("amount", "count", H, "n_1h"),
    ("amount", "sum", H, "sum_1h"),
    ("amount", "mean", H, "mean_1h"),
    ("amount", "max", H, "max_1h"),
    ("amount", "count", 2 * H, "n_2h"),
    ("amount", "sum", 2 * H, "sum_2h"),
    ("amount", "min", 2 * H, "min_2h"),
    ("amount", "std", 2 * H, "std_2h"),
    ("merchant", "count_distinct", 2 * H, "merchants_2h"),
    ("merchant", "last", 2 * H, "last_merchant"),
]
FEATURES = [f"txn:{name}" for *_, name in AGGREGATES]


def _first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:160]}"


def _frame(n: int, seed: int, now: datetime) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_id": rng.integers(0, KEYS, n),
            "ts": pd.Timestamp(now) - pd.to_timedelta(rng.integers(1, 600, n), unit="s"),
            "amount": rng.integers(1, 10_000, n) / 100.0,
            "merchant": rng.integers(0, 500, n),
        }
    )


def _latency(store: object, batch: int, calls: int) -> tuple[float, float]:
    rng = np.random.default_rng(batch)
    rows = [[{"user_id": int(k)} for k in rng.integers(0, KEYS, batch)] for _ in range(calls)]
    get = store.get_online_features  # type: ignore[attr-defined]
    for r in rows[:50]:
        get(FEATURES, r).to_dict()
    times, cpu = [], []
    for r in rows:
        t0, c0 = time.perf_counter(), time.thread_time()
        get(FEATURES, r).to_dict()
        times.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    return statistics.median(times) * 1e3, statistics.median(cpu) * 1e3


def main() -> None:
    repo, online, calls = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    warnings.filterwarnings("ignore")
    online_yaml = {
        "sqlite": "online_store:\n  type: sqlite\n  path: data/feast_online.db\n",
        "redis": "online_store:\n  type: redis\n  connection_string: 127.0.0.1:6379\n",
    }[online]
    (repo / "feature_store.yaml").write_text(
        f"project: {repo.name.replace('-', '_')}_feast\nregistry: data/feast_registry.db\nprovider: local\n"
        "entity_key_serialization_version: 3\n" + online_yaml
    )
    from feast import Aggregation, Entity, FeatureStore, Field, FileSource, PushSource
    from feast.data_source import PushMode
    from feast.stream_feature_view import StreamFeatureView
    from feast.types import Float64

    user = Entity(name="user", join_keys=["user_id"])
    events = FileSource(name="events", path=str(repo / "data/events/part-0.parquet"), timestamp_field="ts")
    push = PushSource(name="txn_push", batch_source=events)
    txn = StreamFeatureView(
        name="txn",
        entities=[user],
        ttl=2 * H,
        source=push,
        schema=[Field(name=name, dtype=Float64) for *_, name in AGGREGATES],
        aggregations=[Aggregation(column=c, function=f, time_window=w, name=n) for c, f, w, n in AGGREGATES],
        timestamp_field="ts",
    )
    store = FeatureStore(repo_path=str(repo))
    store.apply([user, events, push, txn])
    now = datetime.now(UTC)
    try:
        store.materialize(now - timedelta(days=1), now)
        print("feast materialize of the windows: ran")
    except Exception as exc:
        print(f"feast materialize of the windows: fails ({_first_line(exc)})")
    frames = [_frame(10_000, seed, now) for seed in range(3)]
    try:
        t0 = time.perf_counter()
        for frame in frames:
            store.push("txn_push", frame, to=PushMode.ONLINE)
        print(f"feast push of raw events: {30_000 / (time.perf_counter() - t0):,.0f} events/s")
    except Exception as exc:
        print(f"feast push of raw events: fails ({_first_line(exc)}); no push rate")
    answer = store.get_online_features(FEATURES, [{"user_id": 1}]).to_dict()
    computed = any(answer[name][0] is not None for *_, name in AGGREGATES)
    print(f"feast get_online_features after push: aggregates {'present' if computed else 'all null'}")
    rng = np.random.default_rng(3)
    stored = pd.DataFrame({"user_id": np.arange(KEYS), "ts": pd.Timestamp(now)})
    for *_, name in AGGREGATES:
        stored[name] = rng.random(KEYS)
    store.write_to_online_store("txn", stored)
    for batch, n in ((1, calls), (100, max(200, calls // 4))):
        p50, cpu = _latency(store, batch, n)
        print(
            f"feast get_online_features {online}, 10 precomputed values (no window computed), {batch} key(s): "
            f"p50 {p50:.3f} ms (CPU p50 {cpu:.3f} ms)"
        )
    store.teardown()


if __name__ == "__main__":
    main()
