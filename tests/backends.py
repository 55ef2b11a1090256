"""The backends every suite runs on: where each service is, the one rule for a service that is absent, the
backend fixtures, and strict markers for a backend's known gaps.

The rule: a test that needs a service (PostgreSQL, Redis, a moto server, Spark on Java) carries the
``services`` marker; when the service is absent it is skipped with the reason on a laptop, and fails under
``LADLE_REQUIRE_SERVICES=1`` (what CI sets). The marker is applied from the fixtures and backend parameters a
test uses (see ``is_service_test``); a test that talks to a service directly says so with
``@pytest.mark.services``, and the helpers here fail a test that reaches a service without it, so
``pytest -m "not services"`` stays a run that needs nothing but Python.

Where the services are (loopback defaults, each overridable):

- PostgreSQL: ``LADLE_TEST_POSTGRES_DSN`` (libpq key=value), default ``host=127.0.0.1 port=5432 user=postgres
  dbname=test``; ``LADLE_TEST_POSTGRES_URL`` for the SQL registry's URL form, derived from the DSN by default.
- Redis: ``LADLE_TEST_REDIS_URL`` (``host:port``), default ``127.0.0.1:6379``.
- moto: the ``moto_server`` program beside the interpreter, started on a free loopback port.
- Spark: pyspark in local mode with ``java`` on PATH (see ``spark_session``).
- Chromium: ``LADLE_TEST_CHROMIUM`` and ``LADLE_TEST_CHROMEDRIVER``, default Debian's ``/usr/bin/chromium`` and
  ``/usr/bin/chromedriver`` (packages ``chromium`` and ``chromium-driver``), driven by Selenium (the UI's tests).

Gap markers, the ibis way: ``@notimpl(["redis"], reason=...)`` is a gap that should close some day (a strict
xfail: the test fails once the backend starts passing), ``@never(["redis"], reason=...)`` a difference by
design (a skip with the reason). Both apply only to the test's parametrizations whose backend parameter
(any string parameter, or ``"name=value"`` to pick one parameter) is in the list.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from ladle.offline.base import OfflineStore
from ladle.offline.duckdb import DuckDBOfflineStore, DuckDBOfflineStoreConfig
from ladle.online.base import OnlineStore
from ladle.online.sqlite import SqliteOnlineStore, SqliteOnlineStoreConfig

# --- where the services are -----------------------------------------------------------------------------
PG_DSN = os.environ.get("LADLE_TEST_POSTGRES_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
_PG = dict(part.split("=", 1) for part in PG_DSN.split())
PG_URL = os.environ.get(
    "LADLE_TEST_POSTGRES_URL",
    f"postgresql://{_PG.get('user', 'postgres')}@{_PG.get('host', '127.0.0.1')}:{_PG.get('port', '5432')}/"
    f"{_PG.get('dbname', 'test')}",
)
REDIS_URL = os.environ.get("LADLE_TEST_REDIS_URL", "127.0.0.1:6379").removeprefix("redis://")

#: the backends each suite runs on (parameter ids); the ones marked below need a service
ONLINE = ("dynamodb", "dynamodb-batch", "postgres", "redis", "sqlite")
OFFLINE = ("duckdb", "postgres", "spark")
REGISTRY = ("file", "s3", "sql-postgres", "sql-sqlite")
SERVICE_BACKENDS = frozenset({"dynamodb", "dynamodb-batch", "postgres", "redis", "spark", "s3", "sql-postgres"})
#: fixtures that start or reach a service: a test using one is a service test
SERVICE_FIXTURES = frozenset({"moto_endpoint", "pg_schema", "redis_client", "chromium_driver"})
CHROMIUM = os.environ.get("LADLE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LADLE_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
KNOWN_BACKENDS = frozenset(ONLINE) | frozenset(OFFLINE) | frozenset(REGISTRY)


# --- the one rule -----------------------------------------------------------------------------------------
def services_required() -> bool:
    """True under ``LADLE_REQUIRE_SERVICES=1``: an absent service is then a failure, not a skip."""
    return os.environ.get("LADLE_REQUIRE_SERVICES") == "1"


def unavailable(service: str, why: str) -> NoReturn:
    """Skip the test (a laptop without ``service``), or fail it when services are required."""
    if services_required():
        pytest.fail(f"{service} is required (LADLE_REQUIRE_SERVICES=1) but {why}")
    pytest.skip(f"{service} not available: {why}")


#: the test being set up or run (set by conftest), so a helper can check it declares its service
current_item: list[pytest.Item] = []


def claim(service: str) -> None:
    """Fail a test that reaches ``service`` without the ``services`` marker (it would break ``-m 'not services'``)."""
    if current_item and current_item[-1].get_closest_marker("services") is None:
        pytest.fail(
            f"{current_item[-1].nodeid} uses {service} but carries no `services` marker: "
            "add @pytest.mark.services (or use a fixture from tests/backends.py)"
        )


def import_driver(module: str, service: str) -> Any:
    """Import a service's client library, or apply the rule (it comes with the dev extra)."""
    claim(service)
    try:
        return __import__(module)
    except ImportError as exc:
        unavailable(service, f"{module} is not installed ({exc}): pip install -e '.[dev]'")


