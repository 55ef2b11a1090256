"""The Redis Streams reader against the real Redis: batches, acknowledgement, and the one guarantee the
worker's exactly-once offline writes rest on — a batch handed out again after a crash has the same id and
the same messages, whether the same consumer restarts or another one claims it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from ladle.stream.redis_streams import RedisStreamReader, dead_letter_stream, journal_key

redis = pytest.importorskip("redis")
URL = "127.0.0.1:6379"


@pytest.fixture
def stream() -> Iterator[str]:
    client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        from services import unavailable

        unavailable("Redis", str(exc))
    name = f"ladle-test-reader-{uuid.uuid4().hex[:10]}"
    yield name
    client.delete(name, dead_letter_stream(name), journal_key(name, "g"))
    client.close()


def _add(stream: str, n: int) -> list[str]:
    client = redis.Redis(host="127.0.0.1", port=6379)
    ids = [client.xadd(stream, {"n": str(i)}).decode() for i in range(n)]
    client.close()
    return ids


def test_batches_in_order_and_acknowledged(stream: str) -> None:
    ids = _add(stream, 7)
    reader = RedisStreamReader(URL, stream, "g", "c1")
    first = reader.next_batch(5, 0.1)
    second = reader.next_batch(5, 0.1)
    assert first is not None and second is not None
    assert [m.message_id for m in first.messages] == ids[:5]
    assert [m.fields["n"] for m in second.messages] == [b"5", b"6"]
    assert not first.redelivered
    assert reader.lag() == 0
    reader.ack(first)
    reader.ack(second)
    assert reader.next_batch(5, 0.05) is None
    client = redis.Redis(host="127.0.0.1", port=6379)
    assert client.xpending(stream, "g")["pending"] == 0
    assert client.hlen(journal_key(stream, "g")) == 0
    reader.close()


def test_lag_counts_messages_not_yet_read(stream: str) -> None:
    _add(stream, 10)
    reader = RedisStreamReader(URL, stream, "g", "c1")
    batch = reader.next_batch(4, 0.1)
    assert batch is not None and len(batch.messages) == 4
    assert reader.lag() == 6


def test_restarted_consumer_gets_the_same_batch_back(stream: str) -> None:
    _add(stream, 6)
    dead = RedisStreamReader(URL, stream, "g", "c1")
    lost = dead.next_batch(4, 0.1)
    assert lost is not None
    dead.close()  # dies without acknowledging
    _add(stream, 3)  # more arrive meanwhile
    again = RedisStreamReader(URL, stream, "g", "c1")
    back = again.next_batch(100, 0.1)
    assert back is not None and back.redelivered
    assert back.batch_id == lost.batch_id
    assert back.messages == lost.messages
    again.ack(back)
    rest = again.next_batch(100, 0.1)
    assert rest is not None and not rest.redelivered
    assert [m.fields["n"] for m in rest.messages] == [b"4", b"5", b"0", b"1", b"2"]


def test_another_consumer_claims_an_idle_batch_whole(stream: str) -> None:
    _add(stream, 5)
    dead = RedisStreamReader(URL, stream, "g", "c1")
    lost = dead.next_batch(3, 0.1)
    assert lost is not None
    dead.close()
    time.sleep(0.3)
    other = RedisStreamReader(URL, stream, "g", "c2", claim_idle_seconds=0.2)
    claimed = other.next_batch(2, 0.1)  # a smaller batch size does not split the claimed batch
    assert claimed is not None and claimed.redelivered
    assert (claimed.batch_id, claimed.messages) == (lost.batch_id, lost.messages)


def test_a_batch_split_between_consumers_comes_back_whole(stream: str) -> None:
    _add(stream, 4)
    dead = RedisStreamReader(URL, stream, "g", "c1")
    lost = dead.next_batch(4, 0.1)
    assert lost is not None
    dead.close()
    client = redis.Redis(host="127.0.0.1", port=6379)
    moved = [m.message_id for m in lost.messages[:2]]
    client.xclaim(stream, "g", "busy", 0, moved)  # half of it now sits, freshly, with another consumer
    time.sleep(0.3)
    other = RedisStreamReader(URL, stream, "g", "c2", claim_idle_seconds=0.2)
    claimed = other.next_batch(10, 0.1)
    assert claimed is not None
    assert (claimed.batch_id, claimed.messages) == (lost.batch_id, lost.messages)
    other.ack(claimed)
    assert client.xpending(stream, "g")["pending"] == 0


def test_trimmed_pending_message_is_acknowledged_not_processed(stream: str) -> None:
    ids = _add(stream, 3)
    dead = RedisStreamReader(URL, stream, "g", "c1")
    assert dead.next_batch(3, 0.1) is not None
    dead.close()
    redis.Redis(host="127.0.0.1", port=6379).xdel(stream, ids[1])
    again = RedisStreamReader(URL, stream, "g", "c1")
    back = again.next_batch(10, 0.1)
    assert back is not None
    assert [m.message_id for m in back.messages] == [ids[0], ids[2]]
    assert back.vanished == (ids[1],)
    again.ack(back)
    assert redis.Redis(host="127.0.0.1", port=6379).xpending(stream, "g")["pending"] == 0


def test_dead_letters_keep_the_message_and_the_reason(stream: str) -> None:
    _add(stream, 1)
    reader = RedisStreamReader(URL, stream, "g", "c1")
    batch = reader.next_batch(1, 0.1)
    assert batch is not None
    reader.dead_letter(batch.messages[0], "bad JSON")
    [(_, fields)] = redis.Redis(host="127.0.0.1", port=6379).xrange(dead_letter_stream(stream))
    assert fields[b"error"] == b"bad JSON"
    assert fields[b"n"] == b"0"
    assert fields[b"message_id"] == batch.messages[0].message_id.encode()


def test_unreachable_redis_is_a_retryable_error() -> None:
    from ladle.errors import BackendUnavailable

    reader = RedisStreamReader("127.0.0.1:1", "s", "g", "c1")
    with pytest.raises(BackendUnavailable, match=r"cannot reach Redis at 127\.0\.0\.1:1"):
        reader.next_batch(1, 0.1)
