"""Seed 001's FastAPI prediction service (section 5.2), on ladle.

``POST /predict {"user_id": 1001}`` reads the user's features online and returns the churn prediction.
Features come from a feature server when ``LADLE_FEATURE_SERVER_URL`` is set (``ladle serve``; with
``LADLE_API_KEY`` when it requires one), else from the repo in-process — the same calls either way.

    uvicorn service:app --port 8000
"""

from __future__ import annotations

import os
from typing import Any

from churn_model import FEATURES, MODEL, NAMES, REPO, load, vector
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from ladle.errors import BackendUnavailable, LadleError


def feature_source() -> Any:
    """A FeatureClient of the feature server, or the FeatureStore of the repo."""
    url = os.environ.get("LADLE_FEATURE_SERVER_URL")
    if url:
        from ladle.client import FeatureClient

        return FeatureClient(url, api_key=os.environ.get("LADLE_API_KEY"))
    from ladle import FeatureStore

    return FeatureStore(repo_path=REPO)


app = FastAPI(title="churn prediction")
store = feature_source()
model = load(MODEL)


class PredictionRequest(BaseModel):
    user_id: int


class PredictionResponse(BaseModel):
    user_id: int
    prediction: int
    probability: list[float]
    features: dict[str, float]


@app.post("/predict", response_model=PredictionResponse)
def predict(request: PredictionRequest) -> PredictionResponse:
    """Read the user's features online, then predict."""
    try:
        response = store.get_online_features(features=FEATURES, entity_rows=[{"user_id": request.user_id}])
    except BackendUnavailable as exc:
        raise HTTPException(status_code=503, detail=f"features unavailable: {exc}") from exc
    except LadleError as exc:
        raise HTTPException(status_code=502, detail=f"feature store error: {exc}") from exc
    features = response.to_dict()
    missing = [n for n in NAMES if response.statuses[n][0] != "PRESENT"]
    if missing:
        raise HTTPException(status_code=404, detail=f"no current features for user {request.user_id}: {missing}")
    x = vector(features)
    return PredictionResponse(
        user_id=request.user_id,
        prediction=int(model.predict(x)[0]),
        probability=model.predict_proba(x)[0].tolist(),
        features=dict(zip(NAMES, x[0].tolist(), strict=True)),
    )


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "healthy"}
