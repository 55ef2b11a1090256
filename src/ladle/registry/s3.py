"""Registry on S3-compatible object storage (``registry: {path: s3://bucket/key, s3_endpoint_url: ...}``).

An object PUT replaces the whole object at once, so a reader never sees a half-written registry. Writers
use S3's conditional writes: the first with ``If-None-Match: *``, later ones with ``If-Match: <ETag read>``;
of two concurrent applies, S3 accepts one and answers ``412 Precondition Failed`` to the other, which
becomes :class:`~ladle.errors.RegistryConflict`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ladle.errors import BackendFailure, BackendUnavailable, MissingExtra, RegistryConflict
from ladle.registry.base import RegistryStore, content_token

if TYPE_CHECKING:
    from ladle.config import RegistryConfig

__all__ = ["S3RegistryStore"]


class S3RegistryStore(RegistryStore):
    """The registry document as one S3 object."""

    name = "s3"

    def __init__(self, config: RegistryConfig, repo_path: Path, project: str) -> None:
        super().__init__(config, repo_path, project)
        url, endpoint_url = config.path, config.s3_endpoint_url
        try:
            import boto3
        except ImportError as exc:
            raise MissingExtra("the S3 registry", "dynamodb", "boto3") from exc
        bucket, _, key = url.removeprefix("s3://").partition("/")
        if not bucket or not key:
            raise BackendFailure("s3 registry", f"registry path '{url}' must look like s3://bucket/path/registry.json")
        self.url, self.bucket, self.key = url, bucket, key
        self._client = boto3.client("s3", endpoint_url=endpoint_url)
        self._etags: dict[str, str] = {}  # content token -> ETag of that content, as last read or written
        self._lock = threading.Lock()

    def describe(self) -> str:
        return self.url

    def _error(self, exc: Exception, doing: str) -> Exception:
        from botocore.exceptions import EndpointConnectionError

        if isinstance(exc, EndpointConnectionError):
            return BackendUnavailable(
                "s3 registry",
                f"cannot reach S3 while {doing} {self.url}: {exc}",
                "check registry.s3_endpoint_url and your AWS credentials",
            )
        return BackendFailure("s3 registry", f"{doing} {self.url} failed: {exc}")

    def _get(self) -> tuple[bytes, str] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = self._client.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._error(exc, "reading") from exc
        except BotoCoreError as exc:
            raise self._error(exc, "reading") from exc
        data: bytes = reply["Body"].read()
        return data, reply["ETag"]

    def read(self) -> bytes | None:
        got = self._get()
        if got is None:
            return None
        data, etag = got
        with self._lock:
            self._etags[content_token(data) or ""] = etag
        return data

    def write(self, data: bytes, expected_token: str | None) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        condition: dict[str, Any] = {"IfNoneMatch": "*"}
        if expected_token is not None:
            with self._lock:
                etag = self._etags.get(expected_token)
            if etag is None:  # not read through this store: look at what is there now
                got = self._get()
                if got is None or content_token(got[0]) != expected_token:
                    raise self._conflict()
                etag = got[1]
            condition = {"IfMatch": etag}
        try:
            reply = self._client.put_object(Bucket=self.bucket, Key=self.key, Body=data, **condition)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise self._conflict() from exc
            raise self._error(exc, "writing") from exc
        except BotoCoreError as exc:
            raise self._error(exc, "writing") from exc
        token = content_token(data)
        assert token is not None
        with self._lock:
            self._etags[token] = reply["ETag"]
        return token

    def _conflict(self) -> RegistryConflict:
        return RegistryConflict(
            f"registry {self.url} was changed by another process since it was read; nothing was written "
            "(run the command again)"
        )

    def delete(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.delete_object(Bucket=self.bucket, Key=self.key)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, "deleting") from exc
