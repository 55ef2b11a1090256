"""The churn model of seed 001: trained on point-in-time-correct historical features, scoring with
the same features read online. ``features`` is a FeatureStore (in-process) or a FeatureClient (a
`ladle serve` feature server): both have ``get_historical_features``/``get_online_features``' shape."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

REPO = Path(__file__).parent / "feature_repo"
MODEL = REPO / "data" / "churn_model.pkl"
FEATURES = [
    "user_features:total_purchases",
    "user_features:avg_purchase_amount",
    "user_features:days_since_last_purchase",
    "user_features:tenure_months",
    "user_derived_features:purchase_frequency",
]
NAMES = [ref.split(":")[1] for ref in FEATURES]


def train(store: Any, labels: pd.DataFrame) -> tuple[LogisticRegression, pd.DataFrame]:
    """Fit on ``labels`` (user_id, event_timestamp, churned) with the features as of each label."""
    data = store.get_historical_features(entity_df=labels, features=FEATURES).to_df()
    data = data.dropna(subset=NAMES)
    model = LogisticRegression(max_iter=1000)
    model.fit(data[NAMES].to_numpy(dtype="float64"), data["churned"].to_numpy())
    return model, data


def save(model: LogisticRegression, path: Path = MODEL) -> None:
    path.write_bytes(pickle.dumps(model))


def load(path: Path = MODEL) -> LogisticRegression:
    model: LogisticRegression = pickle.loads(path.read_bytes())
    return model


def vector(features: dict[str, list[Any]], row: int = 0) -> np.ndarray:
    """The model's input for one entity row of a ``get_online_features(...).to_dict()``."""
    return np.array([[float(features[name][row]) for name in NAMES]])
