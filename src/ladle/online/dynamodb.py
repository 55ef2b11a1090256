"""DynamoDB online store (``online_store: {type: dynamodb, region: ..., endpoint_url: ...}``).

One table per view, named by ``table_name_template`` (default ``{project}.{table_name}``, as in Feast), with
the encoded entity key as hash key ``entity_id`` (``__dummy`` for a view without entities). An item holds ``event_ts`` and ``created_ts`` (UTC
micros) and one binary attribute per non-null feature (tagged bytes, :mod:`ladle.online.value_bytes`).
Writes are conditional puts — the condition is the newer-wins rule, so DynamoDB itself refuses an older
row — sent from a small thread pool; reads are BatchGetItem (100 keys a call, unprocessed keys retried).
The item ``__ladle_shape`` of each table records the view's shape (:mod:`ladle.online.shape`), so that
``update`` knows which attributes a changed view must lose.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from ladle.definitions import FeatureView
from ladle.drivers.lazy_import import lazy_module
from ladle.errors import BackendFailure, BackendUnavailable, MissingExtra
from ladle.online.base import OnlineStore, OnlineStoreConfig, SharedAccess, ViewRead
from ladle.online.entity_key import encode_key_list
from ladle.online.newer_wins import is_not_older
from ladle.online.prepare import PreparedRows, prepare_rows
from ladle.online.read_result import declared_types, result_table
from ladle.online.shape import ShapeChange, ViewShape, shape_change
from ladle.online.value_bytes import decode_column, encode_column

boto3 = lazy_module("boto3")
try:  # the exception classes are needed in except clauses; botocore.exceptions alone is light
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )
except ImportError:  # pragma: no cover - exercised only without the extra
    boto3 = None

__all__ = ["DynamoDBOnlineStore", "DynamoDBOnlineStoreConfig"]

#: the item recording the view's shape (:mod:`ladle.online.shape`); no encoded key looks like it
_SHAPE_ID = "__ladle_shape"
_READ_BATCH = 100
_WRITE_BATCH = 100  # keys per stamp check (one BatchGetItem) in write_mode: batch
_RETRIES = 8
# not older: absent, older event, or same event and (new created >= old, or both created absent)
_CONDITION_WITH_CREATED = (
    "attribute_not_exists(entity_id) OR event_ts < :ts OR "
    "(event_ts = :ts AND (attribute_not_exists(created_ts) OR created_ts <= :cr))"
)
_CONDITION_NO_CREATED = (
    "attribute_not_exists(entity_id) OR event_ts < :ts OR (event_ts = :ts AND attribute_not_exists(created_ts))"
)


class DynamoDBOnlineStoreConfig(OnlineStoreConfig):
    """Feast's keys for DynamoDB, plus ``endpoint_url`` for local DynamoDB-compatible servers."""

    type: Literal["dynamodb"] = "dynamodb"
    region: str = "us-east-1"
    endpoint_url: str | None = None
    table_name_template: str = "{project}.{table_name}"
    consistent_reads: bool = False
    batch_size: int = 100
    #: parallel write requests
    write_concurrency: int = 16
    #: ``conditional``: one PutItem per key whose condition is the newer-wins rule (atomic against concurrent
    #: writers). ``batch``: read the stored stamps with BatchGetItem, then BatchWriteItem the rows that win —
    #: an order of magnitude fewer requests, but a concurrent writer may slip in between the read and the write.
    write_mode: Literal["conditional", "batch"] = "conditional"


