"""Timestamps as users hand them over (pandas' default datetime64[ns], naive or in any zone) through every
FeatureStore path, on every offline store: get_historical_features, materialize, materialize_incremental,
push (online and offline) and write_to_online_store. Each returns the exact values of the instants given."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from backends import PG_DSN, postgres_admin, spark_session
from ladle import PushMode
from ladle.store import FeatureStore

T0 = datetime(2026, 10, 25, tzinfo=UTC)  # Europe/Berlin leaves summer time at 01:00 UTC that day

DEFINITIONS = """
from ladle import Entity, FeatureView, Field, FileSource, PostgreSQLSource, PushSource, SparkSource
from ladle.types import Float64

driver = Entity(name="driver", join_keys=["driver_id"])
source = {source}
push = PushSource(name="stats_push", batch_source=source)
stats = FeatureView(name="stats", entities=[driver], source=push, schema=[Field(name="rate", dtype=Float64)])
"""


def _h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def _stamps(instants: list[datetime], zone: str | None) -> pd.Series:
    """pandas datetime64[ns] in ``zone`` (naive: UTC wall-clock time)."""
    series = pd.Series(pd.to_datetime(instants, utc=True)).astype("datetime64[ns, UTC]")
    return series.dt.tz_localize(None) if zone is None else series.dt.tz_convert(zone)


def _history(zone: str | None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver_id": [1, 1, 2],
            "ts": _stamps([_h(0), _h(2), _h(1)], zone),
            "created": _stamps([_h(0), _h(2), _h(1)], zone),
            "rate": [0.1, 0.2, 0.5],
        }
    )


def _offline(kind: str, repo: Path, history: pd.DataFrame, request: pytest.FixtureRequest) -> tuple[str, str]:
    """(offline_store yaml, source definition) holding ``history``."""
    if kind in ("duckdb", "spark"):
        (repo / "data/stats").mkdir(parents=True)
        history.to_parquet(repo / "data/stats/part-0.parquet")  # pandas' default: nanosecond timestamps
        if kind == "spark":
            spark_session()
            return (
                "offline_store:\n  type: spark\n",
                "SparkSource(name='stats_src', path='data/stats', file_format='parquet', timestamp_field='ts', "
                "created_timestamp_column='created')",
            )
        return (
            "offline_store:\n  type: file\n",
            "FileSource(name='stats_src', path='data/stats', timestamp_field='ts', created_timestamp_column='created')",
        )
    schema = request.getfixturevalue("pg_schema")
    pg_type = "TIMESTAMP" if history["ts"].dt.tz is None else "TIMESTAMPTZ"
    admin = postgres_admin()
    admin.execute(f'CREATE TABLE "{schema}".stats (driver_id BIGINT, ts {pg_type}, created {pg_type}, rate FLOAT8)')
    with admin.cursor() as cur, cur.copy(f'COPY "{schema}".stats FROM STDIN') as copy:
        for row in history.itertuples(index=False):
            copy.write_row([row.driver_id, row.ts.to_pydatetime(), row.created.to_pydatetime(), row.rate])
    admin.close()
    return (
        f'offline_store:\n  type: postgres\n  dsn: "{PG_DSN}"\n  db_schema: {schema}\n',
        "PostgreSQLSource(name='stats_src', table='stats', timestamp_field='ts', created_timestamp_column='created')",
    )


CASES = [  # offline store, zone of the source's timestamps, zone of the caller's timestamps
    ("duckdb", "UTC", "Asia/Kolkata"),
    ("duckdb", None, "Europe/Berlin"),
    ("duckdb", "Europe/Berlin", None),
    ("duckdb", "America/Bogota", "UTC"),
    ("postgres", "UTC", "Europe/Berlin"),
    ("postgres", None, "America/Bogota"),
    ("spark", "UTC", "Europe/Berlin"),
]


@pytest.mark.parametrize(("offline", "source_zone", "zone"), CASES)
def test_nanosecond_timestamps_through_every_path(
    offline: str, source_zone: str | None, zone: str | None, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    offline_yaml, source = _offline(offline, repo, _history(source_zone), request)
    (repo / "feature_store.yaml").write_text(
        f"project: ts{uuid.uuid4().hex[:8]}\nregistry: data/registry.db\nprovider: local\n"
        + offline_yaml
        + "online_store:\n  type: sqlite\n  path: data/online.db\n"
    )
    (repo / "features.py").write_text(DEFINITIONS.format(source=source))
    store = FeatureStore(repo_path=repo)
    try:
        store.apply_repo()
        entity_df = pd.DataFrame(
            {"driver_id": [1, 1, 2, 2], "event_timestamp": _stamps([_h(1.5), _h(2), _h(0.5), _h(3)], zone)}
        )
        training = store.get_historical_features(entity_df, ["stats:rate"]).to_df()
        assert training["rate"].tolist()[:2] == [0.1, 0.2]
        assert pd.isna(training["rate"].iloc[2]) and training["rate"].iloc[3] == 0.5
        assert training["event_timestamp"].equals(entity_df["event_timestamp"])  # the caller's column, unchanged

        store.materialize(_h(-1).replace(tzinfo=None), _h(1.5))  # a naive bound is UTC
        assert _online(store) == ([0.1, 0.5], [_h(0), _h(1)])
        store.materialize_incremental(_h(3))
        assert _online(store) == ([0.2, 0.5], [_h(2), _h(1)])

        mode = PushMode.ONLINE if offline == "spark" else PushMode.ONLINE_AND_OFFLINE
        store.push(
            "stats_push",
            pd.DataFrame(
                {"driver_id": [2], "ts": _stamps([_h(4)], zone), "created": _stamps([_h(4)], zone), "rate": [0.7]}
            ),
            to=mode,
        )
        assert _online(store) == ([0.2, 0.7], [_h(2), _h(4)])
        if mode is PushMode.ONLINE_AND_OFFLINE:
            later = pd.DataFrame({"driver_id": [2], "event_timestamp": _stamps([_h(5)], zone)})
            assert store.get_historical_features(later, ["stats:rate"]).to_df()["rate"].tolist() == [0.7]

        seconds = pd.Series(_stamps([_h(6)], zone)).astype(f"datetime64[s{', ' + zone if zone else ''}]")
        store.write_to_online_store("stats", pd.DataFrame({"driver_id": [1], "ts": seconds, "rate": [0.9]}))
        assert _online(store) == ([0.9, 0.7], [_h(6), _h(4)])
    finally:
        store.teardown()
        store.close()


def _online(store: FeatureStore) -> tuple[list[float], list[datetime]]:
    response = store.get_online_features(["stats:rate"], {"driver_id": [1, 2]})
    return response.to_dict()["rate"], response.event_timestamps["rate"]
