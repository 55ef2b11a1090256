"""The on-disk (or in-bucket) layout of published feature sets, through ``pyarrow.fs``::

    <root>/<view>/<version>/data.parquet
    <root>/<view>/<version>/metadata.json     written last: a version exists once its metadata does
    <root>/<view>/latest                       {"version": "<version>", "moved_at": ..., "previous": ...}

The pointer is replaced as a whole: locally written beside itself and renamed over the old one (POSIX
rename is atomic), on an object store one PUT (atomic per object). A reader therefore sees the old or the
new pointer, never a mix; a ``FileSource`` whose path ends in ``/latest`` reads the version it names
(:mod:`ladle.offline.filesystem`).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from ladle.errors import BackendFailure, InvalidRequest
from ladle.offline.filesystem import POINTER_NAME, ObjectStoreOptions, ParquetPath, parse_pointer

__all__ = ["DATA_FILE", "METADATA_FILE", "FeatureSetRoot", "VersionInfo", "check_version_name"]

METADATA_FILE = "metadata.json"
DATA_FILE = "data.parquet"
_VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
_STORE = "feature-set root"


def check_version_name(version: str) -> str:
    """``version`` if it can name a folder on every filesystem and is not the pointer's name."""
    if not isinstance(version, str) or not _VERSION_NAME.match(version) or version == POINTER_NAME:
        raise InvalidRequest(
            f"'{version}' cannot name a feature-set version: use letters, digits and . _ + - (not starting with "
            f"one of them, at most 128 characters), and not '{POINTER_NAME}', e.g. --version v2"
        )
    return version


@dataclass(frozen=True)
class VersionInfo:
    """One published version: its name, its ``metadata.json`` and whether ``latest`` points at it."""

    version: str
    metadata: dict[str, Any]
    is_latest: bool


class FeatureSetRoot:
    """The folder (local or object store) holding every published feature set."""

    def __init__(self, root: str, repo_path: Path, options: ObjectStoreOptions) -> None:
        self.uri = root.rstrip("/") or root
        path = ParquetPath(self.uri, f"feature-set root '{self.uri}'", repo_path, options, store=_STORE)
        self.fs, self.base, self.is_local = path.filesystem, path.fs_path, path.is_local
        self._path = path

    # --- where -----------------------------------------------------------------------------------------
    def view_dir(self, view: str) -> str:
        """The folder of one view's versions (inside :attr:`fs`)."""
        return f"{self.base}/{view}"

    def version_dir(self, view: str, version: str) -> str:
        """The folder of one version (inside :attr:`fs`)."""
        return f"{self.base}/{view}/{version}"

    def source_path(self, view: str, version: str = POINTER_NAME) -> str:
        """What a ``FileSource(path=...)`` names to read ``latest`` (default) or a pinned version."""
        if self.is_local and "://" not in self.uri:
            return f"{self.base}/{view}/{version}"
        return f"{self.uri}/{view}/{version}"

    # --- reading ---------------------------------------------------------------------------------------
    def _read_bytes(self, path: str) -> bytes | None:
        try:
            if self.fs.get_file_info(path).type != pafs.FileType.File:
                return None
            with self.fs.open_input_stream(path) as stream:
                data: bytes = stream.read()
                return data
        except OSError as exc:
            raise self._path._mapped(exc, "reading") from exc

    def pointer(self, view: str) -> str | None:
        """The version ``latest`` names, or None before the first publish."""
        data = self._read_bytes(f"{self.view_dir(view)}/{POINTER_NAME}")
        return None if data is None else parse_pointer(data)

    def metadata(self, view: str, version: str) -> dict[str, Any]:
        """The ``metadata.json`` of a version; :class:`InvalidRequest` naming the versions there are if absent."""
        data = self._read_bytes(f"{self.version_dir(view, version)}/{METADATA_FILE}")
        if data is None:
            known = [v.version for v in self.versions(view)]
            raise InvalidRequest(
                f"feature view '{view}' has no published version '{version}' under {self.uri}; "
                f"published: {', '.join(known) or 'none'} (see `ladle versions {view}`)"
            )
        doc: dict[str, Any] = json.loads(data)
        return doc

    def exists(self, view: str, version: str) -> bool:
        """Whether the version folder exists at all (complete or being written)."""
        try:
            return bool(self.fs.get_file_info(self.version_dir(view, version)).type != pafs.FileType.NotFound)
        except OSError as exc:
            raise self._path._mapped(exc, "reading") from exc

    def versions(self, view: str) -> list[VersionInfo]:
        """Every complete version of ``view``, oldest published first."""
        try:
            found = self.fs.get_file_info(pafs.FileSelector(self.view_dir(view), recursive=True, allow_not_found=True))
        except OSError as exc:
            raise self._path._mapped(exc, "listing") from exc
        names = sorted(
            {
                f.path[len(self.view_dir(view)) + 1 :].partition("/")[0]
                for f in found
                if f.path.endswith(f"/{METADATA_FILE}") and f.path.count("/") == self.view_dir(view).count("/") + 2
            }
        )
        latest = self.pointer(view)
        infos = [VersionInfo(n, self.metadata(view, n), n == latest) for n in names if not n.startswith((".", "_"))]
        return sorted(infos, key=lambda i: (str(i.metadata.get("generated_at", "")), i.version))

    # --- writing ---------------------------------------------------------------------------------------
    def write_bytes(self, path: str, data: bytes) -> None:
        """Write one small file so that readers see all of it or the previous one (rename, or one PUT)."""
        try:
            if not self.is_local:
                with self.fs.open_output_stream(path) as out:
                    out.write(data)
                return
            folder, _, name = path.rpartition("/")
            self.fs.create_dir(folder, recursive=True)
            tmp = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
            with self.fs.open_output_stream(tmp) as out:
                out.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise self._path._mapped(exc, "writing") from exc

    def move_pointer(self, view: str, version: str | None, previous: str | None) -> None:
        """Point ``latest`` at ``version`` atomically (None removes the pointer: no version is latest)."""
        path = f"{self.view_dir(view)}/{POINTER_NAME}"
        if version is None:
            try:
                if self.fs.get_file_info(path).type == pafs.FileType.File:
                    self.fs.delete_file(path)
            except OSError as exc:
                raise self._path._mapped(exc, "removing the latest pointer of") from exc
            return
        doc = {"version": version, "previous": previous, "moved_at": datetime.now(UTC).isoformat()}
        self.write_bytes(path, json.dumps(doc, sort_keys=True).encode())

    def failure(self, problem: str, fix: str = "") -> BackendFailure:
        """A :class:`BackendFailure` of this root."""
        return BackendFailure(_STORE, f"{self.uri}: {problem}", fix)
