"""Window state in the Redis online store: one sorted set per view, layout and entity key.

Key ``ladle:{project}:win:{view}:{layout}:{entity key}``; each member is the event's time (8 bytes,
big-endian UTC micros) followed by its payload, scored by the time. A replay is the same member, so
``ZADD`` keeps it once. One Lua call per batch adds the events, evicts what is older than the longest
window, trims a key to ``max_events`` (oldest first) and sets the key to expire when its newest event
leaves the longest window, so keys nobody writes any more disappear by themselves. A read is one
pipelined ``ZRANGEBYSCORE`` per key, in one round trip.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ladle.windows.events import EventBatch, FetchedEvents
from ladle.windows.state_base import DEFAULT_MAX_EVENTS, StateTarget, WindowState

__all__ = ["RedisWindowState"]

#: events per Lua call (its arguments travel in one message)
_CHUNK = 20_000

# ARGV: cutoff, max events, horizon (us), now (us), then per key (in KEYS order): n, then n (score, member).
_ADD_SCRIPT = """
local cutoff, cap, horizon, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local a = 5
for _, key in ipairs(KEYS) do
  local n = tonumber(ARGV[a])
  a = a + 1
  local i = 0
  while i < n do
    local m = math.min(n - i, 500)
    redis.call('ZADD', key, unpack(ARGV, a, a + 2 * m - 1))
    a = a + 2 * m
    i = i + m
  end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', cutoff)
  local card = redis.call('ZCARD', key)
  if card > cap then redis.call('ZREMRANGEBYRANK', key, 0, card - cap - 1) end
  local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if newest[2] then
    local ms = math.floor((tonumber(newest[2]) + horizon - now) / 1000) + 1
    if ms > 0 then redis.call('PEXPIRE', key, ms) else redis.call('DEL', key) end
  end
