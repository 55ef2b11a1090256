"""Glob patterns as regular expressions over ``/``-separated paths (repo ignore rules, object-store listings)."""

from __future__ import annotations

import re

__all__ = ["glob_regex"]


def glob_regex(pattern: str) -> str:
    """``pattern`` as an unanchored regex: ``*`` and ``?`` stay within a folder, ``**`` crosses folders,
    ``[...]`` is a class (``[!...]`` negated).

    >>> bool(re.fullmatch(glob_regex("data/**/*.parquet"), "data/a/b/x.parquet"))
    True
    >>> bool(re.fullmatch(glob_regex("*.parquet"), "a/x.parquet"))
    False
    """
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)
