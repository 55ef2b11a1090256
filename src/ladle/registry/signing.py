"""Signing the registry: an HMAC over its content, so a registry in shared storage can be trusted.

The registry holds code (on-demand views' function source is executed, ``udf_env`` modules are imported)
in every process that runs those views, so whoever can write the registry file, table or S3 object can
run code there. With ``registry: {signing_key: ${LADLE_REGISTRY_KEY}}`` every write adds
``"signature": "hmac-sha256:<hex>"`` computed over the rest of the document (canonical JSON: sorted keys,
no whitespace), and every read verifies it before anything from the document is used; a missing or wrong
signature is refused with :class:`~ladle.errors.InvalidConfig`.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson

from ladle.errors import InvalidConfig

__all__ = ["SIGNATURE_KEY", "sign", "verify"]

#: the document key holding the signature
SIGNATURE_KEY = "signature"
_SCHEME = "hmac-sha256:"
_FIX = (
    "apply the repo again with the right registry.signing_key (from someone who holds it), or restore the "
    "registry from a trusted copy"
)


def _mac(document: dict[str, Any], key: str) -> str:
    canonical = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return _SCHEME + hmac.new(key.encode(), canonical, hashlib.sha256).hexdigest()


def sign(data: bytes, key: str) -> bytes:
    """``data`` (a registry document) with its signature added (replacing any previous one).

    >>> verify(sign(b'{"version": 1}', "k"), "k", "registry")
    """
    document = orjson.loads(data)
    document.pop(SIGNATURE_KEY, None)
    document[SIGNATURE_KEY] = _mac(document, key)
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)


def verify(data: bytes, key: str, where: str) -> None:
    """Raise :class:`~ladle.errors.InvalidConfig` unless ``data`` carries a valid signature made with ``key``."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidConfig(where, f"is not a signed ladle registry (not JSON: {exc})", _FIX) from exc
    found = document.pop(SIGNATURE_KEY, None) if isinstance(document, dict) else None
    if not isinstance(found, str):
        raise InvalidConfig(
            where,
            "is not signed, but registry.signing_key is set: refusing to load it (none of its code was run)",
            _FIX,
        )
    if not hmac.compare_digest(found, _mac(document, key)):
        raise InvalidConfig(
            where,
            "has a signature that does not match its content: it was changed by someone without "
            "registry.signing_key; refusing to load it (none of its code was run)",
            _FIX,
        )
