"""examples/credit_scoring as its README runs it: PostgreSQL offline store, DynamoDB online store (a real
moto server), a model trained on historical features and served with online features — and the features
it is served are the ones it would have been trained on at that moment (no training/serving skew)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import PG_DSN, import_driver, postgres_admin

EXAMPLE = Path(__file__).parents[2] / "examples" / "credit_scoring"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.services


@pytest.fixture
def example(tmp_path: Path, moto_endpoint: str) -> Iterator[tuple[Path, dict[str, str]]]:
    psycopg = import_driver("psycopg", "PostgreSQL")
    pytest.importorskip("sklearn")
    admin = postgres_admin()
    folder = tmp_path / "credit_scoring"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("data", "__pycache__"))
    schema = f"ladle_credit_{uuid.uuid4().hex[:8]}"
    params = psycopg.conninfo.conninfo_to_dict(PG_DSN)
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "LADLE_PG_HOST": str(params.get("host", "127.0.0.1")),
        "LADLE_PG_PORT": str(params.get("port", 5432)),
        "LADLE_PG_DATABASE": str(params.get("dbname", "test")),
        "LADLE_PG_USER": str(params.get("user", "postgres")),
        "LADLE_PG_SCHEMA": schema,
        "DYNAMODB_ENDPOINT_URL": moto_endpoint,
    }
    yield folder, env
    subprocess.run(
        [str(BIN / "ladle"), "teardown"],
        cwd=folder / "feature_repo",
        env=env,
        check=False,
        capture_output=True,
        timeout=120,
    )
    admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.close()


def run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_train_on_postgres_serve_from_dynamodb(example: tuple[Path, dict[str, str]]) -> None:
    folder, env = example
    repo = folder / "feature_repo"
    assert "into schema" in run([sys.executable, "load_data.py"], folder, env)
    assert "+ feature service 'credit_model_v1'" in run([str(BIN / "ladle"), "apply"], repo, env)
    trained = run([sys.executable, "train.py"], folder, env)
    found = re.search(r"held-out accuracy ([0-9.]+) \(always-the-majority baseline ([0-9.]+)\)", trained)
    assert found, trained
    accuracy, baseline = float(found.group(1)), float(found.group(2))
    assert accuracy > baseline + 0.05, trained  # the features carry signal, joined point-in-time
    materialized = run([str(BIN / "ladle"), "materialize-incremental", "now"], repo, env)
    assert "3,000 rows" in materialized and "300 rows" in materialized, materialized
    lines = [json.loads(line) for line in run([sys.executable, "predict.py"], folder, env).splitlines()]
    assert len(lines) == 3 and all(0 <= r["probability_of_default"] <= 1 for r in lines)

    # Serving reads the same values a training set built "now" holds, and the model scores them alike.
    check = f"""
import json, sys
import pandas as pd
from datetime import datetime, timezone
sys.path.insert(0, {str(folder)!r})
from credit_model import CreditScoringModel
from predict import sample_requests
model = CreditScoringModel().load()
requests = sample_requests()
online = model.online_features(requests)
entity_df = pd.DataFrame(requests).assign(event_timestamp=datetime.now(timezone.utc))
offline = model.training_set(entity_df)
columns = model.columns
print(json.dumps({{"online": online[columns].astype(str).values.tolist(),
                   "offline": offline[columns].astype(str).values.tolist(),
                   "scores": model.predict(requests), "offline_scores": model.predict_proba(offline).tolist()}}))
"""
    result = json.loads(run([sys.executable, "-c", check], folder, env))
    assert result["online"] == result["offline"]
    assert result["scores"] == pytest.approx(result["offline_scores"])
    assert [r["probability_of_default"] for r in lines] == pytest.approx(result["scores"], abs=1e-4)
    assert not any("nan" in str(v).lower() for row in result["online"] for v in row)  # every feature was found

    import boto3

    tables = boto3.client("dynamodb", endpoint_url=env["DYNAMODB_ENDPOINT_URL"], region_name="us-east-1").list_tables()
    assert {"credit_scoring_aws.zipcode_features", "credit_scoring_aws.credit_history"} <= set(tables["TableNames"])
