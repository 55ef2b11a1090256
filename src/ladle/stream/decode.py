"""Stream messages as an Arrow table of the source's columns (the JSON -> column mapping).

A message is a JSON object whose keys are the source's raw column names (those of its batch source, before
``field_mapping``), either in one field (``payload_field``, ``data`` by default) or, when the message has
no such field, the message's own fields (each value then text, e.g. ``XADD s * user_id 7 amount 12.5``).
Values are cast to the columns' types; a timestamp is an ISO 8601 string (naive means UTC) or a number of
seconds since the epoch. Unknown keys are ignored; a missing column is null. A message that is not a JSON
object, lacks a required column (join keys, timestamp) or has a value that does not fit its column is
reported back with the reason instead of failing the batch.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json

from ladle.common.frames import short
from ladle.stream.reader_base import Message

__all__ = ["Decoded", "MessageDecoder"]


@dataclass(frozen=True)
class Decoded:
    """The good messages as a table (one row each, in order) and the bad ones with their reason."""

    table: pa.Table
    messages: list[Message]
    rejected: list[tuple[Message, str]]


class MessageDecoder:
    """Turns messages into rows of ``columns`` (raw name -> Arrow type); ``required`` must be present."""

    def __init__(self, columns: dict[str, pa.DataType], required: Sequence[str], payload_field: str = "data") -> None:
        self.columns, self.required, self.payload_field = dict(columns), list(required), payload_field

    def record(self, message: Message) -> dict[str, Any]:
        """One message as a dict; raises ValueError with the reason when it cannot be one."""
        raw = message.fields.get(self.payload_field)
        if raw is not None:
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"field '{self.payload_field}' is not JSON: {exc}") from None
            if not isinstance(value, dict):
                raise ValueError(f"field '{self.payload_field}' is JSON but not an object")
            record: dict[str, Any] = value
        else:
            record = {k: v.decode("utf-8", "replace") for k, v in message.fields.items()}
        missing = [c for c in self.required if record.get(c) is None]
        if missing:
            raise ValueError(f"the message lacks {missing} (needs {self.required})")
        return record

    def decode(self, messages: Sequence[Message]) -> Decoded:
        """Every message as a row; bad messages are left out and returned with their reason."""
        fast = self._decode_json_lines(messages)
        return fast if fast is not None else self._decode_each(messages)

    def _decode_json_lines(self, messages: Sequence[Message]) -> Decoded | None:
        """All payloads parsed by Arrow's JSON reader in one go — the common case of a batch of well-formed
        JSON messages. ``None`` whenever the batch is anything else (a flat message, a payload spanning lines,
        a value Arrow will not convert, a required column missing): :meth:`_decode_each` then decides, so both
        paths give the same rows."""
        if not messages or not self.payload_field:
            return None
        lines = []
        for m in messages:
            raw = m.fields.get(self.payload_field)
            if raw is None or b"\n" in raw or b"\r" in raw:
                return None
            lines.append(raw)
        options = pa_json.ParseOptions(
            explicit_schema=pa.schema(list(self.columns.items())), unexpected_field_behavior="ignore"
        )
        try:
            table = pa_json.read_json(io.BytesIO(b"\n".join(lines)), parse_options=options)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return None
        if table.num_rows != len(messages) or any(table.column(c).null_count for c in self.required):
            return None
        return Decoded(table.select(list(self.columns)), list(messages), [])

    def _decode_each(self, messages: Sequence[Message]) -> Decoded:
        """Message by message (Python values cast per column); bad messages are set aside with their reason."""
        rejected: list[tuple[Message, str]] = []
        good: list[Message] = []
        records: list[dict[str, Any]] = []
        for m in messages:
            try:
                records.append(self.record(m))
                good.append(m)
            except ValueError as exc:
                rejected.append((m, str(exc)))
        arrays: dict[str, pa.Array] = {}
        for name, dtype in self.columns.items():
            values = [r.get(name) for r in records]
            try:
                arrays[name] = _column(values, dtype)
            except (ValueError, TypeError, OverflowError, pa.ArrowException):
                bad = _bad_rows(values, dtype)
                for i in sorted(bad, reverse=True):
                    rejected.append((good[i], f"column '{name}': {bad[i]}"))
                keep = [i for i in range(len(records)) if i not in bad]
                return _retry(self, [good[i] for i in keep], rejected)
        return Decoded(pa.table(arrays) if arrays else pa.table({}), good, rejected)


def _retry(decoder: MessageDecoder, good: list[Message], rejected: list[tuple[Message, str]]) -> Decoded:
    again = decoder._decode_each(good)
    return Decoded(again.table, again.messages, rejected + again.rejected)


def _column(values: list[Any], dtype: pa.DataType) -> pa.Array:
    if pa.types.is_timestamp(dtype):
        return _timestamps(values, dtype)
    if any(isinstance(v, dict | list) for v in values) and not pa.types.is_nested(dtype):
        raise TypeError("a nested JSON value for a scalar column")
    try:
        return pa.array(values, type=dtype)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        # text values (flat message fields, or numbers sent as strings) cast by Arrow's rules
        return pa.array([None if v is None else str(v) for v in values], type=pa.string()).cast(dtype)


def _timestamps(values: list[Any], dtype: pa.DataType) -> pa.Array:
    numeric = [isinstance(v, int | float) and not isinstance(v, bool) for v in values]
    texts = [v if not n and v is not None else None for v, n in zip(values, numeric, strict=True)]
    parsed = pd.to_datetime(pd.Series(texts, dtype=object), utc=True, format="ISO8601")
    if any(numeric):
        seconds = pd.Series([v if n else None for v, n in zip(values, numeric, strict=True)], dtype="float64")
        parsed = parsed.where(~pd.Series(numeric), pd.to_datetime(seconds, unit="s", utc=True))
    for v, n, p in zip(values, numeric, parsed, strict=True):
        if v is not None and not n and not isinstance(v, str):
            raise TypeError(f"{v!r} is not a timestamp")
        if v is not None and pd.isna(p):
            raise ValueError(f"{v!r} is not a timestamp")
    unit_type = pa.timestamp("us", tz="UTC")
    out = pa.array(parsed.dt.as_unit("us"), type=unit_type)
    return out if dtype == unit_type else out.cast(dtype)


def _bad_rows(values: list[Any], dtype: pa.DataType) -> dict[int, str]:
    """The rows whose value does not fit ``dtype`` (index -> reason); slow, only after a column failed."""
    bad: dict[int, str] = {}
    for i, v in enumerate(values):
        try:
            _column([v], dtype)
        except (ValueError, TypeError, OverflowError, pa.ArrowException) as exc:
            bad[i] = f"{v!r} does not fit {dtype}: {short(exc, 120)}"
    if not bad:  # the column failed as a whole only: reject nothing, report the column on every row
        bad = dict.fromkeys(range(len(values)), f"values do not fit {dtype}")
    return bad
