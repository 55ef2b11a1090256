"""The default registry store: one local JSON file, replaced atomically under an advisory lock."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ladle.errors import RegistryConflict
from ladle.registry.base import RegistryStore, content_token

__all__ = ["FileRegistryStore"]


class FileRegistryStore(RegistryStore):
    """``registry: data/registry.db`` — the content is JSON whatever the file name says."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def describe(self) -> str:
        return str(self.path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def write(self, data: bytes, expected_token: str | None) -> str:
        with self._locked():
            current = content_token(self.read())
            if current != expected_token:
                raise RegistryConflict(
                    f"registry {self.path} was changed by another process since it was read; "
                    "nothing was written (run the command again)"
                )
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
        token = content_token(data)
        assert token is not None
        return token

    def delete(self) -> None:
        with self._locked():
            self.path.unlink(missing_ok=True)
        self.path.with_name(self.path.name + ".lock").unlink(missing_ok=True)
