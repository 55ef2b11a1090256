"""What ladle remembers about local source files between runs: whether a file set holds duplicate rows.

The DuckDB point-in-time join breaks ties on the event timestamp by the created timestamp, which costs a
128-bit sort key. A source with no two rows sharing (join keys, event timestamp) has no ties to break, so
the join can use the event timestamp alone. Finding that out is an aggregate over the file (a count of
distinct hashes, about 0.05 s per million rows on a quiet machine), so the answer is kept, keyed on the files' fingerprints (:func:`fingerprint`: path,
size, modification and change times, inode and a hash of the parquet footer, which records every column
chunk's size and statistics). A file that changes in any of these gets a new fingerprint and is checked
again; an entry is never trusted for a different file.

The answers live in memory for the process and in a small JSON file (``unique_keys.json`` in the cache
directory: the offline store's ``cache_dir``, else ``$XDG_CACHE_HOME/ladle``, else ``~/.cache/ladle``),
written atomically; a directory that cannot be written only means the check runs again next time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import threading
from pathlib import Path

__all__ = ["UniqueKeyCache", "default_cache_dir", "fingerprint"]

#: entries kept in the JSON file (the oldest are dropped first)
MAX_ENTRIES = 4096
_FOOTER_TAIL = 8  # a parquet file ends with the footer's length (4 bytes, little endian) and b"PAR1"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ladle``, else ``~/.cache/ladle``."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "ladle"


def _footer_digest(path: str, size: int) -> str:
    """A hash of a parquet file's footer (its metadata), or of its last 64 KiB when it is not parquet."""
    with open(path, "rb") as f:
        if size < _FOOTER_TAIL:
            return hashlib.sha256(f.read()).hexdigest()
        f.seek(size - _FOOTER_TAIL)
        tail = f.read(_FOOTER_TAIL)
        length = struct.unpack("<I", tail[:4])[0] if tail[4:] == b"PAR1" else 65536
        start = max(0, size - _FOOTER_TAIL - length)
        f.seek(start)
        return hashlib.sha256(f.read(size - start)).hexdigest()


def fingerprint(files: list[str], check: str) -> str | None:
    """One key for ``check`` (the question asked, e.g. its SQL) over ``files``, or ``None`` when a file cannot
    be read (the answer is then not cached)."""
    h = hashlib.sha256(check.encode())
    try:
        for name in sorted(files):
            st = os.stat(name)
            parts = (os.path.realpath(name), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)
            h.update(repr(parts).encode())
            h.update(_footer_digest(name, st.st_size).encode())
    except OSError:
        return None
    return h.hexdigest()


class UniqueKeyCache:
    """Remembered answers ``fingerprint -> bool`` (in memory, and in ``directory/unique_keys.json``)."""

    _memory: dict[str, bool] = {}  # shared by every instance in the process
    _lock = threading.Lock()

    def __init__(self, directory: Path) -> None:
        self.path = directory / "unique_keys.json"

    def _load(self) -> dict[str, bool]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, bool)} if isinstance(data, dict) else {}

    def get(self, key: str) -> bool | None:
        """The remembered answer for ``key``, or ``None``."""
        with self._lock:
            if key in self._memory:
                return self._memory[key]
            found = self._load().get(key)
            if found is not None:
                self._memory[key] = found
            return found

    def put(self, key: str, value: bool) -> None:
        """Remember ``value`` for ``key`` (the file is rewritten atomically; a failure to write is ignored)."""
        with self._lock:
            self._memory[key] = value
            entries = self._load()
            entries.pop(key, None)
            entries[key] = value
            kept = dict(list(entries.items())[-MAX_ENTRIES:])
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_text(json.dumps(kept))
                os.replace(tmp, self.path)
            except OSError:
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)