class DynamoDBOnlineStore(OnlineStore):
    """Latest values per key in DynamoDB tables."""

    name = "dynamodb"
    config_class = DynamoDBOnlineStoreConfig
    config: DynamoDBOnlineStoreConfig

    def __init__(self, config: DynamoDBOnlineStoreConfig, repo_path: Path) -> None:
        if boto3 is None:
            raise MissingExtra("the dynamodb online store", "dynamodb", "boto3")
        super().__init__(config, repo_path)
        self._client: Any = None
        self._lock = threading.Lock()

    def _dynamodb(self) -> Any:
        with self._lock:
            if self._client is None:
                from botocore.config import Config as BotoConfig

                self._client = boto3.client(
                    "dynamodb",
                    region_name=self.config.region,
                    endpoint_url=self.config.endpoint_url,
                    # bounded: an unreachable or stalled endpoint is an error within seconds, not minutes
                    config=BotoConfig(
                        max_pool_connections=max(10, self.config.write_concurrency),
                        connect_timeout=1,
                        read_timeout=5,
                        retries={"total_max_attempts": 3, "mode": "standard"},
                    ),
                )
            return self._client

    def close(self) -> None:
        with self._lock:
            self._client = None

    def table_name(self, project: str, view: FeatureView) -> str:
        """The view's table, from ``table_name_template``."""
        return self.config.table_name_template.format(project=project, table_name=view.name)

    def shared_access(self) -> SharedAccess:
        """The store's DynamoDB client, and its errors."""
        return SharedAccess(self._dynamodb, self._driver_error)

    def _driver_error(self, exc: Exception, doing: str) -> Exception:
        if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError):
            return BackendUnavailable(
                "dynamodb online store",
                f"cannot reach DynamoDB while {doing}: {exc}",
                "check online_store.region / endpoint_url and credentials",
            )
        if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return BackendFailure("dynamodb online store", f"{doing}: its table does not exist", "run `ladle apply`")
        return BackendFailure("dynamodb online store", f"{doing} failed: {exc}")

    def check(self) -> None:
        from botocore.config import Config as BotoConfig

        # one attempt with short timeouts: the store's own client retries for minutes against a dead endpoint
        client = boto3.client(
            "dynamodb",
            region_name=self.config.region,
            endpoint_url=self.config.endpoint_url,
            config=BotoConfig(connect_timeout=5, read_timeout=10, retries={"max_attempts": 1, "mode": "standard"}),
        )
        try:
            client.list_tables(Limit=1)
        except (BotoCoreError, ClientError) as exc:
            raise self._driver_error(exc, "checking the connection") from exc

    # --- tables --------------------------------------------------------------------------------------
    def update(self, project: str, keep: list[FeatureView], delete: list[FeatureView]) -> None:
        """Create kept views' tables, apply the shape rule (:mod:`ladle.online.shape`), delete ``delete``'s."""
        client = self._dynamodb()
        try:
            existing = set(self._list_tables(client))
            for view in delete:
                self._delete_table(client, self.table_name(project, view), existing)
            for view in keep:
                name = self.table_name(project, view)
                new = ViewShape.of(view)
                if name in existing:
                    item = client.get_item(TableName=name, Key={"entity_id": {"S": _SHAPE_ID}}, ConsistentRead=True)
                    old = ViewShape.from_json(item.get("Item", {}).get("shape", {}).get("S"))
                    change = shape_change(old, new)
                    if change.drop_rows:
                        self._delete_table(client, name, existing)
                    elif change.any:
                        self._clear(client, name, change)
                if name not in existing:
                    self._create_table(client, name)
                client.put_item(TableName=name, Item={"entity_id": {"S": _SHAPE_ID}, "shape": {"S": new.to_json()}})
        except (BotoCoreError, ClientError) as exc:
            raise self._driver_error(exc, "creating/deleting tables") from exc

    @staticmethod
    def _delete_table(client: Any, name: str, existing: set[str]) -> None:
        if name in existing:
            client.delete_table(TableName=name)
            client.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
            existing.discard(name)

    @staticmethod
    def _create_table(client: Any, name: str) -> None:
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "entity_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "entity_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})

    @staticmethod
    def _clear(client: Any, name: str, change: ShapeChange) -> None:
        """Remove the ``change.cleared`` attributes from every item of the table."""
        names = {f"#f{i}": f"f:{f}" for i, f in enumerate(change.cleared)}
        remove = "REMOVE " + ", ".join(names)
        for page in client.get_paginator("scan").paginate(TableName=name, ProjectionExpression="entity_id"):
            for item in page["Items"]:
                if item["entity_id"]["S"] != _SHAPE_ID:
                    client.update_item(
                        TableName=name,
                        Key={"entity_id": item["entity_id"]},
                        UpdateExpression=remove,
                        ExpressionAttributeNames=names,
                    )

    @staticmethod
    def _list_tables(client: Any) -> list[str]:
        names: list[str] = []
        for page in client.get_paginator("list_tables").paginate():
            names.extend(page["TableNames"])
        return names

    def teardown(self, project: str, views: list[FeatureView]) -> None:
        self.update(project, [], views)

    # --- writes --------------------------------------------------------------------------------------
    def write(self, project: str, view: FeatureView, rows: pa.Table) -> int:
        if rows.num_rows == 0:
            return 0
        items = _Items.of(self.table_name(project, view), view.name, prepare_rows(view, rows))
        try:
            with ThreadPoolExecutor(max_workers=self.config.write_concurrency) as pool:
                if self.config.write_mode == "batch":
                    list(pool.map(lambda start: self._put_batch(items, start), range(0, len(items.ids), _WRITE_BATCH)))
                else:
                    list(pool.map(lambda i: self._put(items, i), range(len(items.ids))))
        except (BotoCoreError, ClientError) as exc:
            raise self._driver_error(exc, f"writing feature view '{items.view}' (table '{items.table}')") from exc
        written: int = rows.num_rows
        return written

    def _put(self, items: _Items, i: int) -> None:
        """One conditional PutItem: DynamoDB refuses the item when the stored one is newer."""
        attrs: dict[str, Any] = {":ts": {"N": str(items.ts[i])}}
        if items.cr[i] is not None:
            attrs[":cr"] = {"N": str(items.cr[i])}
        try:
            self._dynamodb().put_item(
                TableName=items.table,
                Item=items.item(i),
                ConditionExpression=_CONDITION_WITH_CREATED if items.cr[i] is not None else _CONDITION_NO_CREATED,
                ExpressionAttributeValues=attrs,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise  # an older row is refused by the condition: that is the rule, not an error

    def _put_batch(self, items: _Items, start: int) -> None:
        """Read the stored stamps of up to ``_WRITE_BATCH`` keys, then BatchWriteItem the rows that win."""
        chunk = range(start, min(start + _WRITE_BATCH, len(items.ids)))
        table = items.table
        stored = self._batch_get({table: [items.ids[i] for i in chunk]}, f"'{items.view}'", stamps_only=True)[table]
        winners = []
        for i in chunk:
            old = stored.get(items.ids[i])
            old_cr = old.get("created_ts", {}).get("N") if old else None
            if old is None or is_not_older(
                items.ts[i], items.cr[i], int(old["event_ts"]["N"]), None if old_cr is None else int(old_cr)
            ):
                winners.append({"PutRequest": {"Item": items.item(i)}})
        client = self._dynamodb()
        for start_w in range(0, len(winners), 25):  # BatchWriteItem's limit
            request: dict[str, Any] = {table: winners[start_w : start_w + 25]}
            for attempt in range(_RETRIES):
                request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))
            else:
                raise BackendUnavailable("dynamodb online store", f"writing '{items.view}': items stayed unprocessed")

    # --- reads ---------------------------------------------------------------------------------------
    def read(self, project: str, view: FeatureView, keys: pa.Table, features: list[str]) -> pa.Table:
        return self.read_many(project, [ViewRead(view, keys, features)])[0]

    def read_many(self, project: str, reads: list[ViewRead]) -> list[pa.Table]:
        declared = [declared_types(project, r.view, r.features) for r in reads]
        wanted = [[None if k is None else _item_id(k) for k in encode_key_list(r.keys)] for r in reads]
        tables = [self.table_name(project, r.view) for r in reads]
        needed: dict[str, dict[str, None]] = {}
        for table, w in zip(tables, wanted, strict=True):
            needed.setdefault(table, {}).update(dict.fromkeys(k for k in w if k is not None))
        found = self._batch_get({t: list(ks) for t, ks in needed.items()}, ", ".join(f"'{r.view.name}'" for r in reads))
        out = []
        for r, table, w, types in zip(reads, tables, wanted, declared, strict=True):
            items = [found[table].get(k) if k is not None else None for k in w]
            attrs = [f"f:{f}" for f in r.features]
            rows = [None if it is None else [it["event_ts"]["N"], *_values(it, attrs)] for it in items]
            out.append(result_table(r.features, types, rows, decode_column))
        return out

    def _batch_get(
        self, keys: dict[str, list[str]], views: str, stamps_only: bool = False
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """Items by table and entity key; every table of a request in the same BatchGetItem calls."""
        client = self._dynamodb()
        found: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in keys}
        pairs = [(t, k) for t, ks in keys.items() for k in ks]
        try:
            for start in range(0, len(pairs), _READ_BATCH):
                request: dict[str, Any] = {}
                for t, k in pairs[start : start + _READ_BATCH]:
                    request.setdefault(t, {"Keys": [], "ConsistentRead": stamps_only or self.config.consistent_reads})
                    if stamps_only:
                        request[t]["ProjectionExpression"] = "entity_id, event_ts, created_ts"
                    request[t]["Keys"].append({"entity_id": {"S": k}})
                for attempt in range(_RETRIES):
                    reply = client.batch_get_item(RequestItems=request)
                    for t, items in reply.get("Responses", {}).items():
                        for item in items:
                            found[t][item["entity_id"]["S"]] = item
                    request = reply.get("UnprocessedKeys") or {}
                    if not request:
                        break
                    time.sleep(min(0.05 * 2**attempt, 1.0))
                else:
                    raise BackendUnavailable("dynamodb online store", f"reading {views}: keys stayed unprocessed")
        except (BotoCoreError, ClientError) as exc:
            raise self._driver_error(exc, f"reading feature view(s) {views}") from exc
        return found

    # --- deleting keys (rollback) --------------------------------------------------------------------
    def delete(self, project: str, view: FeatureView, keys: pa.Table) -> None:
        """Remove the items of ``keys`` (BatchWriteItem delete requests); see :meth:`OnlineStore.delete`."""
        ids = list(dict.fromkeys(_item_id(k) for k in encode_key_list(keys) if k is not None)) if keys.num_rows else []
        table, client = self.table_name(project, view), self._dynamodb()
        try:
            for start in range(0, len(ids), 25):  # BatchWriteItem's limit
                request: dict[str, Any] = {
                    table: [{"DeleteRequest": {"Key": {"entity_id": {"S": i}}}} for i in ids[start : start + 25]]
                }
                for attempt in range(_RETRIES):
                    request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                    if not request:
                        break
                    time.sleep(min(0.05 * 2**attempt, 1.0))
                else:
                    raise BackendUnavailable(
                        "dynamodb online store", f"deleting '{view.name}': items stayed unprocessed"
                    )
        except (BotoCoreError, ClientError) as exc:
            raise self._driver_error(exc, f"deleting keys of feature view '{view.name}' (table '{table}')") from exc


