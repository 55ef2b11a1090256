"""The registry-store protocol: where the registry's bytes live (a local file today; SQL and S3 later).

A store knows nothing about what the bytes mean. It offers whole-content reads and an atomic,
optimistically concurrent replace: every write names the *token* of the content it was computed from,
and the store refuses it (:class:`~ladle.errors.RegistryConflict`) when the stored content has changed
since, so two concurrent applies can never silently overwrite each other.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ladle.config import RegistryConfig

__all__ = ["RegistryStore", "content_token"]


def content_token(data: bytes | None) -> str | None:
    """The token of stored content: the sha256 hex digest of the bytes, ``None`` when nothing is stored.

    >>> content_token(None) is None
    True
    >>> content_token(b"{}")[:12]
    '44136fa355b3'
    """
    return None if data is None else hashlib.sha256(data).hexdigest()


class RegistryStore(abc.ABC):
    """Holds the registry's serialized content; one instance per registry location.

    Implementations must make :meth:`write` atomic (readers see the old or the new bytes, never a mix)
    and must perform its token check and replace as one step with respect to other writers, including
    writers in other processes.

    A store is created as ``Store(config, repo_path, project)``: the ``registry:`` section (a
    :class:`~ladle.config.RegistryConfig`), the repo folder (relative paths resolve against it) and the
    project whose registry it holds. Selected through :data:`ladle.backends.tables.REGISTRY_STORES`.
    """

    #: the store's name: its ``registry_type`` in feature_store.yaml
    name: ClassVar[str] = ""

    def __init__(self, config: RegistryConfig, repo_path: Path, project: str) -> None:
        self.config = config
        self.repo_path = Path(repo_path)
        self.project = project

    @abc.abstractmethod
    def read(self) -> bytes | None:
        """The stored bytes, or ``None`` when nothing has been written yet (or it was deleted)."""

    @abc.abstractmethod
    def write(self, data: bytes, expected_token: str | None) -> str:
        """Atomically replace the stored bytes with ``data`` and return the new content's token.

        ``expected_token`` is :meth:`token` of the content the caller read (``None``: it found nothing).
        Raises :class:`~ladle.errors.RegistryConflict`, writing nothing, when the stored content's token
        differs from it (someone else wrote in between).
        """

    @abc.abstractmethod
    def delete(self) -> None:
        """Remove the stored content (a no-op when there is none)."""

    def infra_lock(self) -> contextlib.AbstractContextManager[None]:
        """Held while the online store is changed to match the registry (one process at a time).

        Stores that can lock across processes override it (a file lock, a database advisory lock); the
        default does not lock, and a concurrent apply's online change may then race (see docs/reliability.md).
        """
        return contextlib.nullcontext()

    def token(self, data: bytes | None) -> str | None:
        """The token of ``data`` as returned by :meth:`read` (sha256 of the bytes by default)."""
        return content_token(data)

    def describe(self) -> str:
        """Where the content lives, for messages (a path or URL)."""
        return type(self).__name__
