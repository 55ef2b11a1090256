"""The stream-reader protocol: what a broker module gives the worker (:mod:`ladle.stream.worker`).

A reader hands out *batches* and takes them back acknowledged. Its one guarantee beyond delivery: a batch
handed out again after a crash (redelivered) has the same :attr:`Batch.batch_id` and the same messages as
when it was first handed out, so every write the worker derives from a batch id (an offline part file named
after it) is overwritten, never duplicated. Adding a broker is one module implementing :class:`StreamReader`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

__all__ = ["Batch", "Message", "StreamReader"]


@dataclass(frozen=True)
class Message:
    """One broker message: its id (unique in the stream, e.g. a Redis stream id) and its raw fields."""

    message_id: str
    fields: dict[str, bytes]


@dataclass(frozen=True)
class Batch:
    """Messages processed and acknowledged together.

    ``redelivered`` is true when the batch was handed out before and not acknowledged (a worker died or
    stopped mid-batch); its id and messages are then the same as the first time.
    """

    batch_id: str
    messages: tuple[Message, ...]
    redelivered: bool = False
    #: message ids the broker still lists as pending but whose contents are gone (trimmed): acknowledged
    #: with the batch, never processed
    vanished: tuple[str, ...] = field(default_factory=tuple)

    @property
    def message_ids(self) -> list[str]:
        """Every id the batch acknowledges (messages and vanished ones)."""
        return [m.message_id for m in self.messages] + list(self.vanished)


class StreamReader(abc.ABC):
    """A consumer of one stream in one consumer group. Not thread-safe: one worker thread owns it."""

    #: what the reader consumes, for messages and metrics labels (e.g. ``"redis stream 'tx'"``)
    description: str = ""

    @abc.abstractmethod
    def next_batch(self, max_messages: int, wait_seconds: float) -> Batch | None:
        """The next batch of at most ``max_messages`` (redelivered batches come first), or ``None`` when
        nothing arrived within ``wait_seconds``. Raises :class:`~ladle.errors.BackendUnavailable` when the
        broker cannot be reached (the worker retries)."""

    @abc.abstractmethod
    def ack(self, batch: Batch) -> None:
        """Acknowledge every message of ``batch``: the group never hands them out again."""

    @abc.abstractmethod
    def dead_letter(self, message: Message, reason: str) -> None:
        """Keep a message that cannot be processed (bad JSON, a value that does not fit) where an operator
        can find it, with ``reason``; it is acknowledged with its batch."""

    @abc.abstractmethod
    def lag(self) -> int | None:
        """Messages in the stream not yet handed to the group (``None`` if the broker cannot tell)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the broker connection."""
