"""Benchmark: every API endpoint and page of ``ladle ui`` on a large registry — server time per request.

The registry: 1,000 feature views (5 features each, over 10 sources), 100 on-demand views, 100 feature
services, all materialized; three registry versions (the second edits every view's description: a diff of
1,000 objects), two published versions of one view and a saved dataset. Target: every endpoint and page under 300 ms of server time. Requests go
through the whole ASGI app in-process (httpx's ASGI transport: routing, middleware, the work, encoding;
no sockets), so the time is the server's. Each endpoint is asked ``--repeat`` times after one warm-up
request; the first request after a registry change (which builds the UI's snapshot of it) is reported
apart, as ``cold``. Feast's UI has no server-side API to compare with (it ships the registry to the
browser), so no ratio is printed.

Run: python bench/ui.py [--views 1000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ladle import Entity, FeatureService, FeatureStore, FeatureView, Field, FileSource, RequestSource
from ladle.definitions import SavedDatasetFileStorage
from ladle.definitions.on_demand import OnDemandFeatureView
from ladle.registry.state import RegistryState
from ladle.server.settings import ServerSettings
from ladle.types import Float32, Float64, Int64
from ladle.ui import history
from ladle.ui.app import create_ui_app
from ladle.ui.catalog import snapshot_of
from ladle.ui.lineage import graph_of, layout

TARGET_MS = 300.0
SOURCES = 10
FEATURES = 5
KEYS = 50


def _udf(inputs: Any) -> Any:
    import pandas as pd

    return pd.DataFrame({"scaled": inputs["f0"] * inputs["factor"]})


def _write_sources(repo: Path) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    times = [now - timedelta(hours=h) for h in range(24)]
    rng = np.random.default_rng(7)
    for s in range(SOURCES):
        n = KEYS * len(times)
        columns: dict[str, Any] = {
            "key": np.repeat(np.arange(KEYS, dtype=np.int64), len(times)),
            "ts": pa.array(times * KEYS, pa.timestamp("us", tz="UTC")),
        }
        columns.update({f"f{f}": rng.random(n) for f in range(FEATURES)})
        pq.write_table(pa.table(columns), repo / f"data/source_{s}.parquet")


def build_repo(repo: Path, views: int) -> None:
    """The large repo: applied through ``FeatureStore.apply`` and materialized, as a user would."""
    shutil.rmtree(repo, ignore_errors=True)
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text(
        "project: bench_ui\nregistry: data/registry.db\nprovider: local\n"
        "online_store:\n  type: sqlite\n  path: data/online.db\n"
        "feature_sets:\n  root: data/feature_sets\n"
    )
    _write_sources(repo)
    entity = Entity(name="thing", join_keys=["key"])
    sources = [
        FileSource(name=f"source_{s}", path=f"data/source_{s}.parquet", timestamp_field="ts") for s in range(SOURCES)
    ]
    schema = [Field(name=f"f{f}", dtype=Float64) for f in range(FEATURES)]
    fvs = [
        FeatureView(
            name=f"view_{i:04d}",
            entities=[entity],
            ttl=timedelta(days=1),
            source=sources[i % SOURCES],
            schema=[Field(name="key", dtype=Int64), *schema],
            tags={"team": f"team_{i % 10}", "tier": "gold" if i % 3 == 0 else "silver"},
            description=f"feature view number {i}",
        )
        for i in range(views)
    ]
    request = RequestSource(name="factor_source", schema=[Field(name="factor", dtype=Float64)])
    odfvs = [
        OnDemandFeatureView(
            name=f"odfv_{j:03d}",
            sources=[fvs[j * 7 % views], request],
            schema=[Field(name="scaled", dtype=Float64)],
            udf=_udf,
            mode="pandas",
        )
        for j in range(100)
    ]
    services = [
        FeatureService(name=f"service_{k:03d}", features=[*(fvs[(k * 5 + m) % views] for m in range(5)), odfvs[k]])
        for k in range(100)
    ]
    store = FeatureStore(repo_path=repo)
    store.apply([entity, *sources, request, *fvs, *odfvs, *services])
    store.materialize(datetime.now(UTC) - timedelta(days=2), datetime.now(UTC))
    _add_history(store, fvs)
    store.close()


def _add_history(store: FeatureStore, fvs: list[FeatureView]) -> None:
    """Registry v2 (every view's description edited: a 1,000-object diff), published versions of the middle
    view, a saved dataset, and v3 (one view's contract changed)."""
    for fv in fvs:
        fv.description = f"{fv.description} (edited)"
    store.apply(fvs, partial=True)
    mid = fvs[len(fvs) // 2]
    data = pq.read_table(store.repo_path / str(getattr(mid.batch_source, "path", "")))
    store.publish(mid.name, data, version="v1")
    store.publish(mid.name, data.slice(0, 100), version="v2")
    entity_df = pd.DataFrame({"key": list(range(KEYS)), "event_timestamp": [datetime.now(UTC)] * KEYS})
    job = store.get_historical_features(entity_df, [f"{mid.name}:f0", f"{fvs[0].name}:f1"])
    path = store.repo_path / "data" / "train.parquet"
    store.create_saved_dataset(from_=job, name="train", storage=SavedDatasetFileStorage(path=str(path)))
    changed = fvs[0]
    changed.schema = [Field(name=f.name, dtype=Float32) if f.name == "f4" else f for f in changed.schema]
    store.apply([changed], partial=True)


def requests(views: int) -> list[tuple[str, str, Any]]:
    """(label, path, JSON body or None) of every endpoint and page."""
    mid = f"view_{views // 2:04d}"
    return [
        ("page /", "/", None),
        ("page /static/app.js", "/static/app.js", None),
        ("overview", "/api/overview", None),
        ("list feature-views p1", "/api/feature-views?per_page=50", None),
        ("list feature-views p20", "/api/feature-views?page=20&per_page=50", None),
        ("list search+tag", "/api/feature-views?q=number 9&tag=tier:gold", None),
        ("list data-sources", "/api/data-sources", None),
        ("list entities", "/api/entities", None),
        ("list on-demand", "/api/on-demand-feature-views", None),
        ("list services", "/api/feature-services", None),
        ("feature view", f"/api/feature-views/{mid}", None),
        ("on-demand view", "/api/on-demand-feature-views/odfv_050", None),
        ("feature service", "/api/feature-services/service_050", None),
        ("data source", "/api/data-sources/source_3", None),
        ("entity", "/api/entities/thing", None),
        ("lineage whole", "/api/lineage", None),
        ("lineage of a view", f"/api/lineage?node=feature_view/{mid}", None),
        ("lineage of a source", "/api/lineage?node=data_source/source_3", None),
        ("freshness p1", "/api/freshness?per_page=100", None),
        ("freshness stale", "/api/freshness?stale=true", None),
        ("view freshness probe", f"/api/feature-views/{mid}/freshness", None),
        ("view sample", f"/api/feature-views/{mid}/sample?limit=20", None),
        ("history", "/api/history", None),
        ("history v1", "/api/history/1", None),
        ("history v2 (1,000 changes)", "/api/history/2", None),
        ("history v3", "/api/history/3", None),
        ("compare v1..v3", "/api/history/compare?a=1&b=3", None),
        ("saved datasets", "/api/saved-datasets", None),
        ("saved dataset", "/api/saved-datasets/train", None),
        ("saved dataset sample", "/api/saved-datasets/train/sample?limit=20", None),
        ("published versions", f"/api/feature-views/{mid}/versions", None),
        (
            "online lookup",
            "/api/online",
            {
                "feature_service": "service_050",
                "entities": {"key": [1, 2, 3], "factor": [1.0, 2.0, 3.0]},
                "full_feature_names": True,
            },
        ),
        ("training preview", "/api/feature-services/service_050/preview", {"rows": 5, "full_feature_names": True}),
    ]


def preparation_ms(repo: Path) -> float:
    """What the refresher thread spends on a newly read registry before requests see it (rows, definitions,
    lineage layout, the newest versions' diffs), measured on a fresh parse."""
    state = RegistryState.from_json((repo / "data/registry.db").read_bytes())
    started = time.perf_counter()
    snapshot = snapshot_of(state)
    state.feature_views()
    layout(graph_of(snapshot))
    history.warm(state)
    return (time.perf_counter() - started) * 1000


async def measure(repo: Path, views: int, repeat: int) -> list[tuple[str, float, float, float]]:
    app = create_ui_app(ServerSettings(repo_path=str(repo)))
    results = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=60) as client:

            async def once(path: str, body: Any) -> float:
                started = time.perf_counter()
                response = await (client.post(path, json=body) if body is not None else client.get(path))
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
                return elapsed

            for label, path, body in requests(views):
                cold = await once(path, body)
                times = [await once(path, body) for _ in range(repeat)]
                results.append((label, cold, statistics.median(times), max(times)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--repo", type=Path, default=Path("/tmp/ladle-bench-ui"))
    parser.add_argument("--rebuild", action="store_true", help="build the repo even if it exists")
    args = parser.parse_args()
    marker = args.repo / f".built-{args.views}-history"
    if args.rebuild or not marker.exists():
        started = time.perf_counter()
        build_repo(args.repo, args.views)
        marker.touch()
        print(f"built and applied {args.views} views in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    results = asyncio.run(measure(args.repo, args.views, args.repeat))
    print(f"{'endpoint':<28} {'cold ms':>9} {'median ms':>10} {'max ms':>8}")
    worst = 0.0
    for label, cold, median, most in results:
        worst = max(worst, most)
        print(f"{label:<28} {cold:>9.1f} {median:>10.1f} {most:>8.1f}")
    print(f"a new registry version is prepared in {preparation_ms(args.repo):.0f} ms, in the refresher's thread")
    verdict = "within" if worst <= TARGET_MS else "OVER"
    print(
        f"slowest warm request: {worst:.1f} ms ({verdict} the {TARGET_MS:.0f} ms target) — {args.views} feature views"
    )


if __name__ == "__main__":
    main()
