"""Window state in the DynamoDB online store: one table per view and layout, one item per event.

Hash key ``k`` (``"k"`` + the encoded entity key, never empty), sort key ``e``: the event time as 8 bytes
that sort like the number (big-endian, sign bit flipped) followed by the 16-byte event id, so a window is
one ``Query`` with ``e BETWEEN`` and a replay writes the very same item again. ``p`` holds the payload and
``x`` the epoch second at which the event leaves the longest window. Eviction does not rely on DynamoDB's
time-to-live on ``x`` (a backstop that may lag by days): after a write, each written key loses its events
older than the longest window and all but its newest ``max_events``, and :meth:`sweep` (after each
materialization) deletes every key's old events with one keys-only scan. Reads filter by time anyway. Queries for several keys run in a small pool.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ladle.errors import BackendUnavailable
from ladle.windows.events import EventBatch, FetchedEvents
from ladle.windows.state_base import DEFAULT_MAX_EVENTS, StateTarget, WindowState

__all__ = ["DynamoDBWindowState"]

_SIGN = 1 << 63
_RETRIES = 8
_POOL = 8


def _time_bytes(us: int) -> bytes:
    return ((us + _SIGN) & ((1 << 64) - 1)).to_bytes(8, "big")


def _time_of(sort_key: bytes) -> int:
    return int.from_bytes(sort_key[:8], "big") - _SIGN


class DynamoDBWindowState(WindowState):
    """Events in DynamoDB tables named by the online store's ``table_name_template``."""

    name = "dynamodb"

    def __init__(
        self,
        client: Callable[[], Any],
        table_name: Callable[[str, str], str],
        errors: Callable[[Exception, str], Exception],
        max_events: int = DEFAULT_MAX_EVENTS,
    ) -> None:
        super().__init__(max_events)
        self._client = client
        self._table_name = table_name
        self._fail = errors
        self._created: set[str] = set()

    def _table(self, target: StateTarget) -> str:
        return self._table_name(target.project, f"{target.view}__win_{target.layout}")

    def _ensure(self, client: Any, table: str) -> None:
        if table in self._created:
            return
        try:
            client.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}, {"AttributeName": "e", "KeyType": "RANGE"}],
                AttributeDefinitions=[
                    {"AttributeName": "k", "AttributeType": "S"},
                    {"AttributeName": "e", "AttributeType": "B"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1})
            client.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "x"})
        except client.exceptions.ResourceInUseException:
            pass  # created already (by this or another process)
        self._created.add(table)

    def add(self, target: StateTarget, events: EventBatch, now_us: int) -> None:
        if not len(events):
            return
        client = self._client()
        table = self._table(target)
        wall_s = time.time()
        items: dict[tuple[str, bytes], dict[str, Any]] = {}
        for key, ts, event_id, payload in zip(
            events.keys, events.ts.tolist(), events.ids, events.payloads, strict=True
        ):
            sort_key = _time_bytes(ts) + event_id
            expires = int(wall_s + (ts + target.horizon_us - now_us) / 1e6) + 1
            items[("k" + key, sort_key)] = {
                "k": {"S": "k" + key},
                "e": {"B": sort_key},
                "p": {"B": payload},
                "x": {"N": str(expires)},
            }
        puts = [{"PutRequest": {"Item": item}} for item in items.values()]
        try:
            self._ensure(client, table)
            with ThreadPoolExecutor(max_workers=_POOL) as pool:
                list(pool.map(lambda s: self._write(client, table, puts[s : s + 25], target), range(0, len(puts), 25)))
                cutoff = now_us - target.horizon_us
                list(pool.map(lambda k: self._evict(client, table, k, cutoff), sorted({k for k, _ in items})))
        except BackendUnavailable:
            raise
        except Exception as exc:
            raise self._fail(exc, f"adding events of feature view '{target.view}' (table '{table}')") from exc

    @staticmethod
    def _write(client: Any, table: str, requests: list[dict[str, Any]], target: StateTarget) -> None:
        request: dict[str, Any] = {table: requests}
        for attempt in range(_RETRIES):
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            if not request:
                return
            time.sleep(min(0.05 * 2**attempt, 1.0))
        raise BackendUnavailable("dynamodb window state", f"adding events of '{target.view}': items stayed unprocessed")

    def _query(
        self, client: Any, table: str, key: str, low: bytes, high: bytes, keys_only: bool
    ) -> list[dict[str, Any]]:
        args: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "k = :k AND e BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {":k": {"S": key}, ":lo": {"B": low}, ":hi": {"B": high}},
        }
        if keys_only:
            args["ProjectionExpression"] = "k, e"
        items: list[dict[str, Any]] = []
        while True:
            reply = client.query(**args)
            items += reply.get("Items", [])
            if "LastEvaluatedKey" not in reply:
                return items
            args["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def _evict(self, client: Any, table: str, key: str, cutoff: int) -> None:
        """Delete ``key``'s events with ``ts <= cutoff`` and all but its newest ``max_events``."""
        kept = self._query(client, table, key, bytes(8), _time_bytes(2**62) + b"\xff" * 16, keys_only=True)
        doomed = [it for it in kept if _time_of(it["e"]["B"]) <= cutoff]
        rest = [it for it in kept if _time_of(it["e"]["B"]) > cutoff]
        if len(rest) > self.max_events:  # items come sorted by e, oldest first
            doomed += rest[: len(rest) - self.max_events]
        self._delete(client, table, doomed)

    @staticmethod
    def _delete(client: Any, table: str, items: list[dict[str, Any]]) -> None:
        """Delete ``items`` (each with its keys ``k`` and ``e``), 25 per request, retrying unprocessed ones."""
        for start in range(0, len(items), 25):
            deletes = [{"DeleteRequest": {"Key": {"k": it["k"], "e": it["e"]}}} for it in items[start : start + 25]]
            request: dict[str, Any] = {table: deletes}
            for attempt in range(_RETRIES):
                request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))

    def fetch(self, target: StateTarget, keys: list[str], since_us: int, until_us: int) -> FetchedEvents:
        if not keys:
            return FetchedEvents.empty()
        client = self._client()
        table = self._table(target)
        low, high = _time_bytes(since_us + 1), _time_bytes(until_us) + b"\xff" * 16

        def one(key: str) -> list[dict[str, Any]]:
            return self._query(client, table, "k" + key, low, high, keys_only=False)

        try:
            if len(keys) == 1:
                replies = [one(keys[0])]
            else:
                with ThreadPoolExecutor(max_workers=min(_POOL, len(keys))) as pool:
                    replies = list(pool.map(one, keys))
        except client.exceptions.ResourceNotFoundException:
            return FetchedEvents.empty()
        except Exception as exc:
            raise self._fail(exc, f"reading events of feature view '{target.view}' (table '{table}')") from exc
        counts = [len(r) for r in replies]
        items = [it for r in replies for it in r]
        if not items:
            return FetchedEvents.empty()
        index = np.repeat(np.arange(len(keys), dtype=np.int64), counts)
        ts = np.array([_time_of(it["e"]["B"]) for it in items], np.int64)
        return FetchedEvents.of_payloads(index, ts, [it["p"]["B"] for it in items])

    def sweep(self, target: StateTarget, now_us: int) -> None:
        """Delete every key's events with ``ts <= now_us - horizon``: one scan of the view's table (keys only,
        filtered on the sort key), so eviction does not wait for DynamoDB's time-to-live, which may lag by
        days."""
        client = self._client()
        table = self._table(target)
        args: dict[str, Any] = {
            "TableName": table,
            "ProjectionExpression": "k, e",
            "FilterExpression": "e < :cut",
            "ExpressionAttributeValues": {":cut": {"B": _time_bytes(now_us - target.horizon_us + 1)}},
        }
        try:
            while True:
                reply = client.scan(**args)
                self._delete(client, table, reply.get("Items", []))
                if "LastEvaluatedKey" not in reply:
                    return
                args["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        except client.exceptions.ResourceNotFoundException:
            return
        except Exception as exc:
            raise self._fail(exc, f"evicting events of feature view '{target.view}' (table '{table}')") from exc

    def drop(self, project: str, view: str) -> None:
        client = self._client()
        prefix = self._table_name(project, f"{view}__win_")
        try:
            names: list[str] = []
            for page in client.get_paginator("list_tables").paginate():
                names += [n for n in page["TableNames"] if n.startswith(prefix)]
            for name in names:
                client.delete_table(TableName=name)
                client.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
                self._created.discard(name)
        except Exception as exc:
            raise self._fail(exc, f"dropping the window state of feature view '{view}'") from exc
