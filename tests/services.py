"""The external services tests use, and the one rule for their absence: a skip on a laptop, a failure
under ``LADLE_REQUIRE_SERVICES=1`` (what CI sets)."""

from __future__ import annotations

import os
from typing import Any, NoReturn

import pytest

#: the test PostgreSQL (trust auth on loopback in CI); override with LADLE_TEST_POSTGRES_DSN
PG_DSN = os.environ.get("LADLE_TEST_POSTGRES_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")


def unavailable(service: str, why: str) -> NoReturn:
    """Skip the test, or fail it when services are required."""
    if os.environ.get("LADLE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{service} is required (LADLE_REQUIRE_SERVICES=1) but {why}")
    pytest.skip(f"{service} not available: {why}")


def postgres_admin() -> Any:
    """An autocommit psycopg connection to the test PostgreSQL (the caller closes it)."""
    psycopg = pytest.importorskip("psycopg")
    try:
        return psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        unavailable("PostgreSQL", f"'{PG_DSN}' is unreachable: {exc}")
