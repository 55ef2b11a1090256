"""Synthetic data for the churn example: daily snapshots of 400 customers over the last 60 days
(feature_repo/data/user_features.parquet) and churn labels observed at random moments
(feature_repo/data/labels.parquet). A label depends on the customer's statistics *as of* its moment,
so a point-in-time-correct training set can learn it. Deterministic (seed 1), relative to today.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).parent / "feature_repo" / "data"
USERS = np.arange(1001, 1401)
DAYS = 60


def snapshots(rng: np.random.Generator, today: datetime) -> pd.DataFrame:
    """One row per customer per day: statistics that drift with each customer's engagement."""
    engagement = rng.uniform(0, 1, len(USERS))
    rows = []
    for day in range(DAYS, -1, -1):
        when = today - timedelta(days=day)
        age = DAYS - day
        gap = np.maximum(0, rng.poisson(2 + 40 * (1 - engagement) * age / DAYS)).astype("int64")
        rows.append(pd.DataFrame({
            "user_id": USERS,
            "total_purchases": (5 + engagement * 3 * age + rng.integers(0, 3, len(USERS))).astype("int64"),
            "avg_purchase_amount": (30 + 120 * engagement + rng.normal(0, 5, len(USERS))).astype("float32"),
            "days_since_last_purchase": gap,
            "customer_segment": np.where(engagement > 0.6, "loyal", np.where(engagement > 0.3, "regular", "at_risk")),
            "tenure_months": (1 + (USERS % 36) + age // 30).astype("int64"),
            "event_timestamp": when,
            "created_timestamp": when + timedelta(minutes=5),
        }))
    return pd.concat(rows, ignore_index=True)


def labels(rng: np.random.Generator, history: pd.DataFrame, today: datetime) -> pd.DataFrame:
    """Churn observed at a random moment per customer (three each), from the snapshot valid then."""
    moments = pd.Timestamp(today) - pd.to_timedelta(rng.uniform(1, DAYS - 1, len(USERS) * 3), unit="D")
    frame = pd.DataFrame({"user_id": np.repeat(USERS, 3), "event_timestamp": moments.as_unit("us")})
    frame = frame.sort_values("event_timestamp")
    snapshots = history.assign(event_timestamp=history["event_timestamp"].astype("datetime64[us, UTC]"))
    known = pd.merge_asof(frame, snapshots.sort_values("event_timestamp"), on="event_timestamp", by="user_id")
    risk = known["days_since_last_purchase"] / 10 - known["total_purchases"] / 60 + rng.normal(0, 0.3, len(known))
    frame["churned"] = (risk > 0.5).astype("int64").to_numpy()
    return frame.sort_index().reset_index(drop=True)


def main() -> None:
    rng = np.random.default_rng(1)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    DATA.mkdir(parents=True, exist_ok=True)
    history = snapshots(rng, today)
    history.to_parquet(DATA / "user_features.parquet", index=False)
    observed = labels(rng, history, today)
    observed.to_parquet(DATA / "labels.parquet", index=False)
    print(f"wrote {len(history):,} snapshots of {len(USERS)} customers and {len(observed):,} labels "
          f"({observed['churned'].mean():.0%} churned) to {DATA}")


if __name__ == "__main__":
    main()
