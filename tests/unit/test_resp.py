"""The asyncio RESP client the Redis online store reads with on the event loop, against a real Redis."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop

from backends import REDIS_URL, redis_ping
from ladle.online.resp import RespClient, RespError, RespUnavailable, encode_command, encode_per_key

pytestmark = pytest.mark.services

RUNNERS: dict[str, Callable[[Coroutine[Any, Any, Any]], Any]] = {"asyncio": asyncio.run, "uvloop": uvloop.run}


def settings(port: int | None = None) -> dict[str, Any]:
    host, _, default = REDIS_URL.partition(":")
    return {"host": host, "port": port or int(default or 6379)}


@pytest.fixture
def redis() -> Any:
    client = redis_ping()
    yield client
    client.close()


def test_encode_command_is_resp() -> None:
    assert encode_command("SET", "k", b"\x00v", 12) == b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\x00v\r\n$2\r\n12\r\n"
    assert encode_command("ECHO", "é") == b"*2\r\n$4\r\nECHO\r\n$2\r\n\xc3\xa9\r\n"
    for keys in (["k1", "k22"], ["kü", "k"]):  # ASCII keys are encoded as one text; others key by key
        assert encode_per_key("HMGET", keys, ("é", 3)) == b"".join(encode_command("HMGET", k, "é", 3) for k in keys)


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_replies_reach_their_callers_when_pipelined(runner: str, redis: Any) -> None:
    key = f"ladle_test_resp:{uuid.uuid4().hex}"
    redis.hset(key, mapping={"a": b"\x00\xff", "b": "é"})
    client = RespClient(settings(), connect_timeout=1)

    async def main() -> list[Any]:
        echoes = [client.call("ECHO", str(i)) for i in range(200)]
        return await asyncio.gather(client.call("HMGET", key, "a", "b", "missing"), *echoes)

    try:
        hashes, *echoes = RUNNERS[runner](main())
        assert hashes == [b"\x00\xff", "é".encode(), None]
        assert echoes == [str(i).encode() for i in range(200)]
    finally:
        redis.delete(key)


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_an_error_reply_is_resp_error_and_the_connection_stays(runner: str) -> None:
    client = RespClient(settings(), connect_timeout=1)

    async def main() -> Any:
        with pytest.raises(RespError, match="NOSCRIPT"):
            await client.call("EVALSHA", "0" * 40, 0)
        return await client.call("ECHO", "still here")

    assert RUNNERS[runner](main()) == b"still here"


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_a_caller_that_gives_up_leaves_the_others_in_step(runner: str) -> None:
    """A cancelled wait's reply is read and dropped: the next call gets its own reply, not the late one."""
    client = RespClient(settings(), connect_timeout=1)
    key = f"ladle_test_resp:{uuid.uuid4().hex}"

    async def main() -> Any:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await client.call("BLPOP", key, "0.3")  # Redis answers (nil) after 0.3 s
        return await client.call("ECHO", "mine")

    assert RUNNERS[runner](main()) == b"mine"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_a_refused_connection_fails_at_once(runner: str) -> None:
    client = RespClient(settings(free_port()), connect_timeout=1)

    async def main() -> float:
        started = time.perf_counter()
        with pytest.raises(RespUnavailable, match="cannot connect"):
            await client.call("PING")
        return time.perf_counter() - started

    assert RUNNERS[runner](main()) < 0.5


def test_abort_fails_waiting_calls_and_the_next_call_connects_again() -> None:
    client = RespClient(settings(), connect_timeout=1)
    key = f"ladle_test_resp:{uuid.uuid4().hex}"

    async def main() -> Any:
        waiting = asyncio.ensure_future(client.call("BLPOP", key, "1"))
        await asyncio.sleep(0.05)
        client.abort()
        with pytest.raises(RespUnavailable):
            await waiting
        return await client.call("PING")

    assert asyncio.run(main()) == b"PONG"


def test_a_new_event_loop_gets_its_own_connection() -> None:
    """A client used from one loop, then from another (each ``asyncio.run``), connects again."""
    client = RespClient(settings(), connect_timeout=1)
    assert asyncio.run(client.call("ECHO", "one")) == b"one"
    assert uvloop.run(client.call("ECHO", "two")) == b"two"