def postgres_admin() -> Any:
    """An autocommit psycopg connection to the test PostgreSQL (the caller closes it)."""
    psycopg = import_driver("psycopg", "PostgreSQL")
    try:
        return psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        unavailable("PostgreSQL", f"'{PG_DSN}' is unreachable: {exc}")


def redis_ping() -> Any:
    """A client of the test Redis that has answered a ping (the caller closes it)."""
    redis = import_driver("redis", "Redis")
    host, _, port = REDIS_URL.partition(":")
    client = redis.Redis(host=host, port=int(port or 6379), socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        unavailable("Redis", f"{REDIS_URL} is unreachable: {exc}")
    return client


def program(name: str, service: str, install: str) -> str:
    """The path of a service program (``redis-server``, ``moto_server``), or the rule when it is absent."""
    claim(service)
    beside = Path(sys.executable).parent / name  # the venv's console scripts come first
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        unavailable(service, f"the {name} program is not installed ({install})")
    return found


def free_port() -> int:
    """A loopback port nothing listens on (free when asked)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto_server(env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start a moto server (with extra environment ``env``) on a free loopback port; returns it and its URL."""
    server = program("moto_server", "moto", "pip install 'moto[server]'")
    port = free_port()
    proc = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}"
        time.sleep(0.1)
    proc.kill()
    pytest.fail("moto_server did not start within 30 s")


# --- Spark ------------------------------------------------------------------------------------------------
#: local mode on two cores; the JVM start-up is the slow part, so one session serves the whole run
SPARK_CONF = {
    "spark.master": "local[2]",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    "spark.driver.memory": "2g",
    "spark.sql.warehouse.dir": "/tmp/ladle-spark-warehouse",
    "spark.driver.extraJavaOptions": "-Dderby.system.home=/tmp/ladle-spark-derby",
}


@functools.cache
def _session() -> Any:
    from pyspark.sql import SparkSession

    # Python workers run this interpreter (the venv with ladle and pyarrow), not the first python3 on PATH
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("ladle-tests")
    for key, value in SPARK_CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_session() -> Any:
    """The shared local SparkSession (created on first use); Java and pyspark come with the dev extra."""
    import_driver("pyspark", "Spark")
    if shutil.which("java") is None:
        unavailable("Spark", "java is not on PATH (Spark needs Java 17+)")
    return _session()


# --- gap markers ------------------------------------------------------------------------------------------
def notimpl(backends: Iterable[str], *, reason: str) -> pytest.MarkDecorator:
    """A gap that should close: on these backends the test is a strict xfail (it fails once it passes)."""
    return pytest.mark.notimpl(tuple(backends), reason=reason)


def never(backends: Iterable[str], *, reason: str) -> pytest.MarkDecorator:
    """A difference by design: on these backends the test is skipped, with the reason."""
    return pytest.mark.never(tuple(backends), reason=reason)


def _matches(item: pytest.Item, names: tuple[str, ...]) -> bool:
    params = getattr(getattr(item, "callspec", None), "params", {})
    for name in names:
        arg, _, value = name.rpartition("=")
        if (value not in KNOWN_BACKENDS) or (arg and arg not in params):
            raise pytest.UsageError(
                f"{item.nodeid}: gap marker names {name!r}, not a backend of {sorted(KNOWN_BACKENDS)}"
            )
        if params.get(arg) == value if arg else value in params.values():
            return True
    return False


