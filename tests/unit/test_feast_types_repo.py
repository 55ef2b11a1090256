"""A repo written for Feast with its newer types (Set, Uuid, TimeUuid, Decimal, nested arrays, ``*_SET`` and
``UUID`` value types) loads with ``from feast import ...`` and runs apply -> historical -> materialize ->
online -> push, every value round-tripping exactly (UUIDs as canonical text, sets sorted and distinct)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ladle.store import FeatureStore
from ladle.types import Array, Decimal, Int64, Set, String, TimeUuid, Uuid, ValueType

REPO = """
from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, PushSource
from feast.types import Array, Decimal, Int64, Set, String, TimeUuid, Uuid
from feast.value_type import ValueType

user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.UUID)
source = FileSource(name="accounts_src", path="data/accounts.parquet", timestamp_field="event_timestamp")
push = PushSource(name="accounts_push", batch_source=source)
accounts = FeatureView(
    name="accounts",
    entities=[user],
    ttl=timedelta(days=7),
    schema=[
        Field(name="balance", dtype=Decimal),
        Field(name="tags", dtype=Set(String)),
        Field(name="friends", dtype=Array(Uuid)),
        Field(name="last_event", dtype=TimeUuid),
        Field(name="grid", dtype=Array(Array(Int64))),
        Field(name="codes", dtype=Set(Int64)),
    ],
    source=push,
)
"""

A, B = uuid.UUID("6ba7b810-9dad-41d1-80b4-00c04fd430c8"), uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
EV = uuid.UUID("c232ab00-9414-11ec-b3c8-9f6bdeced846")
T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)  # online reads enforce the ttl


def test_feast_typed_repo_end_to_end(make_repo) -> None:
    repo = make_repo({"accounts.py": REPO})
    pq.write_table(
        pa.table(
            {
                "user_id": [str(A).upper(), str(B)],
                "event_timestamp": pa.array([T0, T0], pa.timestamp("us", tz="UTC")),
                "balance": pa.array([D("1234.50"), D("-0.000000000000000001")], pa.decimal128(38, 18)),
                "tags": [["vip", "eu", "vip"], []],
                "friends": [[str(B), None], None],
                "last_event": [str(EV), None],
                "grid": [[[1, 2], [], None], []],
                "codes": [[3, 1, 3], None],
            }
        ),
        repo / "data/accounts.parquet",
    )
    store = FeatureStore(repo_path=repo)
    store.apply_repo()
    view = store.get_feature_view("accounts")
    assert {f.name: f.dtype for f in view.features} == {
        "balance": Decimal,
        "tags": Set(String),
        "friends": Array(Uuid),
        "last_event": TimeUuid,
        "grid": Array(Array(Int64)),
        "codes": Set(Int64),
    }
    assert store.get_entity("user").value_type == ValueType.UUID
    refs = [f"accounts:{f.name}" for f in view.features]

    entity_df = pd.DataFrame({"user_id": [B, A], "event_timestamp": [T0 + timedelta(hours=1)] * 2})
    hist = store.get_historical_features(entity_df, refs).to_df()
    expected = {
        "balance": [D("-0.000000000000000001"), D("1234.5")],
        "tags": [[], ["eu", "vip"]],
        "friends": [None, [str(B), None]],
        "last_event": [None, str(EV)],
        "grid": [[], [[1, 2], [], None]],
        "codes": [None, [1, 3]],
    }
    for name, values in expected.items():
        got = [v.tolist() if hasattr(v, "tolist") else None if pd.isna(v) else v for v in hist[name]]
        got = [[x.tolist() if hasattr(x, "tolist") else x for x in v] if isinstance(v, list) else v for v in got]
        assert got == values, name

    # a Uuid key matches by value: uppercase text in entity_df finds the lowercase/uppercase source rows
    upper = pd.DataFrame(
        {"user_id": [str(B).upper(), str(A).upper()], "event_timestamp": [T0 + timedelta(hours=1)] * 2}
    )
    assert store.get_historical_features(upper, ["accounts:balance"]).to_df()["balance"].tolist() == expected["balance"]

    store.materialize(T0 - timedelta(days=1), T0 + timedelta(hours=1))
    online = store.get_online_features(refs, [{"user_id": B}, {"user_id": A}]).to_dict()
    assert {k: online[k] for k in expected} == expected
    assert online["user_id"] == [str(B), str(A)]

    # a push with Python objects: uuid.UUID, Decimal and a set become canonical text, exact decimals, a sorted list
    store.push(
        "accounts_push",
        pd.DataFrame(
            {
                "user_id": [A],
                "event_timestamp": [T0 + timedelta(minutes=30)],
                "balance": [D("7.25")],
                "tags": [{"z", "a"}],
                "friends": [[A, B]],
                "last_event": [EV],
                "grid": [[[5]]],
                "codes": [frozenset({2})],
            }
        ),
    )
    pushed = store.get_online_features(refs, [{"user_id": str(A)}]).to_dict()
    assert pushed["balance"] == [D("7.25")]
    assert pushed["tags"] == [["a", "z"]]
    assert pushed["friends"] == [[str(A), str(B)]]
    assert pushed["last_event"] == [str(EV)]
    assert pushed["grid"] == [[[5]]]
    assert pushed["codes"] == [[2]]
