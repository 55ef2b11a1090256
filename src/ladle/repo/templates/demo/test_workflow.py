# The demo workflow: run `python test_workflow.py` in this folder after `ladle apply`.
# It builds a training set, loads the online store, reads online features, and pushes a fresh row.

from datetime import UTC, datetime, timedelta

import pandas as pd

from ladle import FeatureStore, PushMode


def run_demo() -> None:
    pd.set_option("display.max_columns", None)
    pd.set_option("display.width", 200)
    store = FeatureStore(repo_path=".")

    print("\n--- Historical features for training ---")
    fetch_historical_features(store)

    print("\n--- Load features into online store ---")
    for result in store.materialize_incremental(end_date=datetime.now(UTC)):
        print(
            f"{result.view}: {result.rows} rows from {result.start:%Y-%m-%d %H:%M:%S} to {result.end:%Y-%m-%d %H:%M:%S} UTC"
        )

    print("\n--- Online features ---")
    fetch_online_features(store)

    print("\n--- Online features retrieved (instead) through a feature service, with request data ---")
    fetch_online_features(store, source="feature_service")

    print("\n--- Online features of the push-fed view (feature service v3) ---")
    fetch_online_features(store, source="push")

    print("\n--- Simulate a stream event: push a new row for driver 1001 ---")
    now = datetime.now(UTC)
    event_df = pd.DataFrame(
        {
            "driver_id": [1001],
            "event_timestamp": [now],
            "created": [now],
            "conv_rate": [1.0],
            "acc_rate": [1.0],
            "avg_daily_trips": [1000],
        }
    )
    print(event_df)
    store.push("driver_stats_push_source", event_df, to=PushMode.ONLINE_AND_OFFLINE)

    print("\n--- Online features again, with the pushed values (conv_rate 1.0, avg_daily_trips 1000) ---")
    fetch_online_features(store, source="push")


def fetch_historical_features(store: FeatureStore) -> None:
    now = datetime.now(UTC)
    entity_df = pd.DataFrame(
        {
            # the entity's join key -> entity values
            "driver_id": [1001, 1002, 1003],
            # the point in time each row is "as of"
            "event_timestamp": [now - timedelta(minutes=11), now - timedelta(minutes=36), now - timedelta(minutes=73)],
            # a label; ladle passes other columns through unchanged
            "label_driver_reported_satisfaction": [1, 5, 3],
            # request data for the on-demand transformation
            "val_to_add": [1, 2, 3],
            "val_to_add_2": [10, 20, 30],
        }
    )
    training_df = store.get_historical_features(
        entity_df=entity_df,
        features=[
            "driver_hourly_stats:conv_rate",
            "driver_hourly_stats:acc_rate",
            "driver_hourly_stats:avg_daily_trips",
            "transformed_conv_rate:conv_rate_plus_val1",
            "transformed_conv_rate:conv_rate_plus_val2",
        ],
    ).to_df()
    print("----- Feature schema -----\n")
    training_df.info()
    print("\n----- Example features -----\n")
    print(training_df.head())


def fetch_online_features(store: FeatureStore, source: str = "") -> None:
    entity_rows = [
        # {join_key: entity_value, request data...}
        {"driver_id": 1001, "val_to_add": 1000, "val_to_add_2": 2000},
        {"driver_id": 1002, "val_to_add": 1001, "val_to_add_2": 2002},
    ]
    if source == "feature_service":
        features_to_fetch = store.get_feature_service("driver_activity_v1")
    elif source == "push":
        features_to_fetch = store.get_feature_service("driver_activity_v3")
    else:
        features_to_fetch = [
            "driver_hourly_stats:acc_rate",
            "driver_hourly_stats:avg_daily_trips",
            "transformed_conv_rate:conv_rate_plus_val1",
            "transformed_conv_rate:conv_rate_plus_val2",
        ]
    returned_features = store.get_online_features(features=features_to_fetch, entity_rows=entity_rows).to_dict()
    for key, value in sorted(returned_features.items()):
        print(key, " : ", value)


if __name__ == "__main__":
    run_demo()
