"""The streaming tutorial (shared/seeds/001, sections 2.3-6.2), run on ladle as a user runs it.

The repo is the tutorial's: ``user_features`` and its on-demand view, ``transaction_features``, the push
source and the ``StreamFeatureView`` with the 1-hour count and sum — its code unchanged (ladle's loader
maps its ``from feast`` imports; the scripts run with ``from feast`` -> ``from ladle``). The tutorial splits it over two files but uses ``user`` in the second without
importing it, so both snippets go into one module (as they must to run at all). feature_store.yaml is the
tutorial's (Redis online store, ``type: file`` offline) with a project name unique to the run, because the
test Redis is shared. Then: ``ladle apply``; ``get_historical_features`` returns the windowed features;
``store.push(push_source_name=..., df=...)`` of one event changes the next online read; ``ladle serve``
returns them over HTTP.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from server_helpers import serving
from stream_helpers import redis_client

pytestmark = pytest.mark.services

SEED = sorted((Path(__file__).parents[3] / "shared" / "seeds").glob("001_*.txt"))
YAML = """\
# feature_store.yaml
project: {project}
registry: data/registry.db
provider: local

online_store:
  type: redis
  connection_string: "localhost:6379"

offline_store:
  type: file

entity_key_serialization_version: 2
"""

#: the tutorial's code blocks 3.1 and 3.2 (used when the seed file is not beside the checkout)
USER_FEATURES = '''
from datetime import timedelta
from feast import Entity, Feature, FeatureView, Field, FileSource, ValueType
from feast.types import Float32, Int64, String

# Entity 정의 (피처의 키)
user = Entity(
    name="user_id",
    description="Customer ID",
    value_type=ValueType.INT64
)

# 데이터 소스 정의
user_source = FileSource(
    path="data/user_features.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created_timestamp"
)

# Feature View 정의
user_features = FeatureView(
    name="user_features",
    entities=[user],
    ttl=timedelta(days=1),  # Time to Live
    schema=[
        Field(name="total_purchases", dtype=Int64),
        Field(name="avg_purchase_amount", dtype=Float32),
        Field(name="days_since_last_purchase", dtype=Int64),
        Field(name="customer_segment", dtype=String),
        Field(name="tenure_months", dtype=Int64),
    ],
    online=True,   # 온라인 스토어 활성화
    source=user_source,
    tags={
        "team": "ml-platform",
        "owner": "data-science"
    }
)

# 집계 피처 (On-Demand Feature)
from feast import on_demand_feature_view
import pandas as pd

@on_demand_feature_view(
    sources=[user_features],
    schema=[
        Field(name="purchase_frequency", dtype=Float32),
        Field(name="is_high_value", dtype=Int64),
    ]
)
def user_derived_features(inputs: pd.DataFrame) -> pd.DataFrame:
    """실시간 계산 피처"""
    df = pd.DataFrame()
    df["purchase_frequency"] = inputs["total_purchases"] / inputs["tenure_months"]
    df["is_high_value"] = (inputs["avg_purchase_amount"] > 100).astype(int)
    return df
'''

TRANSACTION_FEATURES = """
from feast import Entity, FeatureView, Field, FileSource
from feast.types import Float32, Int64
from feast.aggregation import Aggregation
from datetime import timedelta

# 트랜잭션 소스
transaction_source = FileSource(
    path="data/transactions.parquet",
    timestamp_field="transaction_timestamp"
)

# 트랜잭션 피처 뷰
transaction_features = FeatureView(
    name="transaction_features",
    entities=[user],
    ttl=timedelta(days=7),
    schema=[
        Field(name="transaction_amount", dtype=Float32),
        Field(name="transaction_count_7d", dtype=Int64),
        Field(name="avg_transaction_7d", dtype=Float32),
    ],
    source=transaction_source,
    online=True
)

# 시간 윈도우 집계 (StreamFeatureView - Feast 0.26+)
from feast import StreamFeatureView, PushSource