def apply_gap_markers(item: pytest.Item) -> None:
    """Turn ``notimpl``/``never`` into a strict xfail/skip on the parametrizations of the backends they name."""
    for mark in item.iter_markers("notimpl"):
        if _matches(item, mark.args[0]):
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"not implemented: {mark.kwargs['reason']}"))
    for mark in item.iter_markers("never"):
        if _matches(item, mark.args[0]):
            item.add_marker(pytest.mark.skip(reason=f"never: {mark.kwargs['reason']}"))


def is_service_test(item: pytest.Item) -> bool:
    """A test needs a service when it uses a service fixture or runs on a service backend."""
    if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    params = getattr(getattr(item, "callspec", None), "params", {})
    return any(isinstance(v, str) and v in SERVICE_BACKENDS for v in params.values())


# --- fixtures shared by every suite ----------------------------------------------------------------------
@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real moto server (DynamoDB and S3 over HTTP) on a free loopback port, for the whole session."""
    proc, endpoint = start_moto_server()
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    yield endpoint
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema of the test's own, dropped (with all it holds) afterwards."""
    admin = postgres_admin()
    schema = f"ladle_t_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    yield schema
    admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.close()


@pytest.fixture
def redis_client() -> Iterator[Any]:
    """A client of the test Redis (the caller uses a key prefix of its own)."""
    client = redis_ping()
    yield client
    client.close()


@pytest.fixture(scope="module")
def chromium_driver() -> Iterator[Any]:
    """A headless Chromium driven by Selenium through the system's chromedriver (never a downloaded browser)."""
    for program in (CHROMIUM, CHROMEDRIVER):
        if not os.access(program, os.X_OK):
            unavailable("Chromium", f"{program} is not installed: apt-get install chromium chromium-driver")
    webdriver = import_driver("selenium.webdriver", "Chromium").webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except Exception as exc:  # selenium's WebDriverException: the browser did not start
        unavailable("Chromium", f"it did not start: {exc}")
    yield driver
    driver.quit()


# --- online stores ----------------------------------------------------------------------------------------
@dataclass
class OnlineBackend:
    """An online store for one test, the project it works in, and what the backend still holds for it."""

    name: str
    store: OnlineStore
    project: str
    leftovers: Callable[[], list[str]]


@contextlib.contextmanager
def _sqlite_online(tmp_path: Path) -> Iterator[OnlineBackend]:
    store = SqliteOnlineStore(SqliteOnlineStoreConfig(path="online.db"), tmp_path)
    db = tmp_path / "online.db"
    yield OnlineBackend("sqlite", store, f"p_{uuid.uuid4().hex[:8]}", lambda: [str(db)] if db.exists() else [])
    store.close()


@contextlib.contextmanager
def _redis_online(tmp_path: Path) -> Iterator[OnlineBackend]:
    from ladle.online.redis import RedisOnlineStore, RedisOnlineStoreConfig

    client = redis_ping()
    project = f"p_{uuid.uuid4().hex[:8]}"
    store = RedisOnlineStore(RedisOnlineStoreConfig(connection_string=REDIS_URL), tmp_path)

    def leftovers() -> list[str]:
        return [k.decode() for k in client.scan_iter(match=f"ladle:{project}:*")]

    yield OnlineBackend("redis", store, project, leftovers)
    for key in leftovers():
        client.delete(key)
    store.close()
    client.close()


@contextlib.contextmanager
def _postgres_online(tmp_path: Path) -> Iterator[OnlineBackend]:
    from ladle.online.postgres import PostgreSQLOnlineStore, PostgreSQLOnlineStoreConfig

    admin = postgres_admin()
    schema = f"ladle_test_{uuid.uuid4().hex[:8]}"
    store = PostgreSQLOnlineStore(PostgreSQLOnlineStoreConfig(dsn=PG_DSN, db_schema=schema), tmp_path)

    def leftovers() -> list[str]:
        rows = admin.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))
        return [r[0] for r in rows.fetchall()]

    yield OnlineBackend("postgres", store, "p", leftovers)
    store.close()
    admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.close()


@contextlib.contextmanager
def _dynamodb_online(tmp_path: Path, endpoint: str, write_mode: str) -> Iterator[OnlineBackend]:
    boto3 = import_driver("boto3", "DynamoDB (moto)")
    from ladle.online.dynamodb import DynamoDBOnlineStore, DynamoDBOnlineStoreConfig

    project = f"p{uuid.uuid4().hex[:8]}"
    store = DynamoDBOnlineStore(
        DynamoDBOnlineStoreConfig(endpoint_url=endpoint, write_concurrency=4, write_mode=write_mode), tmp_path
    )
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")

    def leftovers() -> list[str]:
        return [t for t in client.list_tables()["TableNames"] if t.startswith(f"{project}.")]

    name = "dynamodb-batch" if write_mode == "batch" else "dynamodb"
    yield OnlineBackend(name, store, project, leftovers)
    for table in leftovers():
        client.delete_table(TableName=table)
    store.close()


