"""The credit scoring model (seed 000): trained on point-in-time features from the offline store
(PostgreSQL), served with the same features read from the online store (DynamoDB)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import OrdinalEncoder
from sklearn.tree import DecisionTreeClassifier

from ladle import FeatureStore

REPO = Path(__file__).parent / "feature_repo"
MODEL = REPO / "data" / "model.pkl"
CATEGORICAL = ["city", "state", "location_type"]
REQUEST = ["person_age", "person_income", "loan_amnt", "loan_int_rate"]
TARGET = "loan_status"


class CreditScoringModel:
    """A decision tree over the request's own fields and the ``credit_model_v1`` feature service."""

    def __init__(self, repo_path: Path = REPO) -> None:
        self.fs = FeatureStore(repo_path=repo_path)
        self.service = self.fs.get_feature_service("credit_model_v1")
        self.encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        self.classifier = DecisionTreeClassifier(max_depth=6, min_samples_leaf=20, random_state=0)
        self.columns: list[str] = []

    def training_set(self, loans: pd.DataFrame) -> pd.DataFrame:
        """``loans`` with every feature of the service as of each loan's ``event_timestamp``."""
        return self.fs.get_historical_features(entity_df=loans, features=self.service).to_df()

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        features = frame[self.columns].copy()
        features[CATEGORICAL] = self.encoder.transform(features[CATEGORICAL].astype(str))
        return features.astype("float64").fillna(-1).to_numpy()

    def train(self, loans: pd.DataFrame) -> pd.DataFrame:
        """Fit on ``loans`` (which carry ``loan_status``); returns the training set used."""
        data = self.training_set(loans)
        features = [c for c in data.columns if c not in {"loan_id", "zipcode", "dob_ssn", "event_timestamp", TARGET}]
        self.columns = features
        self.encoder.fit(data[CATEGORICAL].astype(str))
        self.classifier.fit(self._matrix(data), data[TARGET])
        return data

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """The probability of default for each row of ``frame`` (request fields and features)."""
        return np.asarray(self.classifier.predict_proba(self._matrix(frame))[:, 1])

    def online_features(self, requests: list[dict[str, Any]]) -> pd.DataFrame:
        """The requests joined with the latest feature values from the online store."""
        rows = [{"zipcode": r["zipcode"], "dob_ssn": r["dob_ssn"]} for r in requests]
        online = self.fs.get_online_features(features=self.service, entity_rows=rows).to_df()
        return pd.concat([pd.DataFrame(requests)[REQUEST].reset_index(drop=True), online], axis=1)

    def predict(self, requests: list[dict[str, Any]]) -> list[float]:
        """Probability of default per loan request (``zipcode``, ``dob_ssn`` and the REQUEST fields)."""
        return [float(p) for p in self.predict_proba(self.online_features(requests))]

    def save(self, path: Path = MODEL) -> None:
        path.write_bytes(pickle.dumps({"encoder": self.encoder, "classifier": self.classifier, "columns": self.columns}))

    def load(self, path: Path = MODEL) -> CreditScoringModel:
        state = pickle.loads(path.read_bytes())
        self.encoder, self.classifier, self.columns = state["encoder"], state["classifier"], state["columns"]
        return self