push_source = PushSource(
    name="transaction_push_source",
    batch_source=transaction_source
)

streaming_features = StreamFeatureView(
    name="transaction_streaming_features",
    entities=[user],
    ttl=timedelta(hours=1),
    schema=[
        Field(name="transaction_count_1h", dtype=Int64),
        Field(name="total_amount_1h", dtype=Float32),
    ],
    source=push_source,
    aggregations=[
        Aggregation(
            column="transaction_amount",
            function="count",
            time_window=timedelta(hours=1)
        ),
        Aggregation(
            column="transaction_amount",
            function="sum",
            time_window=timedelta(hours=1)
        )
    ]
)
"""


def _seed_block(title: str, fallback: str) -> str:
    """The tutorial's python block under the heading ``title``, from the seed when it is there."""
    if not SEED:
        return fallback
    text = SEED[0].read_text()
    after = text[text.index(title) :]
    start = after.index("```python\n") + len("```python\n")
    block = after[start : after.index("```", start)]
    return block.split('"""', 2)[2] if block.lstrip().startswith('"""') else block


def _feast_to_ladle(code: str) -> str:
    return code.replace("from feast import", "from ladle import").replace("from feast.", "from ladle.")


def ladle(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "ladle"
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def python(code: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _feast_to_ladle(textwrap.dedent(code))],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def transactions(now: datetime) -> list[tuple[int, float, datetime]]:
    """User 1001 has 3 transactions in the hour before ``now`` (10, 20, 30) and 1 older; 1002 has one.
    The oldest in the hour is 40 minutes old, so online reads stay inside the window on a slow machine."""
    return [
        (1001, 10.0, now - timedelta(minutes=40)),
        (1001, 20.0, now - timedelta(minutes=30)),
        (1001, 30.0, now - timedelta(minutes=10)),
        (1001, 99.0, now - timedelta(hours=3)),
        (1002, 5.0, now - timedelta(minutes=20)),
    ]


#: when the repo's data was made (set by the fixture; the test rows are relative to it)
NOW: dict[str, datetime] = {}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    client = redis_client()
    project = f"churn_prediction_{uuid.uuid4().hex[:8]}"
    now = NOW["at"] = datetime.now(UTC).replace(microsecond=0)
    root = tmp_path_factory.mktemp("seed001") / "feature_repo"
    (root / "data").mkdir(parents=True)
    (root / "features").mkdir()
    (root / "feature_store.yaml").write_text(YAML.format(project=project))
    code = _seed_block("### 3.1", USER_FEATURES) + "\n" + _seed_block("### 3.2", TRANSACTION_FEATURES)
    (root / "features" / "features.py").write_text(code)  # the loader maps `feast` imports to ladle
    users = pd.DataFrame(
        {
            "user_id": [1001, 1002],
            "total_purchases": [45, 23],
            "avg_purchase_amount": pd.Series([67.5, 189.2], dtype="float32"),
            "days_since_last_purchase": [3, 10],
            "customer_segment": ["gold", "silver"],
            "tenure_months": [9, 4],
            "event_timestamp": [now - timedelta(hours=2)] * 2,
            "created_timestamp": [now - timedelta(hours=2)] * 2,
        }
    )
    users.to_parquet(root / "data" / "user_features.parquet")
    tx = pd.DataFrame(transactions(now), columns=["user_id", "transaction_amount", "transaction_timestamp"])
    tx["transaction_amount"] = tx["transaction_amount"].astype("float32")
    tx["transaction_count_7d"] = [1, 2, 3, 4, 1]
    tx["avg_transaction_7d"] = pd.Series([10.0, 15.0, 20.0, 20.0, 5.0], dtype="float32")
    tx.to_parquet(root / "data" / "transactions.parquet")
    done = ladle("apply", cwd=root)
    assert done.returncode == 0, done.stderr
    yield root
    for key in client.scan_iter(f"*{project}*", count=1000):
        client.delete(key)
    client.close()


def test_historical_features_include_the_windowed_ones(repo: Path) -> None:
    now = NOW["at"]
    out = python(
        f"""
        import pandas as pd
        from feast import FeatureStore

        store = FeatureStore(repo_path=".")
        entity_df = pd.DataFrame({{
            "user_id": [1001, 1001, 1002, 1003],
            "event_timestamp": pd.to_datetime([
                "{(now - timedelta(minutes=25)).isoformat()}",
                "{now.isoformat()}",
                "{now.isoformat()}",
                "{now.isoformat()}",
            ]),
        }})
        training_df = store.get_historical_features(
            entity_df=entity_df,
            features=[
                "user_features:total_purchases",
                "user_features:tenure_months",
                "user_derived_features:purchase_frequency",
                "transaction_features:transaction_count_7d",
                "transaction_streaming_features:transaction_count_1h",
                "transaction_streaming_features:total_amount_1h",
            ],
        ).to_df()
        print(training_df.to_json(orient="records"))
        """,
        repo,
    )
    rows = json.loads(out.strip().splitlines()[-1])
    assert [r["transaction_count_1h"] for r in rows] == [2, 3, 1, 0]
    assert [r["total_amount_1h"] for r in rows] == [30.0, 60.0, 5.0, None]
    assert [r["total_purchases"] for r in rows] == [45, 45, 23, None]
    assert rows[0]["purchase_frequency"] == pytest.approx(45 / 9)
    assert [r["transaction_count_7d"] for r in rows][:3] == [2, 3, 1]


def test_one_pushed_event_changes_the_next_online_read_and_serve_returns_it(repo: Path) -> None:
    done = ladle("materialize-incremental", datetime.now(UTC).isoformat(), cwd=repo)
    assert done.returncode == 0, done.stderr
    read = """
        import json
        from feast import FeatureStore
        store = FeatureStore(repo_path=".")
        print(json.dumps(store.get_online_features(
            features=["transaction_streaming_features:transaction_count_1h",
                      "transaction_streaming_features:total_amount_1h",
                      "user_features:total_purchases"],
            entity_rows=[{"user_id": 1001}, {"user_id": 1002}],
        ).to_dict()))
    """
    before = json.loads(python(read, repo).strip().splitlines()[-1])
    assert before["transaction_count_1h"] == [3, 1]
    assert before["total_amount_1h"] == [60.0, 5.0]
    python(
        """
        from feast import FeatureStore
        import pandas as pd
        from datetime import datetime

        store = FeatureStore(repo_path="./")

        def process_streaming_event(event: dict):
            feature_df = pd.DataFrame([{
                "user_id": event["user_id"],
                "transaction_amount": event["amount"],
                "transaction_timestamp": datetime.now()
            }])
            store.push(
                push_source_name="transaction_push_source",
                df=feature_df
            )

        process_streaming_event({"user_id": 1001, "amount": 12.5})
        """,
        repo,
    )
    after = json.loads(python(read, repo).strip().splitlines()[-1])
    assert after["transaction_count_1h"] == [4, 1]
    assert after["total_amount_1h"] == [72.5, 5.0]
    assert after["total_purchases"] == [45, 23]
    with serving(repo) as server:
        response = server.post(
            "/get-online-features",
            {
                "features": [
                    "transaction_streaming_features:transaction_count_1h",
                    "transaction_streaming_features:total_amount_1h",
                    "user_features:total_purchases",
                ],
                "entities": {"user_id": [1001, 1002]},
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        values = dict(zip(body["metadata"]["feature_names"], (r["values"] for r in body["results"]), strict=True))
        assert values["transaction_count_1h"] == [4, 1]
        assert values["total_amount_1h"] == [72.5, 5.0]
        assert values["total_purchases"] == [45, 23]
