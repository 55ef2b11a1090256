"""The default registry store: one local JSON file, replaced atomically under an advisory lock.

Feast users write ``registry: data/registry.db``; the name is kept although the content is JSON.
A write goes to a temporary file in the same folder, is fsync'ed, then renamed over the registry
(``os.replace`` is atomic), so readers never see a partial file. The token check and the rename run
while holding ``fcntl.flock`` on a sidecar ``<name>.lock`` file, so concurrent writers in other
processes cannot both pass the check.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ladle.errors import InvalidConfig, RegistryConflict
from ladle.registry.base import RegistryStore

if TYPE_CHECKING:
    from ladle.config import RegistryConfig

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks; the token check still runs
    fcntl = None  # type: ignore[assignment]

__all__ = ["FileRegistryStore", "file_lock"]


class FileRegistryStore(RegistryStore):
    """The registry as one local file.

    >>> import tempfile, pathlib
    >>> from ladle.config import RegistryConfig
    >>> store = FileRegistryStore(RegistryConfig(path="registry.db"), pathlib.Path(tempfile.mkdtemp()), "demo")
    >>> token = store.write(b"{}", expected_token=None)
    >>> store.read(), store.token(store.read()) == token
    (b'{}', True)
    """

    name = "file"

    def __init__(self, config: RegistryConfig, repo_path: Path, project: str) -> None:
        super().__init__(config, repo_path, project)
        if "://" in config.path:
            raise InvalidConfig(
                "feature_store.yaml",
                f"registry path '{config.path}' is remote, which ladle does not support yet",
                "use a local path such as data/registry.db, or registry_type: sql with a postgresql:// or "
                "sqlite:/// path",
            )
        path = Path(config.path)
        #: the registry file
        self.path = path if path.is_absolute() else self.repo_path / path

    @property
    def lock_path(self) -> Path:
        """The sidecar file locked around check-and-replace."""
        return self.path.with_name(self.path.name + ".lock")

    def describe(self) -> str:
        """The file's path."""
        return str(self.path)

    @property
    def infra_lock_path(self) -> Path:
        """The sidecar file locked while the online store is changed to match the registry."""
        return self.path.with_name(self.path.name + ".infra.lock")

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.lock_path)

    def infra_lock(self) -> contextlib.AbstractContextManager[None]:
        """An exclusive ``flock`` on ``<name>.infra.lock`` (separate from the write lock)."""
        return file_lock(self.infra_lock_path)

    def read(self) -> bytes | None:
        """The file's bytes, or ``None`` when it does not exist."""
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise InvalidConfig(
                str(self.path),
                "is a folder, not a registry file",
                "point `registry:` in feature_store.yaml at a file path, e.g. data/registry.db",
            ) from None
        except PermissionError as exc:
            raise InvalidConfig(
                str(self.path), f"cannot be read ({exc.strerror})", "check the file's permissions"
            ) from None

    def write(self, data: bytes, expected_token: str | None) -> str:
        """Replace the file with ``data`` if it still has ``expected_token`` (see :class:`RegistryStore`)."""
        with self._locked():
            current = self.token(self.read())
            if current != expected_token:
                raise RegistryConflict(
                    f"registry {self.path} was changed by another process after it was read; nothing was "
                    "written (run the command again)"
                )
            self._replace(data)
        token = self.token(data)
        assert token is not None
        return token

    def _replace(self, data: bytes) -> None:
        self._remove_orphans()
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self._sync_folder()

    def _remove_orphans(self) -> None:
        # temp files are only written under the lock, which we hold: any left is a killed writer's
        for orphan in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            orphan.unlink(missing_ok=True)

    def _sync_folder(self) -> None:
        # make the rename itself durable (best effort: not every platform can open a folder)
        with contextlib.suppress(OSError):
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def delete(self) -> None:
        """Remove the registry file and its lock file."""
        if not self.path.parent.exists():
            return
        with self._locked():
            self.path.unlink(missing_ok=True)
        # a writer still waiting on the old lock fails its token check (the file is gone), never overwrites
        self.lock_path.unlink(missing_ok=True)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (``flock``) on ``path``, created if needed, across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as lock:
        if fcntl is not None:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