@contextlib.contextmanager
def online_backend(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[OnlineBackend]:
    """The online store ``name`` (one of ``ONLINE``), empty for this test, cleaned up afterwards."""
    if name.startswith("dynamodb"):
        mode = "batch" if name == "dynamodb-batch" else "conditional"
        opened = _dynamodb_online(tmp_path, request.getfixturevalue("moto_endpoint"), mode)
    else:
        opened = {"sqlite": _sqlite_online, "redis": _redis_online, "postgres": _postgres_online}[name](tmp_path)
    with opened as backend:
        yield backend


def online_backends(*names: str) -> Any:
    """A fixture parametrized over online stores (all of ``ONLINE`` by default), yielding an ``OnlineBackend``."""

    @pytest.fixture(params=names or ONLINE)
    def fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineBackend]:
        with online_backend(request.param, tmp_path, request) as backend:
            yield backend

    return fixture


# --- offline stores ---------------------------------------------------------------------------------------
@dataclass
class OfflineBackend:
    """An offline store for one test and where its source data goes: ``folder`` for file-based stores
    (DuckDB, Spark), ``schema`` plus an ``admin`` connection for PostgreSQL."""

    name: str
    store: OfflineStore
    folder: Path | None = None
    schema: str | None = None
    admin: Any = None


@contextlib.contextmanager
def offline_backend(name: str) -> Iterator[OfflineBackend]:
    """The offline store ``name`` (one of ``OFFLINE``) over an empty folder or schema, closed afterwards.

    A context manager rather than a fixture: property tests open a fresh one for every example."""
    if name == "postgres":
        from ladle.offline.postgres import PostgreSQLOfflineStore, PostgreSQLOfflineStoreConfig

        admin = postgres_admin()
        schema = f"ladle_off_{uuid.uuid4().hex[:8]}"
        admin.execute(f'CREATE SCHEMA "{schema}"')
        store: OfflineStore = PostgreSQLOfflineStore(
            PostgreSQLOfflineStoreConfig(dsn=PG_DSN, db_schema=schema), Path(".")
        )
        try:
            yield OfflineBackend(name, store, schema=schema, admin=admin)
        finally:
            store.close()
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            admin.close()
        return
    if name == "spark":
        spark_session()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if name == "spark":
            from ladle.offline.spark import SparkOfflineStore, SparkOfflineStoreConfig

            store = SparkOfflineStore(SparkOfflineStoreConfig(), folder)
        else:
            store = DuckDBOfflineStore(DuckDBOfflineStoreConfig(), folder)
        try:
            yield OfflineBackend(name, store, folder=folder)
        finally:
            store.close()


# --- registry stores --------------------------------------------------------------------------------------
def registry_locations(*names: str) -> Any:
    """A fixture parametrized over registry stores (all of ``REGISTRY`` by default), yielding
    ``(registry_type, path)`` of a fresh location; an s3 path carries its endpoint after ``|``."""

    @pytest.fixture(params=names or REGISTRY)
    def fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
        if request.param == "file":
            yield "file", str(tmp_path / "registry.db")
        elif request.param == "sql-sqlite":
            yield "sql", f"sqlite:///{tmp_path / 'registry.sqlite'}"
        elif request.param == "s3":
            endpoint = request.getfixturevalue("moto_endpoint")
            boto3 = import_driver("boto3", "S3 (moto)")
            bucket = f"ladle-{uuid.uuid4().hex[:12]}"
            boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
            yield "s3", f"s3://{bucket}/registry.json|{endpoint}"
        else:
            postgres_admin().close()
            yield "sql", PG_URL

    return fixture


# --- hooks (this module is a plugin: conftest's ``pytest_plugins``) ----------------------------------------
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The ``services`` marker on every test that needs a service; gap markers turned into xfail/skip."""
    for item in items:
        if is_service_test(item):
            item.add_marker(pytest.mark.services)
        apply_gap_markers(item)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    current_item[:] = [item]  # so a service helper can check that the test declares its service


def pytest_runtest_teardown() -> None:
    current_item.clear()