def test_password_and_db_are_sent_when_connecting(redis: Any) -> None:
    """``AUTH`` with a password Redis does not expect is refused: the error names it."""
    client = RespClient({**settings(), "password": "not-the-password"}, connect_timeout=1)
    with pytest.raises(RespError, match="AUTH"):
        asyncio.run(client.call("PING"))
    key = f"ladle_test_resp:{uuid.uuid4().hex}"
    redis_db1 = RespClient({**settings(), "db": 1}, connect_timeout=1)

    async def main() -> Any:
        await redis_db1.call("SET", key, "in db 1")
        return await redis_db1.call("GET", key)

    try:
        assert asyncio.run(main()) == b"in db 1"
        assert redis.get(key) is None  # db 0 does not have it
    finally:
        asyncio.run(redis_db1.call("DEL", key))


def test_the_blocking_client_answers_pipelined_threads_and_fails_fast(redis: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from ladle.online.resp import RespSyncClient

    client = RespSyncClient(settings(), connect_timeout=1, timeout=2)
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda i: client.call("ECHO", str(i)), range(400)))
    assert replies == [str(i).encode() for i in range(400)]
    with pytest.raises(RespError, match="NOSCRIPT"):
        client.call("EVALSHA", "0" * 40, 0)
    assert client.call("PING") == b"PONG"  # the connection survived the error reply
    client.close()
    down = RespSyncClient(settings(free_port()), connect_timeout=1, timeout=2)
    started = time.perf_counter()
    with pytest.raises(RespUnavailable, match="cannot connect"):
        down.call("PING")
    assert time.perf_counter() - started < 0.5


def test_the_blocking_client_gives_up_after_its_timeout_and_drops_the_socket() -> None:
    from ladle.online.resp import RespSyncClient

    client = RespSyncClient(settings(), connect_timeout=1, timeout=0.1)
    key = f"ladle_test_resp:{uuid.uuid4().hex}"
    with pytest.raises(RespUnavailable, match="timed out"):
        client.call("BLPOP", key, "0.5")
    assert client.call("ECHO", "fresh") == b"fresh"  # a new socket: not the late BLPOP answer


def test_pipelined_commands_answer_in_order_and_an_error_reply_leaves_the_stream_in_step(redis: Any) -> None:
    """``pipeline`` (blocking and on the loop): the replies of many commands sent in one payload come back in
    order; an error reply among them fails the call only once every reply is read, so the next call on the same
    connection gets its own replies."""
    from ladle.online.resp import RespSyncClient

    keys = [f"ladle_test_resp:{uuid.uuid4().hex}:{i}" for i in range(300)]
    for i, key in enumerate(keys[::2]):
        redis.hset(key, mapping={"a": str(i), "é": b"\x00"})
    payload = encode_per_key("HMGET", keys, ("a", "é", "missing"))
    want = [[str(i // 2).encode(), b"\x00", None] if i % 2 == 0 else [None, None, None] for i in range(300)]
    bad = encode_command("ECHO", "one") + encode_command("EVALSHA", "0" * 40, 0) + encode_command("ECHO", "two")
    blocking = RespSyncClient(settings(), connect_timeout=1, timeout=2)
    on_loop = RespClient(settings(), connect_timeout=1)

    async def main() -> list[Any]:
        first = await on_loop.pipeline(payload, len(keys))
        with pytest.raises(RespError, match="NOSCRIPT"):
            await on_loop.pipeline(bad, 3)
        return [first, await on_loop.pipeline(encode_command("ECHO", "next"), 1)]

    try:
        assert blocking.pipeline(payload, len(keys)) == want
        with pytest.raises(RespError, match="NOSCRIPT"):
            blocking.pipeline(bad, 3)
        assert blocking.pipeline(encode_command("ECHO", "next"), 1) == [b"next"]
        assert blocking.pipeline(b"", 0) == []
        assert asyncio.run(main()) == [want, [b"next"]]
    finally:
        blocking.close()
        redis.delete(*keys)
