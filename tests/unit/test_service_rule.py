"""The test suite's own rules (tests/backends.py), checked by running pytest on small test files: an absent
service skips a test on a laptop and fails it under ``LADLE_REQUIRE_SERVICES=1``; a test that reaches a
service without the ``services`` marker fails; ``notimpl`` is a strict xfail and ``never`` a skip, only on the
backends they name; the skew suite checks that Redis answers before using it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

TESTS = Path(__file__).parents[1]

PROBE = """
import pytest
from backends import never, notimpl, redis_ping

@pytest.fixture(params=["sqlite", "redis"])
def store(request):
    return request.param

@notimpl(["redis"], reason="redis lacks it for now")
def test_gap_that_still_fails(store):
    assert store == "sqlite"

@notimpl(["redis"], reason="redis lacks it for now")
def test_gap_that_closed(store):
    pass

@never(["online=redis"], reason="no such thing in redis")
@pytest.mark.parametrize("online", ["sqlite", "redis"])
def test_by_design(online):
    assert online == "sqlite"

@pytest.mark.services
def test_declares_redis():
    redis_ping().close()

def test_forgets_to_declare_redis():
    redis_ping().close()
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends: nothing listens there


def outcomes(args: list[str], cwd: Path, reports: Path, **env: str) -> dict[str, tuple[str, str]]:
    """Run pytest in ``cwd`` with ``env``; {test name: (outcome, message)} from its JUnit report."""
    report = reports / f"report-{len(list(reports.glob('report-*')))}.xml"
    environ = {k: v for k, v in os.environ.items() if k != "LADLE_REQUIRE_SERVICES"}
    environ.update(PYTHONPATH=os.pathsep.join([str(TESTS), str(TESTS.parent / "src")]), **env)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", f"--junitxml={report}", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert report.exists(), done.stdout + done.stderr
    found: dict[str, tuple[str, str]] = {}
    for case in ET.parse(report).iter("testcase"):
        kinds = [child for child in case if child.tag in ("failure", "error", "skipped")]
        outcome = kinds[0].tag if kinds else "passed"
        found[case.get("name", "")] = (outcome, kinds[0].get("message", "") if kinds else "")
    return found


def test_absent_service_skips_or_fails_and_gap_markers_apply_per_backend(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(PROBE)
    redis = f"127.0.0.1:{closed_port()}"
    laptop = outcomes(["-p", "backends", "test_probe.py"], tmp_path, tmp_path, LADLE_TEST_REDIS_URL=redis)
    assert laptop["test_gap_that_still_fails[sqlite]"][0] == "passed"
    assert laptop["test_gap_that_still_fails[redis]"] == ("skipped", "not implemented: redis lacks it for now")
    assert laptop["test_gap_that_closed[redis]"][0] == "failure"  # strict: a closed gap must lose its marker
    assert "XPASS(strict)" in laptop["test_gap_that_closed[redis]"][1]
    assert laptop["test_by_design[sqlite]"][0] == "passed"
    assert laptop["test_by_design[redis]"] == ("skipped", "never: no such thing in redis")
    assert laptop["test_declares_redis"][0] == "skipped"
    assert f"Redis not available: {redis} is unreachable" in laptop["test_declares_redis"][1]
    assert laptop["test_forgets_to_declare_redis"][0] == "failure"
    assert "carries no `services` marker" in laptop["test_forgets_to_declare_redis"][1]

    ci = outcomes(
        ["-p", "backends", "test_probe.py", "-k", "declares"],
        tmp_path,
        tmp_path,
        LADLE_TEST_REDIS_URL=redis,
        LADLE_REQUIRE_SERVICES="1",
    )
    assert ci["test_declares_redis"][0] == "failure"
    assert "Redis is required (LADLE_REQUIRE_SERVICES=1)" in ci["test_declares_redis"][1]


def test_skew_suite_skips_redis_pairs_when_redis_is_absent(tmp_path: Path) -> None:
    """It used to write to 127.0.0.1:6379 without asking, failing where Redis is absent."""
    redis = f"127.0.0.1:{closed_port()}"
    suite = TESTS / "conformance" / "test_skew_invariant.py"
    got = outcomes([str(suite), "-k", "duckdb and redis"], TESTS.parent, tmp_path, LADLE_TEST_REDIS_URL=redis)
    assert list(got) == ["test_online_equals_historical_after_materialize[duckdb-redis]"]
    outcome, message = got["test_online_equals_historical_after_materialize[duckdb-redis]"]
    assert outcome == "skipped"
    assert message.startswith(f"Redis not available: {redis} is unreachable"), message
