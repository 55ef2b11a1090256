"""A brute-force reference of the windowed-aggregation rules (docs/semantics.md, "Windowed aggregations"),
written independently of ladle's code: for an entity row (key k, time t) and a window W, the events of k
with t - W < ts <= t and a non-null value, ordered by (ts, created present, created, value)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

BASE = datetime(2026, 3, 1, tzinfo=timezone.utc)
#: (function as written, canonical) pairs the property tests draw from
FUNCTIONS = [
    ("sum", "sum"),
    ("count", "count"),
    ("avg", "mean"),
    ("min", "min"),
    ("max", "max"),
    ("stddev", "std"),
    ("var", "var"),
    ("count_distinct", "count_distinct"),
    ("first", "first"),
    ("last", "last"),
    ("first_2", "first_k"),
    ("last_3", "last_k"),
]


def at(seconds: int) -> datetime:
    return BASE + timedelta(seconds=seconds)


@dataclass
class Event:
    key: int
    ts: int  # seconds after BASE
    created: int | None
    value: float | None


def reference(events: list[Event], key: int, t: int, window: int, function: str, has_created: bool) -> object:
    """The value of ``function`` (as written) for the entity row (key, t) over a ``window``-second window."""
    picked = [e for e in events if e.key == key and t - window < e.ts <= t and e.value is not None]
    picked.sort(
        key=lambda e: (e.ts, has_created and e.created is not None, (e.created or 0) if has_created else 0, e.value)
    )
    values = [e.value for e in picked]
    n = len(values)
    if function == "count":
        return n
    if function == "count_distinct":
        return len(set(values))
    if n == 0:
        return None
    if function.startswith(("first_", "last_")) and function[-1].isdigit():
        k = int(function.rsplit("_", 1)[1])
        return values[:k] if function.startswith("first") else values[-k:]
    simple = {
        "sum": lambda: sum(values),
        "avg": lambda: sum(values) / n,
        "min": lambda: min(values),
        "max": lambda: max(values),
        "first": lambda: values[0],
        "last": lambda: values[-1],
        "stddev": lambda: statistics.stdev(values) if n > 1 else None,
        "var": lambda: statistics.variance(values) if n > 1 else None,
    }
    return simple[function]()


def same(got: object, want: object) -> bool:
    """Equal, floats within a relative 1e-9 (backends sum in their own order)."""
    if isinstance(want, float) and isinstance(got, float):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want, strict=True))
    return got == want


# Small integer times and values make ties at window edges, duplicate timestamps and repeated values common.
events = st.lists(
    st.builds(
        Event,
        key=st.integers(1, 3),
        ts=st.integers(0, 40),
        created=st.none() | st.integers(0, 3),
        value=st.none() | st.integers(-3, 3).map(float),
    ),
    max_size=30,
)
#: entity rows: key 4 has no events; times before, inside and after the events
entity_rows = st.lists(st.tuples(st.integers(1, 4), st.integers(-5, 50)), min_size=1, max_size=12)
windows = st.lists(st.sampled_from([1, 5, 10, 30]), min_size=1, max_size=2, unique=True)