end
return 0
"""

# ARGV: since (exclusive, "(" prefixed), until. Returns the members of every key in KEYS order, packed in one
# string (each prefixed with its length: 4 bytes little-endian), and the number of members per key.
_FETCH_SCRIPT = """
local parts, counts = {}, {}
for i, key in ipairs(KEYS) do
  local members = redis.call('ZRANGEBYSCORE', key, ARGV[1], ARGV[2])
  counts[i] = #members
  for _, m in ipairs(members) do
    parts[#parts + 1] = struct.pack('<I4', #m)
    parts[#parts + 1] = m
  end
end
return {table.concat(parts), counts}
"""


class RedisWindowState(WindowState):
    """Events in sorted sets, on the Redis online store's client (``client()``)."""

    name = "redis"

    def __init__(
        self,
        client: Callable[[], Any],
        errors: Callable[[Exception, str], Exception],
        max_events: int = DEFAULT_MAX_EVENTS,
    ) -> None:
        super().__init__(max_events)
        self._client = client
        self._fail = errors
        self._script: Any = None
        self._script_client: Any = None
        self._fetch: Any = None
        self._fetch_client: Any = None

    @staticmethod
    def _prefix(target: StateTarget) -> str:
        return f"ladle:{target.project}:win:{target.view}:{target.layout}:"

    def _add_script(self, client: Any) -> Any:
        if self._script is None or self._script_client is not client:
            self._script, self._script_client = client.register_script(_ADD_SCRIPT), client
        return self._script

    def add(self, target: StateTarget, events: EventBatch, now_us: int) -> None:
        if not len(events):
            return
        keys = np.array(events.keys, dtype=object)
        order = np.argsort(keys, kind="stable")
        stamps = events.ts.astype(">i8").tobytes()
        scores = events.ts.tolist()
        prefix = self._prefix(target)
        head = [now_us - target.horizon_us, self.max_events, target.horizon_us, now_us]
        client = self._client()
        script = self._add_script(client)
        try:
            with client.pipeline(transaction=False) as pipe:
                for start in range(0, len(order), _CHUNK):
                    chunk = order[start : start + _CHUNK]
                    names, args = _grouped(keys, chunk, scores, stamps, events.payloads)
                    script(keys=[prefix + k for k in names], args=head + args, client=pipe)
                pipe.execute()
        except Exception as exc:
            raise self._fail(exc, f"adding events of feature view '{target.view}'") from exc

    def fetch(self, target: StateTarget, keys: list[str], since_us: int, until_us: int) -> FetchedEvents:
        if not keys:
            return FetchedEvents.empty()
        prefix = self._prefix(target)
        client = self._client()
        if self._fetch is None or self._fetch_client is not client:
            self._fetch, self._fetch_client = client.register_script(_FETCH_SCRIPT), client
        try:
            if len(keys) == 1:  # one plain command costs less than a script call
                members = client.zrangebyscore(prefix + keys[0], f"({since_us}", until_us)
                return _of_members(members)
            blob, counts = self._fetch(keys=[prefix + k for k in keys], args=[f"({since_us}", until_us])
        except Exception as exc:
            raise self._fail(exc, f"reading events of feature view '{target.view}'") from exc
        return _unpacked(bytes(blob), counts)

    def _scan_delete(self, pattern: str, each: Callable[[Any, bytes], None], doing: str) -> None:
        client = self._client()
        try:
            for key in client.scan_iter(match=pattern, count=1000):
                each(client, key)
        except Exception as exc:
            raise self._fail(exc, doing) from exc

    def sweep(self, target: StateTarget, now_us: int) -> None:
        cutoff = now_us - target.horizon_us
        self._scan_delete(
            self._prefix(target) + "*",
            lambda client, key: client.zremrangebyscore(key, "-inf", cutoff),
            f"evicting events of feature view '{target.view}'",
        )

    def drop(self, project: str, view: str) -> None:
        self._scan_delete(
            f"ladle:{project}:win:{view}:*",
            lambda client, key: client.delete(key),
            f"dropping the window state of feature view '{view}'",
        )


def _grouped(
    keys: np.ndarray, chunk: np.ndarray, scores: list[int], stamps: bytes, payloads: list[bytes]
) -> tuple[list[str], list[Any]]:
    """The keys of ``chunk`` (positions sorted by key) and the script's per-key arguments."""
    names: list[str] = []
    args: list[Any] = []
    at_count = -1
    current = None
    for i in chunk.tolist():
        k = keys[i]
        if k != current:
            names.append(k)
            args.append(0)
            at_count = len(args) - 1
            current = k
        args[at_count] += 1
        args.append(scores[i])
        args.append(stamps[i * 8 : i * 8 + 8] + payloads[i])
    return names, args


def _of_members(members: list[bytes]) -> FetchedEvents:
    """One key's members (the event's time, 8 bytes big-endian, then its payload) as events."""
    if not members:
        return FetchedEvents.empty()
    lengths = np.fromiter(map(len, members), np.int64, len(members))
    starts = np.zeros(len(members), np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    blob = b"".join(members)
    stamps = np.frombuffer(blob, np.uint8)[starts[:, None] + np.arange(8)].copy().view(">i8").reshape(-1)
    return FetchedEvents(np.zeros(len(members), np.int64), stamps.astype(np.int64), blob, starts + 8, lengths - 8)


def _unpacked(blob: bytes, counts: list[int]) -> FetchedEvents:
    """The fetch script's answer as events: each member is a 4-byte length, then the event's time (8 bytes,
    big-endian) and its payload."""
    total = sum(counts)
    if not total:
        return FetchedEvents.empty()
    buffer = np.frombuffer(blob, np.uint8)
    size = int(np.frombuffer(blob, "<u4", 1)[0])
    starts = np.arange(total, dtype=np.int64) * (size + 4) + 4
    lengths = np.full(total, size, np.int64)
    uniform = len(blob) == total * (size + 4) and bool(
        np.all(buffer[starts[:, None] - 4 + np.arange(4)].copy().view("<u4").reshape(total) == size)
    )
    if not uniform:  # members of several sizes (a layout with text): walk the length prefixes
        at = 0
        for i in range(total):
            size = int.from_bytes(blob[at : at + 4], "little")
            starts[i], lengths[i] = at + 4, size
            at += 4 + size
    stamps = buffer[starts[:, None] + np.arange(8)].copy().view(">i8").reshape(total).astype(np.int64)
    index = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    return FetchedEvents(index, stamps, blob, starts + 8, lengths - 8)
