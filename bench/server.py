"""Benchmark: the feature server (`ladle serve`) under load on loopback.

1 entity x 6 features from 2 views per request, 8 connections, wrk (Debian package `wrk`) or — without
wrk, or with --python-load — a bounded Python load generator (asyncio streams, a fixed number of requests;
it takes more of the machine's CPU than wrk, so its figures are lower).
Target on a 2-core machine, load generator included: >= 3,000 requests/s, p99 <= 10 ms, and no
request slower than 50 ms while the registry is being refreshed.

Run: python bench/server.py [--online sqlite|redis] [--workers 1 2] [--duration 10]
                            [--feast-python /work/feast-venv/bin/python] [--no-refresh-phase]

With --feast-python, `feast serve` (Feast 0.67, same worker counts, its default options unless
--feast-max-requests) serves the same latest values (written with Feast's write_to_online_store into its own
project) under the same load; runs alternate between the two servers, and the medians and their ratio are
printed.

Phases per worker count: a steady run; then a run during which the registry changes every 0.5 s (an
`apply` elsewhere: the registry file is replaced atomically by one of two versions) and the server,
started with --registry-ttl-sec 0.25, re-reads it in the background.
The repo lives in bench/.data/server_<online> (100k drivers); Redis keys `ladle:server_bench:*` are
removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from feast_side import run_feast
from synthetic import KEYS, ONLINE, REPO_PY, ROOT, YAML, _source

from ladle import FeatureStore

PROJECT = "server_bench"
FEATURES = [
    "driver_stats:conv_rate", "driver_stats:acc_rate", "driver_stats:trips",
    "driver_quality:rating", "driver_quality:complaints", "driver_quality:tenure_days",
]
LADLE = Path(sys.executable).parent / "ladle"
EXTRA_SERVICE = '\n\nfrom ladle import FeatureService\nbench_service = FeatureService(name="bench_service", features=[driver_stats])\n'

WRK_SCRIPT = textwrap.dedent(
    """
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    local ids = {}
    math.randomseed(42)
    for i = 1, 4096 do ids[i] = math.random(0, %(keys)d - 1) end
    local n = 0
    local head = '{"features":%(features)s,"entities":{"driver_id":['
    request = function()
      n = n + 1
      return wrk.format(nil, "/get-online-features", nil, head .. ids[(n %% 4096) + 1] .. ']}}')
    end
    """
)


def build_repo(online: str) -> tuple[Path, bytes, bytes]:
    """The bench repo, applied and materialized; two registry versions (without/with an extra service)."""
    repo = ROOT / f"server_{online}"
    data = repo / "data"
    if not (data / "driver_quality.parquet").exists():
        data.mkdir(parents=True, exist_ok=True)
        pq.write_table(_source(2 * KEYS, 1, "driver_stats"), data / "driver_stats.parquet")
        pq.write_table(_source(KEYS, 2, "driver_quality"), data / "driver_quality.parquet")
    (repo / "feature_store.yaml").write_text(YAML.format(online=ONLINE[online]).replace("project: bench", f"project: {PROJECT}"))
    registry = data / "registry.db"
    (repo / "features.py").write_text(REPO_PY + EXTRA_SERVICE)
    FeatureStore(repo_path=repo).apply_repo()
    with_service = registry.read_bytes()
    (repo / "features.py").write_text(REPO_PY)
    store = FeatureStore(repo_path=repo)
    store.apply_repo()
    without = registry.read_bytes()
    check = store.get_online_features(FEATURES, {"driver_id": [1, 2, 3]}).to_dict()
    if all(v is None for v in check["conv_rate"]):
        t0 = time.perf_counter()
        store.materialize(datetime(2025, 1, 1, tzinfo=UTC), datetime.now(UTC))  # ends in the future are refused
        print(f"materialized {PROJECT} into {online} in {time.perf_counter() - t0:.1f} s")
    store.close()
    return repo, without, with_service


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """`ladle serve` (or, with ``feast``, the path of Feast's CLI: `feast serve`) in a subprocess."""

    def __init__(self, repo: Path, workers: int, ttl: float, feast: str | None = None,
                 feast_max_requests: int | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - kept open for the life of the server
        if feast is None:
            command = [str(LADLE), "serve", "-p", str(self.port), "--workers", str(workers), "--no-access-log",
                       "--registry-ttl-sec", str(ttl)]
        else:
            command = [feast, "-c", str(repo), "serve", "-p", str(self.port), "--workers", str(workers),
                       "--no-access-log", "--registry_ttl_sec", "60"]
            if feast_max_requests is not None:
                command += ["--max-requests", str(feast_max_requests)]
        self.proc = subprocess.Popen(command, cwd=repo, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        self.log.seek(0)
        sys.exit(f"the server did not start:\n{self.log.read().decode(errors='replace')}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def refreshes(self) -> int:
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        return int(sum(float(m) for m in re.findall(r'registry_refreshes_total\{outcome="ok"\} ([0-9.e+]+)', text)))


def run_wrk(url: str, seconds: int, connections: int) -> dict[str, float]:
    """wrk's figures: requests/s, p50, p99, max (ms), errors."""
    import json

    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(WRK_SCRIPT % {"keys": KEYS, "features": json.dumps(FEATURES, separators=(",", ":"))})
    try:
        done = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
            capture_output=True, text=True, timeout=seconds + 60, check=True,
        )
    finally:
        script.unlink()
    out = done.stdout

    def ms(text: str) -> float:
        value, unit = re.match(r"([0-9.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    latency = re.search(r"^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)", out, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if socket_errors:
        print(f"  wrk socket errors: {socket_errors.group(1)}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "p99": ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "max": ms(latency.group(3)) if latency else float("nan"),
        "errors": float(errors.group(1)) if errors else 0.0,
        "requests": float(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
    }


def run_python(url: str, requests: int, connections: int) -> dict[str, float]:
    """A bounded load generator without wrk: ``requests`` requests over ``connections`` keep-alive
    connections, each a raw asyncio stream (an HTTP client library would cost more CPU than the server)."""
    host, port = url.removeprefix("http://").split(":")
    rng = random.Random(42)
    features = str(FEATURES).replace("'", '"')
    payloads = []
    for _ in range(4096):
        body = f'{{"features":{features},"entities":{{"driver_id":[{rng.randrange(KEYS)}]}}}}'.encode()
        payloads.append(b"POST /get-online-features HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    latencies: list[float] = []
    errors = 0

    async def worker(count: int, offset: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        for i in range(count):
            t0 = time.perf_counter()
            writer.write(payloads[(offset + i) % 4096])
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            errors += not head.startswith(b"HTTP/1.1 200")
        writer.close()

    async def main() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(requests // connections, k * 997) for k in range(connections)))
        return time.perf_counter() - t0

    elapsed = asyncio.run(main())
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2] * 1e3,
        "p99": latencies[int(len(latencies) * 0.99)] * 1e3,
        "max": latencies[-1] * 1e3,
        "errors": float(errors),
        "requests": float(len(latencies)),
    }


class RegistryFlipper(threading.Thread):
    """Replaces the registry file atomically with the other version every ``period`` seconds."""

    def __init__(self, path: Path, versions: tuple[bytes, bytes], period: float) -> None:
        super().__init__(daemon=True)
        self.path, self.versions, self.period = path, versions, period
        self.stop_event = threading.Event()
        self.flips = 0

    def run(self) -> None:
        while not self.stop_event.wait(self.period):
            self.flips += 1
            tmp = self.path.with_suffix(".bench-tmp")
            tmp.write_bytes(self.versions[self.flips % 2])
            os.replace(tmp, self.path)


def latest_frames(repo: Path) -> dict[str, pd.DataFrame]:
    """The newest row per driver of each view's source (what materialization leaves in the online store)."""
    out = {}
    for view, columns in (("driver_stats", ["conv_rate", "acc_rate", "trips"]),
                          ("driver_quality", ["rating", "complaints", "tenure_days"])):
        df = pd.read_parquet(repo / f"data/{view}.parquet")
        df = df.sort_values(["event_timestamp", "created"]).drop_duplicates("driver_id", keep="last")
        out[view] = df[["driver_id", "event_timestamp", *columns]].reset_index(drop=True)
    return out


class FeastRepo:
    """A Feast repo holding the same latest values, in a temporary folder (torn down by :meth:`close`)."""

    def __init__(self, args: argparse.Namespace, repo: Path) -> None:
        self.python = args.feast_python
        self.cli = str(Path(args.feast_python).parent / "feast")
        self.max_requests = args.feast_max_requests
        self.root = Path(tempfile.mkdtemp(prefix="ladle_bench_feast_"))
        self.job = {"mode": "setup", "online": args.online, "project": f"{PROJECT}_feast", "repo": str(self.root / "repo")}
        t0 = time.perf_counter()
        run_feast(self.python, self.job, latest_frames(repo))
        print(f"Feast repo written with its write_to_online_store ({time.perf_counter() - t0:.1f} s)")

    def serve(self, workers: int) -> Served:
        return Served(self.root / "repo", workers, ttl=60, feast=self.cli, feast_max_requests=self.max_requests)

    def close(self) -> None:
        run_feast(self.python, {**self.job, "mode": "teardown"})
        shutil.rmtree(self.root, ignore_errors=True)


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median requests/s (its own latencies kept together)."""
    return sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]


def side_by_side(ladle: Served, feast: Served, workers: int, rounds: int, load: Any) -> None:
    """Alternating runs on the two servers (both up, the idle one costs nothing), so the machine's other
    load weighs on both alike; prints each run, the medians and the ratio."""
    load(ladle.url, warm=True)
    load(feast.url, warm=True)
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(load(ladle.url))
        report(f"ladle, {workers} worker(s)", ours[-1])
        theirs.append(load(feast.url))
        report(f"Feast 0.67, {workers} worker(s)", theirs[-1])
    a, b = median_run(ours), median_run(theirs)
    print(f"  median of {rounds}: ladle {a['rps']:,.0f} req/s (p99 {a['p99']:.2f} ms), Feast {b['rps']:,.0f} req/s "
          f"(p99 {b['p99']:.2f} ms): ladle {a['rps'] / b['rps']:.1f}x the requests/s")


def report(label: str, r: dict[str, float]) -> None:
    print(f"  {label:<34} {r['rps']:>8,.0f} req/s   p50 {r['p50']:6.2f} ms   p99 {r['p99']:6.2f} ms   "
          f"max {r['max']:7.2f} ms   ({int(r['requests']):,} requests, {int(r['errors'])} non-200)")


def refresh_phase(server: Served, registry: Path, versions: tuple[bytes, bytes], workers: int, load: Any) -> None:
    """A run while the registry file is replaced every 0.5 s (the server re-reads it every 0.25 s)."""
    before = server.refreshes()
    flipper = RegistryFlipper(registry, versions, 0.5)
    flipper.start()
    try:
        during = load(server.url)
    finally:
        flipper.stop_event.set()
        flipper.join()
        registry.write_bytes(versions[1])
    report(f"{workers} worker(s), registry changing", during)
    print(f"    registry replaced {flipper.flips} times; the server re-read it "
          f"{server.refreshes() - before} times (metrics of the worker that answered)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--online", choices=["sqlite", "redis"], default="sqlite")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--requests", type=int, default=20_000, help="requests per run of the Python load generator")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--python-load", action="store_true", help="use the Python load generator even if wrk exists")
    parser.add_argument("--feast-python", help="a Python with Feast 0.67: run `feast serve` on the same data and load")
    parser.add_argument("--no-refresh-phase", action="store_true", help="skip the run with the registry changing")
    parser.add_argument("--rounds", type=int, default=3, help="alternating ladle/Feast runs per worker count")
    parser.add_argument("--feast-max-requests", type=int, default=None,
                        help="feast serve --max-requests (default: Feast's own, 1,000: gunicorn recycles each worker "
                             "after that many requests); a large number turns the recycling off")
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None and not args.python_load
    repo, without, with_service = build_repo(args.online)
    registry = repo / "data/registry.db"
    print(f"ladle serve, {args.online} online store, 1 entity x 6 features from 2 views, {args.connections} connections, "
          f"load: {'wrk' if use_wrk else 'Python (asyncio streams)'}, {os.cpu_count()} cores")

    def load(url: str, warm: bool = False) -> dict[str, float]:
        if warm:
            return run_wrk(url, 2, args.connections) if use_wrk else run_python(url, 2000, args.connections)
        return run_wrk(url, args.duration, args.connections) if use_wrk else run_python(url, args.requests, args.connections)

    feast = FeastRepo(args, repo) if args.feast_python else None
    try:
        for workers in args.workers:
            server = Served(repo, workers, ttl=0.25)
            try:
                if feast is not None:
                    theirs = feast.serve(workers)
                    try:
                        side_by_side(server, theirs, workers, args.rounds, load)
                    finally:
                        theirs.stop()
                else:
                    load(server.url, warm=True)
                    report(f"{workers} worker(s)", load(server.url))
                if not args.no_refresh_phase:
                    refresh_phase(server, registry, (with_service, without), workers, load)
            finally:
                server.stop()
    finally:
        if feast is not None:
            feast.close()
        if args.online == "redis":
            import redis

            client = redis.Redis(host="127.0.0.1", port=6379)
            removed = sum(client.delete(k) for k in client.scan_iter(match=f"ladle:{PROJECT}:*", count=10_000))
            print(f"removed {removed:,} Redis keys ladle:{PROJECT}:*")
            registry.unlink(missing_ok=True)  # the online data is gone: materialize again next time


if __name__ == "__main__":
    main()
