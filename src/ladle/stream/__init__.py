"""``ladle stream``: consuming stream sources into the online store (and the offline source).

:mod:`.reader_base` is the broker protocol, :mod:`.redis_streams` the Redis Streams reader, :mod:`.decode`
the message -> row mapping, :mod:`.offline_sink` the exactly-once offline appends, :mod:`.worker` the loop,
:mod:`.service` the threads, :mod:`.metrics` the counters. See docs/streaming.md.
"""
