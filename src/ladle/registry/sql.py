"""Registry in a SQL database (``registry: {registry_type: sql, path: postgresql://... | sqlite:///...}``).

One row per project in ``ladle_registry(project, content, token, updated_at)``. A write is a single
conditional statement — ``INSERT ... ON CONFLICT DO NOTHING`` for a first write, ``UPDATE ... WHERE token =
<the token read>`` after that — so of two concurrent applies exactly one succeeds and the other gets
:class:`~ladle.errors.RegistryConflict`; readers see the old or the new document, never a mix.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ladle.errors import BackendFailure, BackendUnavailable, MissingExtra, RegistryConflict
from ladle.registry.base import RegistryStore, content_token
from ladle.registry.file import file_lock

if TYPE_CHECKING:
    from ladle.config import RegistryConfig

__all__ = ["SqlRegistryStore"]

_CREATE = (
    "CREATE TABLE IF NOT EXISTS ladle_registry "
    "(project TEXT PRIMARY KEY, content {blob} NOT NULL, token TEXT NOT NULL, updated_at TEXT NOT NULL)"
)


class SqlRegistryStore(RegistryStore):
    """The registry document of one project, in PostgreSQL or SQLite."""

    name = "sql"

    def __init__(self, config: RegistryConfig, repo_path: Path, project: str) -> None:
        super().__init__(config, repo_path, project)
        url = self.url = config.path
        if url.startswith(("postgresql://", "postgres://")):
            self._dialect = "postgres"
        elif url.startswith("sqlite:///"):
            self._dialect = "sqlite"
            path = Path(url.removeprefix("sqlite:///"))
            self._sqlite_path = path if path.is_absolute() else repo_path / path
        else:
            raise BackendFailure(
                "sql registry", f"unsupported registry URL '{url}'", "use postgresql://user@host/db or sqlite:///path"
            )

    def describe(self) -> str:
        return self.url.split("@")[-1] if self._dialect == "postgres" else self.url

    def _run(self, work: Callable[[Any, str], Any]) -> Any:
        """Run ``work(cursor, placeholder)`` in one transaction, with the table in place."""
        if self._dialect == "sqlite":
            self._sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._sqlite_path, timeout=30, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(_CREATE.format(blob="BLOB"))
                result = work(conn.cursor(), "?")
                conn.execute("COMMIT")
                return result
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise BackendFailure("sql registry", f"{self.describe()}: {exc}") from exc
            finally:
                conn.close()
        try:
            import psycopg
        except ImportError as exc:
            raise MissingExtra("the sql registry on PostgreSQL", "postgres", "psycopg") from exc
        try:
            with psycopg.connect(self.url, connect_timeout=10) as conn, conn.cursor() as cur:
                cur.execute(_CREATE.format(blob="BYTEA"))
                return work(cur, "%s")
        except psycopg.OperationalError as exc:
            raise BackendUnavailable(
                "sql registry",
                f"cannot reach {self.describe()}: {exc}",
                "check the registry path (host, port, user, password)",
            ) from exc
        except psycopg.Error as exc:
            raise BackendFailure("sql registry", f"{self.describe()}: {exc}") from exc

    def infra_lock(self) -> contextlib.AbstractContextManager[None]:
        return self._infra_lock()

    @contextlib.contextmanager
    def _infra_lock(self) -> Iterator[None]:
        """PostgreSQL: a session advisory lock per project; SQLite: ``flock`` on ``<db>.infra.lock``."""
        if self._dialect == "sqlite":
            with file_lock(self._sqlite_path.with_name(self._sqlite_path.name + ".infra.lock")):
                yield
            return
        key = int.from_bytes(hashlib.sha256(f"ladle-infra:{self.project}".encode()).digest()[:8], "big", signed=True)
        import psycopg

        try:
            conn = psycopg.connect(self.url, connect_timeout=10, autocommit=True)
        except psycopg.Error as exc:
            raise BackendUnavailable(
                "sql registry",
                f"cannot reach {self.describe()}: {exc}",
                "check the registry path (host, port, user, password)",
            ) from exc
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            yield
        finally:
            conn.close()  # ends the session, which releases the lock

    def read(self) -> bytes | None:
        def work(cur: Any, p: str) -> bytes | None:
            cur.execute(f"SELECT content FROM ladle_registry WHERE project = {p}", (self.project,))
            row = cur.fetchone()
            return None if row is None else bytes(row[0])

        result: bytes | None = self._run(work)
        return result

    def write(self, data: bytes, expected_token: str | None) -> str:
        token = content_token(data)
        assert token is not None
        now = datetime.now(UTC).isoformat()

        def work(cur: Any, p: str) -> int:
            if expected_token is None:
                cur.execute(
                    f"INSERT INTO ladle_registry (project, content, token, updated_at) VALUES ({p}, {p}, {p}, {p}) "
                    "ON CONFLICT (project) DO NOTHING",
                    (self.project, data, token, now),
                )
            else:
                cur.execute(
                    f"UPDATE ladle_registry SET content = {p}, token = {p}, updated_at = {p} "
                    f"WHERE project = {p} AND token = {p}",
                    (data, token, now, self.project, expected_token),
                )
            return int(cur.rowcount)

        if self._run(work) != 1:
            raise RegistryConflict(
                f"registry {self.describe()} (project '{self.project}') was changed by another process since it "
                "was read; nothing was written (run the command again)"
            )
        return token

    def delete(self) -> None:
        self._run(lambda cur, p: cur.execute(f"DELETE FROM ladle_registry WHERE project = {p}", (self.project,)))
