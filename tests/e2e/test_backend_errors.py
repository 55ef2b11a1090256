"""What a user sees when a production backend is misconfigured: ``ladle apply`` / ``ladle validate`` stop
with one ``Error:`` line naming the store, the object and the fix — never a driver traceback.

Unreachable servers use a closed loopback port; the PostgreSQL cases that need a live server (missing
table, missing column, a column of the wrong type, an unknown role) skip without it, or fail under
``LADLE_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import PG_DSN, postgres_admin
from conftest import RepoFactory
from e2e.test_cli import fails, ok

FEATURES = """
from datetime import timedelta
from feast import Entity, FeatureView, Field
from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import PostgreSQLSource
from feast.types import Float64, Int64, String

driver = Entity(name="driver", join_keys=["driver_id"])
source = PostgreSQLSource(name="driver_stats_source", table="{table}", timestamp_field="event_timestamp")
driver_stats = FeatureView(
    name="driver_stats", entities=[driver], ttl=timedelta(days=1), source=source,
    schema=[Field(name="conv_rate", dtype={conv_type}), Field(name="{trips}", dtype=Int64)],
)
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def yaml(
    offline: str, online: str = "  type: sqlite\n  path: data/online.db", registry: str = "data/registry.db"
) -> str:
    return f"project: errs\nregistry: {registry}\nprovider: local\noffline_store:\n{offline}\nonline_store:\n{online}\n"


def pg_offline(schema: str, dsn: str = PG_DSN) -> str:
    return f'  type: postgres\n  dsn: "{dsn}"\n  db_schema: {schema}'


@pytest.fixture
def pg_schema() -> Iterator[str]:
    admin = postgres_admin()
    schema = f"ladle_err_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    admin.execute(
        f'CREATE TABLE "{schema}".driver_stats (driver_id BIGINT, event_timestamp TIMESTAMPTZ, '
        "conv_rate DOUBLE PRECISION, trips BIGINT)"
    )
    admin.execute(f'INSERT INTO "{schema}".driver_stats VALUES (1, now(), 0.5, 3)')
    yield schema
    admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    admin.close()


def repo(
    make_repo: RepoFactory, config: str, table: str = "driver_stats", conv_type: str = "Float64", trips: str = "trips"
) -> Path:
    files = {"features.py": FEATURES.format(table=table, conv_type=conv_type, trips=trips)}
    return make_repo(files, yaml=config, name=f"repo_{uuid.uuid4().hex[:6]}")


def test_unreachable_postgres_offline_store(make_repo: RepoFactory) -> None:
    port = closed_port()
    path = repo(make_repo, yaml(pg_offline("public", f"host=127.0.0.1 port={port} user=postgres dbname=test")))
    for command in ("apply", "validate"):
        err = fails(command, cwd=path)
        assert "postgres offline store: cannot connect to PostgreSQL at 127.0.0.1:" in err
        assert str(port) in err and "source 'driver_stats_source'" in err
        assert "start PostgreSQL or fix offline_store host/port/database/user/password (or dsn)" in err
    assert not (path / "data" / "registry.db").exists()


@pytest.mark.services
def test_postgres_source_problems_are_named_at_apply(make_repo: RepoFactory, pg_schema: str) -> None:
    good = repo(make_repo, yaml(pg_offline(pg_schema)))
    assert "+ feature view 'driver_stats'" in ok("apply", cwd=good)
    assert "No changes" in ok("plan", cwd=good)

    err = fails("validate", cwd=repo(make_repo, yaml(pg_offline(pg_schema)), table="no_such_table"))
    assert "postgres offline store" in err and "source 'driver_stats_source'" in err
    assert 'relation "no_such_table" does not exist' in err and "check the source's table/query" in err

    err = fails("apply", cwd=repo(make_repo, yaml(pg_offline(pg_schema)), trips="trip_count"))
    assert "FeatureView 'driver_stats': feature 'trip_count' is not a column of source 'driver_stats_source'" in err

    err = fails("apply", cwd=repo(make_repo, yaml(pg_offline(pg_schema)), conv_type="String"))
    assert (
        "FeatureView 'driver_stats': feature 'conv_rate' is declared String, but column 'conv_rate' of source "
        "'driver_stats_source' holds double"
    ) in err
    assert "change the Field's dtype" in err

    role = f"host=127.0.0.1 port=5432 user=nobody_{uuid.uuid4().hex[:6]} dbname=test"
    err = fails("apply", cwd=repo(make_repo, yaml(pg_offline(pg_schema, role))))
    assert "postgres offline store: cannot connect to PostgreSQL" in err and "does not exist" in err


def test_unreachable_online_stores(make_repo: RepoFactory) -> None:
    file_offline = "  type: duckdb"
    port = closed_port()
    features = """
        from datetime import timedelta
        from feast import Entity, FeatureView, Field, FileSource
        from feast.types import Float64
        driver = Entity(name="driver", join_keys=["driver_id"])
        stats = FeatureView(name="driver_stats", entities=[driver], ttl=timedelta(days=1),
                            schema=[Field(name="conv_rate", dtype=Float64)],
                            source=FileSource(name="src", path="data/stats.parquet", timestamp_field="event_timestamp"))
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    cases = {
        "redis": (
            f"  type: redis\n  connection_string: 127.0.0.1:{port}",
            "redis online store: cannot reach Redis at",
            "start Redis or fix online_store.connection_string",
        ),
        "postgres": (
            f'  type: postgres\n  dsn: "host=127.0.0.1 port={port} user=postgres dbname=test"',
            "postgres online store: cannot connect to PostgreSQL",
            "start PostgreSQL or fix online_store",
        ),
        "dynamodb": (
            f"  type: dynamodb\n  region: us-east-1\n  endpoint_url: http://127.0.0.1:{port}",
            "dynamodb online store: cannot reach DynamoDB",
            "endpoint_url",
        ),
    }
    for name, (online, problem, fix) in cases.items():
        path = make_repo({"features.py": features}, yaml=yaml(file_offline, online), name=name)
        pq.write_table(
            pa.table(
                {"driver_id": [1], "event_timestamp": pa.array([0], pa.timestamp("us", tz="UTC")), "conv_rate": [0.5]}
            ),
            path / "data" / "stats.parquet",
        )
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        err = fails("apply", cwd=path)
        assert problem in err and fix in err, (name, err)
        assert not (path / "data" / "registry.db").exists(), name  # nothing half-applied
        started = time.monotonic()
        err = fails("validate", cwd=path)  # validate checks what apply checks, without writing
        assert problem in err and fix in err and str(port) in err, (name, err)
        assert time.monotonic() - started < 20, name  # bounded timeouts and retries
        assert not (path / "data" / "registry.db").exists(), name


def test_unreachable_sql_registry(make_repo: RepoFactory) -> None:
    port = closed_port()
    path = make_repo(
        {"features.py": "from feast import Entity\ndriver = Entity(name='driver', join_keys=['id'])\n"},
        yaml=f"project: errs\nregistry:\n  registry_type: sql\n  path: postgresql://postgres@127.0.0.1:{port}/test\n",
    )
    for command in ("apply", "validate"):
        err = fails(command, cwd=path)
        assert "sql registry: cannot reach" in err and str(port) in err
