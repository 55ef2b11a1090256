"""The point-in-time rules as a brute-force reference, and hypothesis strategies for random cases.

Shared by the property tests (DuckDB) and the offline conformance suite (every offline backend).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

BASE = datetime(2026, 1, 1, tzinfo=UTC)
MIN_CREATED = -1


def at(hours: int) -> datetime:
    return BASE + timedelta(hours=hours)


@dataclass
class ViewSpec:
    rows: list[tuple[int, int, int | None, int | None]]  # key, ts hour, created hour, value
    ttl_hours: int | None
    has_created: bool
    keyed: bool


row = st.tuples(
    st.integers(0, 3),
    st.integers(0, 12),
    st.one_of(st.none(), st.integers(0, 4)),
    st.one_of(st.none(), st.integers(-5, 5)),
)
view_spec = st.builds(
    ViewSpec,
    rows=st.lists(row, min_size=0, max_size=25),
    ttl_hours=st.one_of(st.none(), st.just(0), st.integers(1, 6)),
    has_created=st.booleans(),
    keyed=st.booleans(),
)
entity_rows = st.lists(st.tuples(st.integers(0, 5), st.integers(-1, 14)), min_size=1, max_size=30)


def reference(spec: ViewSpec, key: int, ts: int, filter_created: bool) -> set[int | None]:
    """The set of values the rules allow (several only when rows tie on both timestamps)."""
    cands = []
    for k, t, c, v in spec.rows:
        created = c if spec.has_created else None
        if spec.keyed and k != key:
            continue
        if t > ts or (spec.ttl_hours and t < ts - spec.ttl_hours):
            continue
        if filter_created and spec.has_created and created is not None and created > ts:
            continue
        cands.append((t, MIN_CREATED if created is None else created, v))
    if not cands:
        return {None}
    best = max((t, c) for t, c, _ in cands)
    return {v for t, c, v in cands if (t, c) == best}