@dataclass(frozen=True)
class _Items:
    """Prepared rows as DynamoDB items: ids, stamps (UTC micros) and each feature's tagged bytes."""

    table: str
    view: str
    ids: list[str]
    ts: list[int]
    cr: list[int | None]
    names: list[str]
    values: list[list[bytes]]

    @classmethod
    def of(cls, table: str, view: str, prepared: PreparedRows) -> _Items:
        return cls(
            table=table,
            view=view,
            ids=[_item_id(k) for k in prepared.keys.to_pylist()],
            ts=prepared.event_us.to_pylist(),
            cr=prepared.created_us.to_pylist(),
            names=prepared.names,
            values=[encode_column(column) for column in prepared.features],
        )

    def item(self, i: int) -> dict[str, Any]:
        """Row ``i`` as an item; a null feature is no attribute."""
        item: dict[str, Any] = {"entity_id": {"S": self.ids[i]}, "event_ts": {"N": str(self.ts[i])}}
        if self.cr[i] is not None:
            item["created_ts"] = {"N": str(self.cr[i])}
        for name, column in zip(self.names, self.values, strict=True):
            if column[i]:
                item[f"f:{name}"] = {"B": column[i]}
        return item


def _item_id(encoded_key: str) -> str:
    """The ``entity_id`` of an encoded key. DynamoDB refuses an empty key, the encoding of every row of a view
    without entities; ``__dummy`` (Feast's dummy entity) cannot collide with an encoded key (see entity_key.py)."""
    return encoded_key or "__dummy"


def _values(item: dict[str, Any], attrs: list[str]) -> list[bytes | None]:
    """The stored bytes of ``attrs`` in ``item`` (``None`` where a value is null, so not stored)."""
    return [item[a]["B"] if a in item else None for a in attrs]
