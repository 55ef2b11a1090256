"""features/user_features.py of seed 001, with Feast's imports unchanged (ladle maps them)."""

from datetime import timedelta

import pandas as pd
from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType, on_demand_feature_view
from feast.types import Float32, Float64, Int64, String

# The entity: the key of the features.
user = Entity(name="user_id", description="Customer ID", value_type=ValueType.INT64)

# Daily snapshots of each customer's purchase statistics (generate_data.py writes them).
user_source = FileSource(
    path="data/user_features.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created_timestamp",
)

user_features = FeatureView(
    name="user_features",
    entities=[user],
    ttl=timedelta(days=2),
    schema=[
        Field(name="total_purchases", dtype=Int64),
        Field(name="avg_purchase_amount", dtype=Float32),
        Field(name="days_since_last_purchase", dtype=Int64),
        Field(name="customer_segment", dtype=String),
        Field(name="tenure_months", dtype=Int64),
    ],
    online=True,
    source=user_source,
    tags={"team": "ml-platform", "owner": "data-science"},
)


@on_demand_feature_view(
    sources=[user_features],
    schema=[
        Field(name="purchase_frequency", dtype=Float64),
        Field(name="is_high_value", dtype=Int64),
    ],
)
def user_derived_features(inputs: pd.DataFrame) -> pd.DataFrame:
    """Purchases per month of tenure; whether the average basket is over 100."""
    df = pd.DataFrame()
    df["purchase_frequency"] = inputs["total_purchases"] / inputs["tenure_months"]
    df["is_high_value"] = (inputs["avg_purchase_amount"] > 100).astype("int64")
    return df


# What the churn model reads, in one place for training and serving.
churn_model_v1 = FeatureService(
    name="churn_model_v1",
    features=[
        user_features[["total_purchases", "avg_purchase_amount", "days_since_last_purchase", "tenure_months"]],
        user_derived_features[["purchase_frequency"]],
    ],
)
