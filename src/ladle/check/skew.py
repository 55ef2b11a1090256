"""Sampled online reads and the skew check of ``ladle check``.

For a plain view, the historical value of a key at the last materialization time ``T`` is its newest source
row with ``T - ttl <= ts <= T`` (what materialization copied; no ttl: any row up to ``T``). Sampled keys are
read straight from the online store (no ttl filter) and compared feature by feature with those rows. For a
windowed view, the online aggregates of sampled keys are compared with the training-set values at now.
Keys are sorted, then sampled with a fixed seed, so a failing check fails again on the same keys.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from ladle.check.report import CheckReport
from ladle.definitions import FeatureView
from ladle.errors import LadleError
from ladle.windows.spec import is_windowed, window_specs

if TYPE_CHECKING:
    from ladle.check.checklist import CheckedStore

__all__ = ["check_online"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SHOWN = 3  # keys quoted in a failure


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return bool(a == b)


def _sample(table: pa.Table, n: int) -> pa.Table:
    picked = sorted(random.Random(0).sample(range(table.num_rows), min(n, table.num_rows)))
    return table.take(pa.array(picked, pa.int64()))


def _key_text(keys: pa.Table, i: int) -> str:
    return ", ".join(f"{k}={keys.column(k)[i].as_py()!r}" for k in keys.column_names)


def check_online(
    store: CheckedStore, view: FeatureView, until: datetime, sample: int, now: datetime, report: CheckReport
) -> None:
    """Record the ``online read`` and ``skew`` items of ``view`` (see the module doc)."""
    try:
        if is_windowed(view):
            expected, got = _windowed_pairs(store, view, sample, now)
            at = f"now ({now.isoformat()})"
        else:
            expected, got = _plain_pairs(store, view, until, sample)
            at = f"the last materialization ({until.isoformat()})"
    except LadleError as exc:
        report.add("online read", view.name, False, f"sampling failed: {exc}", "check the online and offline stores")
        return
    if expected.num_rows == 0:
        report.add("online read", view.name, True, f"no source rows up to {at}: nothing to sample")
        return
    _compare(view, expected, got, at, report)


def _plain_pairs(store: CheckedStore, view: FeatureView, until: datetime, sample: int) -> tuple[pa.Table, pa.Table]:
    start = until - view.ttl if view.ttl else _EPOCH
    latest = store.offline_store.pull_latest(view, start, until).read_all()
    expected = _sample(latest.sort_by([(k, "ascending") for k in view.join_keys]), sample)
    features = [f.name for f in view.features]
    got = store.online_store.read(store.project, view, expected.select(view.join_keys), features)
    return expected.select([*view.join_keys, *features]), got.select(features).append_column(
        "__found", got.column("event_ts").is_valid()
    )


def _windowed_pairs(store: CheckedStore, view: FeatureView, sample: int, now: datetime) -> tuple[pa.Table, pa.Table]:
    keys = store.offline_store.pull_all(view.batch_source, list(view.join_keys), None, now)
    distinct = keys.group_by(list(view.join_keys)).aggregate([])
    keys = _sample(distinct.sort_by([(k, "ascending") for k in view.join_keys]), sample)
    names = [s.name for s in window_specs(view)]
    refs = [f"{view.name}:{n}" for n in names]
    if keys.num_rows == 0:
        return keys, keys
    entity_df = keys.to_pandas().assign(event_timestamp=pd.Timestamp(now))
    historical = store.get_historical_features(entity_df, refs).to_arrow()
    online = store.get_online_features(refs, keys.to_pydict()).to_arrow()
    expected = pa.table({**{k: keys.column(k) for k in view.join_keys}, **{n: historical.column(n) for n in names}})
    found = pa.array([True] * keys.num_rows)
    return expected, online.select(names).append_column("__found", found)


def _compare(view: FeatureView, expected: pa.Table, got: pa.Table, at: str, report: CheckReport) -> None:
    keys = expected.select(list(view.join_keys))
    names = [c for c in expected.column_names if c not in view.join_keys]
    found = got.column("__found").to_pylist()
    nulls = [
        i for i in range(expected.num_rows) if not found[i] or all(got.column(n)[i].as_py() is None for n in names)
    ]
    nulls = [i for i in nulls if not all(expected.column(n)[i].as_py() is None for n in names)]
    n = expected.num_rows
    if nulls:
        shown = "; ".join(_key_text(keys, i) for i in nulls[:_SHOWN])
        report.add(
            "online read",
            view.name,
            False,
            f"{len(nulls)} of {n} sampled keys read null online ({shown})",
            "materialize the view (`ladle materialize-incremental now`), or rebuild it with `ladle materialize START END`",
        )
    else:
        report.add("online read", view.name, True, f"{n} sampled keys read non-null values")
    differ = [
        (i, c)
        for i in range(n)
        if i not in nulls
        for c in names
        if not _same(got.column(c)[i].as_py(), expected.column(c)[i].as_py())
    ]
    if differ:
        shown = "; ".join(
            f"{_key_text(keys, i)} {c}: online {got.column(c)[i].as_py()!r}, offline {expected.column(c)[i].as_py()!r}"
            for i, c in differ[:_SHOWN]
        )
        report.add(
            "skew",
            view.name,
            False,
            f"{len({i for i, _ in differ})} of {n} sampled keys differ from the historical values at {at}: {shown}",
            "materialize again over the source's range (`ladle materialize START END`); online writes outside "
            "materialization (push, write_to_online_store) or a source changed since then cause this",
        )
    else:
        report.add("skew", view.name, True, f"{n - len(nulls)} sampled keys equal the historical values at {at}")
