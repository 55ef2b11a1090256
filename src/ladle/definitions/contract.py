"""A feature view's contract and its hash: the columns and types a consumer of the view relies on.

The hash changes when a join key, a feature, a type or the event-timestamp column changes, and stays the same
for cosmetic edits (description, tags, owner, ttl, online/offline flags). It is recorded wherever a view's data
is produced or read (published versions, saved datasets) and shown by ``list``/``describe``, so a contract
change can be told apart from any other change.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ladle.definitions.feature_view import FeatureView
from ladle.types import dtype_to_dict

__all__ = ["contract", "schema_hash"]


def contract(view: FeatureView) -> dict[str, Any]:
    """The parts of ``view`` that make its contract, as a JSON-ready dict (stable key order)."""
    return {
        "join_keys": [{"name": f.name, "dtype": dtype_to_dict(f.dtype)} for f in view.entity_columns],
        "features": [{"name": f.name, "dtype": dtype_to_dict(f.dtype)} for f in view.features],
        "timestamp_field": view.batch_source.timestamp_field,
    }


def schema_hash(view: FeatureView) -> str:
    """The SHA-256 of the view's :func:`contract`, as 64 hex digits.

    >>> from ladle.definitions import Entity, FeatureView, Field, FileSource
    >>> from ladle.types import Float32, Int64
    >>> src = FileSource(name="s", path="s.parquet", timestamp_field="ts")
    >>> a = FeatureView(name="v", entities=[Entity(name="k")], source=src,
    ...                 schema=[Field(name="k", dtype=Int64), Field(name="x", dtype=Float32)])
    >>> b = FeatureView(name="v", entities=[Entity(name="k")], source=src, description="cosmetic",
    ...                 schema=[Field(name="k", dtype=Int64), Field(name="x", dtype=Float32)])
    >>> schema_hash(a) == schema_hash(b) and len(schema_hash(a)) == 64
    True
    """
    text = json.dumps(contract(view), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
