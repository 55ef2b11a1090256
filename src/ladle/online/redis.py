"""Redis online store (``online_store: {type: redis, connection_string: "host:port,password=...,ssl=true"}``).

Layout: one hash per entity key per project, ``ladle:{project}:{join keys}:{encoded key}``; views that
share an entity share the hash. A view's fields are ``{view}:{feature}`` plus ``{view}:_ts`` and
``{view}:_cr`` (UTC micros). Values are tagged bytes (:mod:`ladle.online.value_bytes`). Writes run a Lua
script that applies the newer-wins rule atomically per key; a read is one round trip of pipelined ``HMGET`` commands,
one per entity key for every view of the request.
The hash ``ladle:{project}:_shapes`` records each applied view's shape (:mod:`ladle.online.shape`), so that
``update`` knows which fields a changed view must lose.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import pyarrow as pa
from pydantic import Field, field_validator

from ladle.definitions import FeatureView
from ladle.drivers.lazy_import import lazy_module
from ladle.errors import BackendFailure, BackendUnavailable, InvalidConfig, MissingExtra
from ladle.online.base import OnlineStore, OnlineStoreConfig, SharedAccess, ViewRead
from ladle.online.entity_key import encode_key_list
from ladle.online.prepare import prepare_rows
from ladle.online.read_result import Fetched, PyDecode, declared_types
from ladle.online.resp import RespClient, RespError, RespSyncClient, RespUnavailable, encode_per_key
from ladle.online.shape import ViewShape, shape_change
from ladle.online.value_bytes import decode_column, encode_column, python_decoder

redis_lib = lazy_module("redis")

__all__ = ["RedisOnlineStore", "RedisOnlineStoreConfig"]

_CHUNK = 2_000
#: buckets a SCAN step of teardown visits (one round trip each), and keys per delete-script call: measured,
#: a call blocks Redis ~7 ms per 1,000 keys, so 250 keeps other clients' waits near 2 ms
_SCAN_COUNT = 10_000
_DELETE_CHUNK = 250

# KEYS: hashes. ARGV: ts field, created field, n features, feature fields..., then per key: ts, created,
# values... A key is written when its stored (ts, created) is absent or not newer. Empty values delete.
_WRITE_SCRIPT = """
local ts_field, cr_field, nf = ARGV[1], ARGV[2], tonumber(ARGV[3])
local base = 3 + nf
local written = 0
for i, key in ipairs(KEYS) do
  local off = base + (i - 1) * (nf + 2)
  local ts, cr = tonumber(ARGV[off + 1]), ARGV[off + 2]
  local old = redis.call('HMGET', key, ts_field, cr_field)
  local ok = true
  if old[1] then
    local ots = tonumber(old[1])
    if ts < ots then ok = false
    elseif ts == ots then
      local ocr = old[2] and old[2] ~= '' and tonumber(old[2]) or nil
      local ncr = cr ~= '' and tonumber(cr) or nil
      if ncr == nil then ok = (ocr == nil)
      elseif ocr ~= nil and ncr < ocr then ok = false end
    end
  end
  if ok then
    local sets = {ts_field, ARGV[off + 1], cr_field, cr}
    local dels = {}
    for j = 1, nf do
      local v = ARGV[off + 2 + j]
      if v == '' then dels[#dels + 1] = ARGV[3 + j] else
        sets[#sets + 1] = ARGV[3 + j]; sets[#sets + 1] = v end
    end
    redis.call('HSET', key, unpack(sets))
    if #dels > 0 then redis.call('HDEL', key, unpack(dels)) end
    written = written + 1
  end
end
return written
"""


class RedisOnlineStoreConfig(OnlineStoreConfig):
    """``online_store: {type: redis, connection_string: "localhost:6379"}`` (Feast's keys)."""

    type: Literal["redis"] = "redis"
    redis_type: Literal["redis"] = "redis"
    connection_string: str = "localhost:6379"
    #: expire a key this many seconds after its last write (None: never)
    key_ttl_seconds: int | None = Field(default=None, gt=0)

    @field_validator("connection_string")
    @classmethod
    def _parses(cls, v: str) -> str:
        _connection_kwargs(v)  # a bad port, db or option is a config error at load, not at first use
        return v


def _connection_kwargs(connection_string: str) -> dict[str, Any]:
    """``host:port,password=...,ssl=true,db=0`` as redis-py arguments (ValueError naming the bad part)."""
    parts = [p.strip() for p in connection_string.split(",") if p.strip()]
    if not parts:
        raise ValueError("is empty; write host:port, e.g. localhost:6379")
    host, _, port = parts[0].rpartition(":") if ":" in parts[0] else (parts[0], "", "6379")
    kwargs: dict[str, Any] = {"host": host or "localhost", "port": _int_in(port or "6379", "port", 1, 65535)}
    for opt in parts[1:]:
        name, _, value = opt.partition("=")
        if name == "ssl":
            kwargs["ssl"] = value.lower() in ("true", "1", "yes")
        elif name == "db":
            kwargs["db"] = _int_in(value, "db", 0, 1 << 31)
        elif name in ("password", "username"):
            kwargs[name] = value
        else:
            raise ValueError(f"option '{name}' is unknown (use password, username, ssl, db)")
    return kwargs


def _int_in(text: str, what: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not low <= value <= high:
        raise ValueError(f"{what} {value} is out of range ({low}..{high})")
    return value


class RedisOnlineStore(OnlineStore):
    """Latest values per key in Redis hashes."""

    name = "redis"
    config_class = RedisOnlineStoreConfig
    config: RedisOnlineStoreConfig

    def __init__(self, config: RedisOnlineStoreConfig, repo_path: Path) -> None:
        if redis_lib is None:
            raise MissingExtra("the redis online store", "redis", "redis")
        _ = (
            redis_lib.RedisError
        )  # load the driver now, under the store's lock: Python 3.11's lazy loading is not thread-safe
        super().__init__(config, repo_path)
        try:
            self._kwargs = _connection_kwargs(config.connection_string)
        except ValueError as exc:
            raise InvalidConfig("feature_store.yaml", f"online_store.connection_string {exc}") from None
        self._client: Any = None
        self._script: Any = None
        self._resp: RespClient | None = None
        self._resp_sync: RespSyncClient | None = None
        self._type_cache: dict[tuple[str, int, tuple[str, ...]], tuple[FeatureView, _Types]] = {}
        self._field_cache: dict[tuple[tuple[str, tuple[str, ...]], ...], tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def _redis(self) -> Any:
        with self._lock:
            if self._client is None:
                # Bounded and no retries: an outage is an error in ~1 ms (refused) or 2 s (stalled), not
                # redis-py's default 3 retries with backoff; callers (the server's breaker) decide on retrying.
                from redis.backoff import NoBackoff
                from redis.retry import Retry

                self._client = redis_lib.Redis(
                    **self._kwargs,
                    socket_timeout=2,
                    socket_connect_timeout=1,
                    retry=Retry(NoBackoff(), 0),
                )
                self._script = self._client.register_script(_WRITE_SCRIPT)
            return self._client

    def shared_access(self) -> SharedAccess:
        """The store's Redis client, and its errors."""
        return SharedAccess(self._redis, self._driver_error)

    def _driver_error(self, exc: Exception, doing: str) -> Exception:
        where = f"{self._kwargs['host']}:{self._kwargs['port']}"
        if isinstance(exc, redis_lib.AuthenticationError | redis_lib.AuthenticationWrongNumberOfArgsError):
            return BackendFailure(
                "redis online store",
                f"Redis at {where} refused the credentials: {exc}",
                "fix password=/username= in online_store.connection_string",
            )
        if isinstance(exc, redis_lib.ConnectionError | redis_lib.TimeoutError):
            return BackendUnavailable(
                "redis online store",
                f"cannot reach Redis at {where} while {doing}: {exc}",
                "start Redis or fix online_store.connection_string",
            )
        return BackendFailure("redis online store", f"{doing} failed: {exc}")

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            resp, self._resp = self._resp, None
            resp_sync, self._resp_sync = self._resp_sync, None
        if resp is not None:
            resp.abort()
        if resp_sync is not None:
            resp_sync.close()

    @staticmethod
    def _prefix(project: str, join_keys: list[str] | tuple[str, ...]) -> str:
        return f"ladle:{project}:{','.join(join_keys)}:"

    def _keys(self, project: str, view: FeatureView, keys: pa.Table) -> list[str | None]:
        prefix = self._prefix(project, view.join_keys)
        return [None if k is None else prefix + k for k in encode_key_list(keys)]

    def check(self) -> None:
        try:
            self._redis().ping()
        except redis_lib.RedisError as exc:
            raise self._driver_error(exc, "checking the connection") from exc

    def update(self, project: str, keep: list[FeatureView], delete: list[FeatureView]) -> None:
        """Drop ``delete``'s fields; apply the shape rule (:mod:`ladle.online.shape`) to every kept view."""
        client = self._redis()
        try:  # apply checks the server and the credentials now rather than at the first write
            client.ping()
            shapes_key = self._shapes_key(project)
            recorded = client.hmget(shapes_key, [v.name for v in keep]) if keep else []
            drops = self._view_fields(project, delete)
            shapes = {}
            for view, text in zip(keep, recorded, strict=True):
                new = ViewShape.of(view)
                old = ViewShape.from_json(text)
                change = shape_change(old, new)
                if old is not None and change.any:
                    fields = drops.setdefault(self._prefix(project, old.join_keys), [])
                    fields += [f"{view.name}:{f}" for f in change.cleared]
                    if change.drop_rows:
                        fields += [f"{view.name}:_ts", f"{view.name}:_cr"]
                shapes[view.name] = new.to_json()
            self._hdel_all(drops)
            if delete:
                client.hdel(shapes_key, *(v.name for v in delete))
            if shapes:
                client.hset(shapes_key, mapping=shapes)
        except redis_lib.RedisError as exc:
            raise self._driver_error(exc, "applying") from exc

    @staticmethod
    def _shapes_key(project: str) -> str:
        return f"ladle:{project}:_shapes"

    def _view_fields(self, project: str, views: list[FeatureView]) -> dict[str, list[str]]:
        """Every hash field of ``views``, by the key prefix of their hashes."""
        out: dict[str, list[str]] = {}
        for view in views:
            out.setdefault(self._prefix(project, view.join_keys), []).extend(
                [f"{view.name}:{f.name}" for f in view.features] + [f"{view.name}:_ts", f"{view.name}:_cr"]
            )
        return out

    def _hdel_all(self, drops: dict[str, list[str]]) -> None:
        """Remove ``fields`` from every hash under each ``prefix`` of ``drops``; a hash left empty goes.

        One ``SCAN`` pass per prefix, ``COUNT`` :data:`_SCAN_COUNT`; the keys each step finds are handled by
        the delete script in chunks of :data:`_DELETE_CHUNK` keys, sent in the same pipeline as the next
        ``SCAN`` step: about one round trip per 10,000 keys of the keyspace, however many hashes change.
        """
        drops = {prefix: list(dict.fromkeys(fields)) for prefix, fields in drops.items() if fields}
        if not drops:
            return
        client = self._redis()
        sha = client.script_load(_DELETE_SCRIPT)
        for prefix, fields in drops.items():
            match = _glob_escape(prefix) + "*"
            cursor, found = 0, cast(list[bytes], [])
            while True:
                with client.pipeline(transaction=False) as pipe:
                    _queue_deletes(pipe, sha, found, fields)
                    pipe.scan(cursor, match=match, count=_SCAN_COUNT)
                    cursor, found = pipe.execute()[-1]
                if not int(cursor):
                    break
            if found:  # what the last step found
                with client.pipeline(transaction=False) as pipe:
                    _queue_deletes(pipe, sha, found, fields)
                    pipe.execute()

    def _drop_fields(self, project: str, views: list[FeatureView]) -> None:
        try:
            self._hdel_all(self._view_fields(project, views))
            if views:
                self._redis().hdel(self._shapes_key(project), *(v.name for v in views))
        except redis_lib.RedisError as exc:
            raise self._driver_error(exc, "dropping feature views") from exc

    def teardown(self, project: str, views: list[FeatureView]) -> None:
        self._drop_fields(project, views)

    def write(self, project: str, view: FeatureView, rows: pa.Table) -> int:
        if rows.num_rows == 0:
            return 0
        prepared = prepare_rows(view, rows)
        prefix = self._prefix(project, view.join_keys)
        keys = [prefix + k for k in prepared.keys.to_pylist()]
        ts = prepared.event_us.to_pylist()
        cr = [b"" if c is None else str(c).encode() for c in prepared.created_us.to_pylist()]
        features = prepared.names
        columns = [encode_column(column) for column in prepared.features]
        head = [f"{view.name}:_ts", f"{view.name}:_cr", len(features), *(f"{view.name}:{f}" for f in features)]
        client = self._redis()
        try:
            with client.pipeline(transaction=False) as pipe:
                for start in range(0, len(keys), _CHUNK):
                    stop = min(start + _CHUNK, len(keys))
                    args: list[Any] = list(head)
                    for i in range(start, stop):
                        args += [ts[i], cr[i], *(c[i] for c in columns)]
                    self._script(keys=keys[start:stop], args=args, client=pipe)
                    if self.config.key_ttl_seconds:
                        for k in keys[start:stop]:
                            pipe.expire(k, self.config.key_ttl_seconds)
                pipe.execute()
        except redis_lib.RedisError as exc:
            raise self._driver_error(exc, f"writing feature view '{view.name}'") from exc
        return prepared.given

    def read(self, project: str, view: FeatureView, keys: pa.Table, features: list[str]) -> pa.Table:
        return self.read_many(project, [ViewRead(view, keys, features)])[0]

    def read_many(self, project: str, reads: list[ViewRead]) -> list[pa.Table]:
        return [f.table() for f in self.fetch_many(project, reads)]

    def fetch_many(self, project: str, reads: list[ViewRead]) -> list[Fetched]:
        """What :meth:`read_many` fetches, not yet decoded: one ``HMGET`` per entity key for every view of the
        request, pipelined in one round trip and sent as raw RESP (:class:`~ladle.online.resp.RespSyncClient`:
        no connection-pool or command-parsing layers around it)."""
        plan = self._plan_read(project, reads)
        if not plan.keys:
            return plan.fetched([])
        client = self._sync_client()
        try:
            replies = client.pipeline(plan.payload, len(plan.keys))
        except RespUnavailable as exc:
            raise self._driver_error(redis_lib.ConnectionError(str(exc)), plan.doing) from exc
        except RespError as exc:
            raise self._driver_error(_reply_error(exc), plan.doing) from exc
        return plan.fetched(replies)

    def _sync_client(self) -> RespSyncClient:
        with self._lock:
            if self._resp_sync is None:
                self._resp_sync = RespSyncClient(self._kwargs, connect_timeout=1.0, timeout=2.0)
            return self._resp_sync

    async def fetch_many_async(self, project: str, reads: list[ViewRead]) -> list[Fetched]:
        """:meth:`fetch_many` on the running event loop: the same pipelined ``HMGET`` commands, sent and awaited
        through :class:`~ladle.online.resp.RespClient` (one connection per loop), so nothing blocks the loop
        while Redis answers. The caller bounds the wait (``asyncio.timeout``); errors are :meth:`read_many`'s
        (:class:`~ladle.errors.BackendUnavailable` when Redis cannot be reached)."""
        plan = self._plan_read(project, reads)
        if not plan.keys:
            return plan.fetched([])
        client = self._async_client()
        try:
            replies = await client.pipeline(plan.payload, len(plan.keys))
        except RespUnavailable as exc:
            raise self._driver_error(redis_lib.ConnectionError(str(exc)), plan.doing) from exc
        except RespError as exc:
            raise self._driver_error(_reply_error(exc), plan.doing) from exc
        except asyncio.CancelledError:
            client.abort()  # the deadline passed: a stalled connection is not reused
            raise
        return plan.fetched(replies)

    def _async_client(self) -> RespClient:
        if self._resp is None:
            self._resp = RespClient(self._kwargs, connect_timeout=1.0)
        return self._resp

    def _plan_read(self, project: str, reads: list[ViewRead]) -> _ReadPlan:
        """What one pipelined round trip sends for ``reads``, and how its replies become the result tables."""
        types = [self._types(project, r.view, r.features) for r in reads]
        # Views keyed by the same entity values live in the same hashes: one HMGET per hash serves them all.
        encoded: dict[tuple[str, int], tuple[str | None, ...]] = {}  # views sharing a key table encode it once
        groups: dict[tuple[str | None, ...], list[int]] = {}
        for i, r in enumerate(reads):
            prefix = self._prefix(project, r.view.join_keys)
            wanted = encoded.get((prefix, id(r.keys)))
            if wanted is None:
                plain = encode_key_list(r.keys)
                wanted = encoded[prefix, id(r.keys)] = (
                    tuple(map(prefix.__add__, plain))  # type: ignore[arg-type]  # no None in plain
                    if None not in plain
                    else tuple([None if k is None else prefix + k for k in plain])
                )
            groups.setdefault(wanted, []).append(i)
        plan = _ReadPlan(reads, types)
        payloads = []
        for wanted, members in groups.items():
            # every key asked for, in order, duplicates included (a rare duplicate costs Redis a second HMGET;
            # de-duplicating would cost every call a dict), so the replies are the wanted keys' rows in order
            sent = [k for k in wanted if k is not None]
            fields = self._fields([(reads[i].view.name, reads[i].features) for i in members])
            payloads.append(encode_per_key("HMGET", sent, fields))
            plan.keys += sent
            plan.groups.append((wanted, members, len(sent), fields))
        plan.payload = b"".join(payloads)
        return plan

    def _fields(self, reads: list[tuple[str, list[str]]]) -> tuple[str, ...]:
        """The hash fields one ``HMGET`` reads for ``(view name, features)`` pairs: each view's ``_ts`` and
        features, each field once (cached per request shape)."""
        key = tuple((name, tuple(features)) for name, features in reads)
        fields = self._field_cache.get(key)
        if fields is None:
            fields = tuple(dict.fromkeys(f"{name}:{f}" for name, features in key for f in ("_ts", *features)))
            if len(self._field_cache) > 1024:
                self._field_cache.clear()
            self._field_cache[key] = fields
        return fields

    def _types(self, project: str, view: FeatureView, features: list[str]) -> _Types:
        """:func:`declared_types` and the Python decoders, cached per (view object, features): a registry
        refresh brings new view objects, hence new entries."""
        key = (project, id(view), tuple(features))
        hit = self._type_cache.get(key)
        if hit is not None and hit[0] is view:
            return hit[1]
        types = declared_types(project, view, features)
        python = [python_decoder(t) for t in types]
        entry = (types, None if None in python else [d for d in python if d is not None])
        if len(self._type_cache) > 1024:
            self._type_cache.clear()
        self._type_cache[key] = (view, entry)
        return entry

    # --- deleting keys (rollback) ------------------------------------------------------------------------
    def delete(self, project: str, view: FeatureView, keys: pa.Table) -> None:
        """Remove this view's fields from the hash of each of ``keys`` (other views' fields stay; a hash
        left empty goes), atomically per key; see :meth:`OnlineStore.delete`."""
        wanted = [k for k in self._keys(project, view, keys) if k is not None] if keys.num_rows else []
        if not wanted:
            return
        fields = [f"{view.name}:_ts", f"{view.name}:_cr", *(f"{view.name}:{f.name}" for f in view.features)]
        client = self._redis()
        try:
            script = client.register_script(_DELETE_SCRIPT)
            with client.pipeline(transaction=False) as pipe:
                for start in range(0, len(wanted), _CHUNK):
                    script(keys=wanted[start : start + _CHUNK], args=fields, client=pipe)
                pipe.execute()
        except redis_lib.RedisError as exc:
            raise self._driver_error(exc, f"deleting keys of feature view '{view.name}'") from exc


def _queue_deletes(pipe: Any, sha: str, keys: list[bytes], fields: list[str]) -> None:
    """The delete script for ``keys`` (``fields`` go from each), in chunks of :data:`_DELETE_CHUNK`."""
    for start in range(0, len(keys), _DELETE_CHUNK):
        chunk = keys[start : start + _DELETE_CHUNK]
        pipe.evalsha(sha, len(chunk), *chunk, *fields)


def _glob_escape(text: str) -> str:
    """``text`` as a literal inside a Redis ``MATCH`` pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _reply_error(exc: RespError) -> Exception:
    """An error reply as the redis-py error :meth:`RedisOnlineStore._driver_error` maps (a refused AUTH is
    an authentication error: wrong credentials, not an outage)."""
    text = str(exc)
    auth = text.startswith(("WRONGPASS", "NOAUTH")) or "AUTH" in text
    error: Exception = (redis_lib.AuthenticationError if auth else redis_lib.ResponseError)(text)
    return error


#: a read's declared types, and its Python decoders (``None`` when a type has none)
_Types = tuple[list[pa.DataType], list[PyDecode] | None]


@dataclass
class _ReadPlan:
    """One read's round trip: the keys and the pipelined ``HMGET`` commands sent (one per key), and per group of
    reads sharing hashes ``(wanted keys in order, read indexes, number of keys sent, fields sent)``."""

    reads: list[ViewRead]
    types: list[_Types]
    keys: list[str] = field(default_factory=list)
    payload: bytes = b""
    groups: list[tuple[tuple[str | None, ...], list[int], int, tuple[str, ...]]] = field(default_factory=list)

    @property
    def doing(self) -> str:
        return "reading feature view(s) " + ", ".join(f"'{r.view.name}'" for r in self.reads)

    def fetched(self, replies: list[Any]) -> list[Fetched]:
        """What each read fetched, in order, from the replies (one ``HMGET`` reply per key sent),
        as columns: the replies are flattened once and each field's column is a slice of that."""
        out: list[Fetched | None] = [None] * len(self.reads)
        at = 0
        for wanted, members, sent, fields in self.groups:
            width = len(fields)
            mine = replies[at : at + sent]
            at += sent
            if sent != len(wanted):  # a null key: its row is absent
                rows = iter(mine)
                none = [None] * width
                mine = [none if k is None else next(rows) for k in wanted]
            flat = list(itertools.chain.from_iterable(mine))
            index = {f: j for j, f in enumerate(fields)}
            for i in members:
                r = self.reads[i]
                names = (f"{r.view.name}:_ts", *(f"{r.view.name}:{f}" for f in r.features))
                columns = [flat[index[name] :: width] for name in names]
                types, python = self.types[i]
                out[i] = Fetched(r.features, types, columns, decode_column, python)
        return [f for f in out if f is not None]


# KEYS: hashes. ARGV: the fields of one view. Each hash loses them, and goes when nothing else is left in it.
_DELETE_SCRIPT = """
for _, key in ipairs(KEYS) do
  redis.call('HDEL', key, unpack(ARGV))
  if redis.call('HLEN', key) == 0 then redis.call('DEL', key) end
end
return #KEYS
"""
