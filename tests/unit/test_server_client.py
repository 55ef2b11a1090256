"""FeatureClient against a fake transport: what it sends, what it returns, how errors come back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pandas as pd
import pytest

from ladle import Entity, FeatureService, FeatureView, Field, FileSource
from ladle.client import FeatureClient, FeatureServerError
from ladle.errors import BackendUnavailable, FeatureNotFound, InvalidRequest, NotFound
from ladle.types import Int64

ANSWER = {
    "metadata": {"feature_names": ["driver_id", "conv_rate"]},
    "results": [
        {
            "values": [1001, 7],
            "statuses": ["PRESENT", "PRESENT"],
            "event_timestamps": ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"],
        },
        {
            "values": [0.5, None],
            "statuses": ["PRESENT", "NOT_FOUND"],
            "event_timestamps": ["2024-05-01T12:00:00Z", "1970-01-01T00:00:00Z"],
        },
    ],
}


def client_answering(status: int, body: Any, seen: list[httpx.Request]) -> FeatureClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=orjson.dumps(body), headers={"content-type": "application/json"})

    return FeatureClient("http://features", api_key="k", transport=httpx.MockTransport(handler))


def test_get_online_features_sends_feasts_body_and_reads_the_answer() -> None:
    seen: list[httpx.Request] = []
    with client_answering(200, ANSWER, seen) as client:
        response = client.get_online_features(
            features=["driver_hourly_stats:conv_rate"], entity_rows=[{"driver_id": 1001}, {"driver_id": 7}]
        )
    request = seen[0]
    assert request.url.path == "/get-online-features" and request.headers["authorization"] == "Bearer k"
    assert orjson.loads(request.content) == {
        "entities": {"driver_id": [1001, 7]},
        "full_feature_names": False,
        "features": ["driver_hourly_stats:conv_rate"],
    }
    assert response.to_dict() == {"driver_id": [1001, 7], "conv_rate": [0.5, None]}
    assert response.statuses["conv_rate"] == ["PRESENT", "NOT_FOUND"]
    assert response.event_timestamps == {"conv_rate": [datetime(2024, 5, 1, 12, tzinfo=UTC), None]}
    assert list(response.to_df().columns) == ["driver_id", "conv_rate"]
    assert response.to_arrow().num_rows == 2


def test_a_feature_service_is_sent_by_name_with_request_context() -> None:
    seen: list[httpx.Request] = []
    view = FeatureView(
        name="v",
        entities=[Entity(name="driver", join_keys=["driver_id"])],
        schema=[Field(name="f", dtype=Int64)],
        source=FileSource(path="x.parquet", timestamp_field="ts"),
    )
    service = FeatureService(name="svc", features=[view])
    with client_answering(200, ANSWER, seen) as client:
        client.get_online_features(service, {"driver_id": [1]}, full_feature_names=True, request_context={"val": [3]})
    assert orjson.loads(seen[0].content) == {
        "entities": {"driver_id": [1]},
        "full_feature_names": True,
        "feature_service": "svc",
        "request_context": {"val": [3]},
    }


def test_push_and_write_send_columns_with_iso_timestamps() -> None:
    seen: list[httpx.Request] = []
    frame = pd.DataFrame(
        {"driver_id": [1], "event_timestamp": [pd.Timestamp("2024-05-01T12:00:00Z")], "conv_rate": [0.5]}
    )
    with client_answering(200, {"status": "ok", "rows": 1}, seen) as client:
        client.push("src", frame, to="online_and_offline")
        assert client.write_to_online_store("fv", frame) == 1
    assert orjson.loads(seen[0].content) == {
        "push_source_name": "src",
        "to": "online_and_offline",
        "df": {"driver_id": [1], "event_timestamp": ["2024-05-01T12:00:00+00:00"], "conv_rate": [0.5]},
    }
    assert orjson.loads(seen[1].content)["feature_view_name"] == "fv"


@pytest.mark.parametrize(
    ("status", "kind", "expected"),
    [
        (400, "InvalidRequest", InvalidRequest),
        (404, "NotFound", NotFound),
        (404, "FeatureNotFound", FeatureNotFound),
        (503, "RegistryUnavailable", BackendUnavailable),
        (503, "BackendUnavailable", BackendUnavailable),
        (401, "Unauthorized", FeatureServerError),
        (500, "InternalError", FeatureServerError),
    ],
)
def test_errors_come_back_as_ladle_errors(status: int, kind: str, expected: type[Exception]) -> None:
    with (
        client_answering(status, {"error": {"type": kind, "message": "the reason"}}, []) as client,
        pytest.raises(expected, match="the reason") as caught,
    ):
        client.get_online_features(["v:f"], {"k": [1]})
    assert getattr(caught.value, "status", status) == status


def test_features_must_be_refs_or_a_service() -> None:
    with client_answering(200, ANSWER, []) as client, pytest.raises(TypeError, match="FeatureService"):
        client.get_online_features("v:f", {"k": [1]})
