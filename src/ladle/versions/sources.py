"""Which published version a view's source reads: recorded on training sets (``job.metadata``), and the view
pinned to it, so a training set reads the version it recorded even if ``latest`` moves before it runs."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pyarrow.fs as pafs

from ladle.definitions import FeatureView, FileSource, PushSource
from ladle.errors import LadleError
from ladle.offline.filesystem import POINTER_NAME, ObjectStoreOptions, ParquetPath
from ladle.versions.layout import METADATA_FILE

__all__ = ["pinned", "source_version", "source_versions"]


def source_version(view: FeatureView, repo_path: Path, options: ObjectStoreOptions) -> str | None:
    """The version ``view``'s FileSource reads now: the one its ``.../latest`` pointer names, or the pinned
    version folder it names (one holding a ``metadata.json``); None for any other source."""
    src = view.batch_source.batch
    if not isinstance(src, FileSource):
        return None
    path = ParquetPath(src.path, f"FileSource '{src.name}'", repo_path, options, src.s3_endpoint_override)
    if path.is_glob:
        return None
    try:
        fs, where = path.filesystem, path.fs_path
        if path.version is not None:
            return path.version
        info = fs.get_file_info(f"{where}/{METADATA_FILE}")
        if info.type != pafs.FileType.File:
            return None
        with fs.open_input_stream(info.path) as stream:
            version = json.loads(stream.read()).get("version")
    except (OSError, ValueError, LadleError):
        return None  # an unreadable source fails the query itself, with its own error
    return version if isinstance(version, str) else None


def source_versions(views: list[FeatureView], repo_path: Path, options: ObjectStoreOptions) -> dict[str, str]:
    """:func:`source_version` of each view that reads a published feature set, by view name."""
    found = {v.name: source_version(v, repo_path, options) for v in views}
    return {name: version for name, version in found.items() if version is not None}


def pinned(view: FeatureView, version: str) -> FeatureView:
    """A copy of ``view`` whose source reads ``version`` where it read ``.../latest`` (``view`` itself for a
    source that names a version folder already)."""
    src = view.batch_source
    if not isinstance(src, FileSource) or src.path.rstrip("/").rpartition("/")[2] != POINTER_NAME:
        return view
    head = src.path.rstrip("/").rpartition("/")[0]
    fixed = copy.copy(src)
    fixed.path = f"{head}/{version}" if head else version
    out = copy.copy(view)
    if isinstance(view.source, PushSource):
        push = copy.copy(view.source)
        push.batch_source = fixed
        out.source = push
    else:
        out.source = fixed
    return out
