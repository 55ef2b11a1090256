"""examples/model_service as its README runs it: seed 001's churn model trained on historical features,
served by a FastAPI prediction service that reads online features from a `ladle serve` feature server —
and the features it predicts from are the ones a training set built at that moment holds."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import httpx
import numpy as np
import pandas as pd
import pytest
from server_helpers import LADLE, free_port, serving

from ladle import FeatureStore

EXAMPLE = Path(__file__).parents[2] / "examples" / "model_service"


def run(args: list[str], cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example copied, its data generated, applied, trained and materialized (the README's steps)."""
    pytest.importorskip("sklearn")
    folder = tmp_path_factory.mktemp("example") / "model_service"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("data", "__pycache__"))
    assert "snapshots of 400 customers" in run([sys.executable, "generate_data.py"], folder)
    assert "+ feature service 'churn_model_v1'" in run([str(LADLE), "apply"], folder / "feature_repo")
    assert "saved churn_model.pkl" in run([sys.executable, "train.py"], folder)
    assert "user_features" in run([str(LADLE), "materialize-incremental", "now"], folder / "feature_repo")
    return folder


def call(app: object, user_id: int) -> httpx.Response:
    """POST /predict to an ASGI app in-process."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            return await client.post("/predict", json={"user_id": user_id}, timeout=30)

    return asyncio.run(go())


def load_module(folder: Path, name: str) -> ModuleType:
    """Import one of the example's modules from its copied folder."""
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(f"example_{name}", folder / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("churn_model", None)


@pytest.fixture(scope="module")
def prediction_service(example: Path) -> Iterator[tuple[str, str]]:
    """The feature server and, in front of it, the model service (uvicorn), as two processes."""
    with serving(example / "feature_repo") as features:
        port = free_port()
        log = (example / f"service-{port}.log").open("wb")
        env = {**os.environ, "LADLE_FEATURE_SERVER_URL": features.url}
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "service:app", "--port", str(port), "--no-access-log"],
            cwd=example,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, (
                    example / f"service-{port}.log"
                ).read_text()
                time.sleep(0.1)
            yield url, features.url
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            log.close()


def test_predictions_from_the_feature_server_match_the_training_features(
    example: Path, prediction_service: tuple[str, str]
) -> None:
    url, _ = prediction_service
    churn = load_module(example, "churn_model")
    model = churn.load(example / "feature_repo/data/churn_model.pkl")
    store = FeatureStore(repo_path=example / "feature_repo")
    users = [1001, 1200, 1399]
    now = datetime.now(UTC)
    training = store.get_historical_features(
        entity_df=pd.DataFrame({"user_id": users, "event_timestamp": [now] * len(users)}), features=churn.FEATURES
    ).to_df()
    for i, user in enumerate(users):
        response = httpx.post(f"{url}/predict", json={"user_id": user}, timeout=30)
        assert response.status_code == 200, response.text
        answer = response.json()
        expected = training.loc[i, churn.NAMES].to_numpy(dtype="float64")
        served = np.array([answer["features"][n] for n in churn.NAMES])
        np.testing.assert_allclose(served, expected, rtol=1e-6)  # no training/serving skew
        probability = model.predict_proba(expected.reshape(1, -1))[0]
        np.testing.assert_allclose(answer["probability"], probability, rtol=1e-9)
        assert answer["prediction"] == int(probability[1] > 0.5) and answer["user_id"] == user


def test_unknown_users_and_bad_requests(example: Path, prediction_service: tuple[str, str]) -> None:
    url, _ = prediction_service
    missing = httpx.post(f"{url}/predict", json={"user_id": 99}, timeout=30)
    assert missing.status_code == 404 and "no current features for user 99" in missing.text
    assert httpx.post(f"{url}/predict", json={"user": 1}, timeout=30).status_code == 422


def test_in_process_and_remote_answers_are_the_same(example: Path, prediction_service: tuple[str, str]) -> None:
    """The service without LADLE_FEATURE_SERVER_URL reads the repo in-process: same predictions."""
    url, _ = prediction_service
    saved = os.environ.pop("LADLE_FEATURE_SERVER_URL", None)
    try:
        service = load_module(example, "service")
    finally:
        if saved is not None:
            os.environ["LADLE_FEATURE_SERVER_URL"] = saved
    assert type(service.store).__name__ == "FeatureStore"
    for user in (1002, 1300):
        remote = httpx.post(f"{url}/predict", json={"user_id": user}, timeout=30).json()
        here = call(service.app, user).json()
        assert here["prediction"] == remote["prediction"]
        np.testing.assert_allclose(here["probability"], remote["probability"], rtol=1e-9)


def test_feature_server_down_is_503(example: Path) -> None:
    """A model service whose feature server is gone answers 503 (and names why), not 500."""
    port = free_port()
    os.environ["LADLE_FEATURE_SERVER_URL"] = f"http://127.0.0.1:{port}"
    try:
        service = load_module(example, "service")
    finally:
        del os.environ["LADLE_FEATURE_SERVER_URL"]
    response = call(service.app, 1001)
    assert response.status_code == 503 and "cannot reach" in response.text
