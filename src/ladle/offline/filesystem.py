"""Where a ``FileSource``'s parquet data lives, through pyarrow's filesystem layer.

One path syntax for every filesystem: a local path (relative to the repo, or absolute), ``s3://bucket/key``
(AWS or any S3-compatible server), or any URI pyarrow knows (``gs://``, ``hdfs://``, ``file://``, ...).
Each may name one parquet file, a directory of them (hive ``key=value`` folders become columns), or a
glob (``*``, ``?``, ``[...]``, ``**`` across folders). Listing, reading and writing all go through
``pyarrow.fs``; nothing is downloaded at run time (no DuckDB extension).

S3 settings come from, in order: the source's ``s3_endpoint_override``, the offline store's ``s3_*``
keys, then the standard AWS environment and profile (credentials, ``AWS_REGION``/``AWS_DEFAULT_REGION``).
Requests have bounded connect timeouts and retries, so an unreachable endpoint fails in seconds.

A path whose last component is ``latest`` and which names a small file (not a folder) is a feature-set
pointer written by ``ladle publish``: a JSON document naming a version, so the path reads the sibling
folder ``<version>/`` (docs/operating.md). The pointer is read once per :class:`ParquetPath`, when the
path is first resolved; :attr:`ParquetPath.version` tells which version that was.
"""

from __future__ import annotations

import functools
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from ladle.common.globs import glob_regex
from ladle.errors import BackendFailure, BackendUnavailable, InvalidRequest, SourceNotFound

__all__ = ["POINTER_NAME", "ObjectStoreOptions", "ParquetPath", "follow_local_pointer", "parse_pointer"]

#: the name of a feature set's pointer file (``<root>/<view>/latest``)
POINTER_NAME = "latest"
#: a pointer file is a few hundred bytes; anything larger named ``latest`` is data, not a pointer
_POINTER_MAX_BYTES = 64 * 1024

#: seconds to open a connection; a request is tried at most this many times
CONNECT_TIMEOUT_S = 5.0
REQUEST_TIMEOUT_S = 60.0
MAX_ATTEMPTS = 3

_GLOB_CHARS = "*?["


@dataclass(frozen=True)
class ObjectStoreOptions:
    """S3 settings of an offline store (Feast's ``s3_*`` keys of the duckdb offline store)."""

    #: ``host:port`` or a URL (``http://127.0.0.1:9000``); None means AWS
    endpoint: str | None = None
    region: str | None = None
    #: ``path`` (``endpoint/bucket/key``) or ``vhost`` (``bucket.endpoint/key``); default: path style
    #: with an endpoint, virtual hosts on AWS
    url_style: Literal["path", "vhost"] | None = None
    #: for an endpoint given without a scheme: https unless False
    use_ssl: bool | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None


def _split_endpoint(endpoint: str, use_ssl: bool | None) -> tuple[str, str]:
    if "://" in endpoint:
        scheme, _, host = endpoint.partition("://")
        return scheme, host.rstrip("/")
    return ("http" if use_ssl is False else "https"), endpoint.rstrip("/")


@functools.lru_cache(maxsize=64)
def _s3_filesystem(bucket: str, endpoint: str, options: ObjectStoreOptions) -> pafs.S3FileSystem:
    region = options.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        # on AWS a bucket lives in one region (one HEAD request finds it); other servers ignore the region
        region = pafs.resolve_s3_region(bucket) if not endpoint else "us-east-1"
    kwargs: dict[str, object] = {
        "region": region,
        "connect_timeout": CONNECT_TIMEOUT_S,
        "request_timeout": REQUEST_TIMEOUT_S,
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=MAX_ATTEMPTS),
        "force_virtual_addressing": options.url_style == "vhost",
    }
    if endpoint:
        kwargs["scheme"], kwargs["endpoint_override"] = _split_endpoint(endpoint, options.use_ssl)
    if options.access_key_id and options.secret_access_key:
        kwargs["access_key"], kwargs["secret_key"] = options.access_key_id, options.secret_access_key
    return pafs.S3FileSystem(**kwargs)


def parse_pointer(data: bytes) -> str | None:
    """The version a pointer file's bytes name, or None if they are not a pointer (``{"version": ...}``)."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        return None
    version = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(version, str) or not version or "/" in version or version.startswith("."):
        return None
    return version


def follow_local_pointer(path: str) -> str:
    """A local ``.../latest`` pointer path as the version folder it names (any other path as it is): for
    engines that read paths themselves (Spark)."""
    if "://" in path and not path.startswith("file://"):
        return path
    parquet = ParquetPath(path, f"path '{path}'", Path("/"), ObjectStoreOptions())
    _ = parquet.filesystem
    return parquet.fs_path if parquet.version is not None else path


def _glob_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(glob_regex(pattern) + r"\Z")


def _hidden(relative: str) -> bool:
    return any(part.startswith((".", "_")) for part in relative.split("/"))


class ParquetPath:
    """The parquet data behind one path: a file, a directory of files, or a glob, on any filesystem.

    ``owner`` names the object for error messages (``"FileSource 'driver_stats'"``); ``store`` names the
    store raising them.

    >>> p = ParquetPath("s3://bucket/stats/*.parquet", "FileSource 'x'", Path("."), ObjectStoreOptions())
    >>> (p.is_local, p.is_glob)
    (False, True)
    """

    def __init__(
        self,
        path: str,
        owner: str,
        repo_path: Path,
        options: ObjectStoreOptions,
        endpoint_override: str = "",
        store: str = "duckdb offline store",
    ) -> None:
        self.uri, self.owner, self.store = path, owner, store
        self._options, self._endpoint = options, endpoint_override or options.endpoint or ""
        self._repo_path = repo_path
        self._fs: pafs.FileSystem | None = None
        self._root = ""
        #: the feature-set version a ``.../latest`` pointer path resolved to (None for any other path)
        self.version: str | None = None
        self.is_glob = any(c in path for c in _GLOB_CHARS)
        self.is_local = "://" not in path or path.startswith("file://")

    # --- where -------------------------------------------------------------------------------------
    @property
    def filesystem(self) -> pafs.FileSystem:
        """The pyarrow filesystem holding the data (made on first use)."""
        if self._fs is None:
            fs, root = self._resolve()
            self._fs, self._root = fs, self._follow_pointer(fs, root)
        return self._fs

    @property
    def fs_path(self) -> str:
        """The path inside :attr:`filesystem` (``bucket/key`` on S3, absolute on local disk)."""
        _ = self.filesystem
        return self._root

    def _resolve(self) -> tuple[pafs.FileSystem, str]:
        if self.uri.startswith("s3://"):
            bucket_key = self.uri.removeprefix("s3://")
            bucket = bucket_key.partition("/")[0]
            if not bucket:
                raise self._failure(f"has no bucket in its path '{self.uri}'", "write the path as s3://bucket/key")
            try:
                return _s3_filesystem(bucket, self._endpoint, self._options), bucket_key.rstrip("/")
            except OSError as exc:
                raise self._mapped(exc, "connecting to S3 for") from exc
        if "://" in self.uri:
            # from_uri must not see the wildcards: open the folder above the first one, then add the rest back
            cut = min((self.uri.find(c) for c in _GLOB_CHARS if c in self.uri), default=len(self.uri))
            head = self.uri[:cut].rpartition("/")[0] if cut < len(self.uri) else self.uri
            try:
                fs, root = pafs.FileSystem.from_uri(head)
            except (OSError, pa.ArrowInvalid) as exc:
                raise self._failure(
                    f"cannot open its path '{self.uri}': {exc}", "use a local path, s3://, gs:// or hdfs://"
                ) from exc
            return fs, (root.rstrip("/") + self.uri[len(head) :]).rstrip("/")
        local = Path(self.uri) if Path(self.uri).is_absolute() else self._repo_path / self.uri
        return pafs.LocalFileSystem(), local.absolute().as_posix()

    def _follow_pointer(self, fs: pafs.FileSystem, path: str) -> str:
        """``path`` itself, or the version folder beside it when it is a ``latest`` pointer file."""
        if self.is_glob or path.rpartition("/")[2] != POINTER_NAME:
            return path
        try:
            info = fs.get_file_info(path)
            if info.type != pafs.FileType.File or (info.size or 0) > _POINTER_MAX_BYTES:
                return path
            with fs.open_input_stream(path) as stream:
                version = parse_pointer(stream.read())
        except OSError as exc:
            raise self._mapped(exc, "reading the latest pointer of") from exc
        if version is None:
            return path
        self.version = version
        return f"{path.rpartition('/')[0]}/{version}"

    def _base_dir(self) -> str:
        """The folder a glob starts from (the components before the first wildcard)."""
        parts = self.fs_path.split("/")
        first = next(i for i, p in enumerate(parts) if any(c in p for c in _GLOB_CHARS))
        return "/".join(parts[:first])

    # --- errors ------------------------------------------------------------------------------------
    def _failure(self, problem: str, fix: str = "") -> BackendFailure:
        return BackendFailure(self.store, f"{self.owner} {problem}", fix)

    def _mapped(self, exc: OSError, doing: str) -> BackendFailure | BackendUnavailable:
        """An error from the filesystem as a ladle error naming the object, the path and the fix."""
        text = str(exc)
        if "NETWORK_CONNECTION" in text or "curlCode" in text or "Couldn't resolve host" in text:
            return BackendUnavailable(
                self.store,
                f"{doing} {self.owner} at '{self.uri}': cannot reach the object store: {text}",
                "check s3_endpoint_override on the source (or offline_store.s3_endpoint) and that the server is up",
            )
        if any(
            code in text
            for code in (
                "ACCESS_DENIED",
                "INVALID_ACCESS_KEY_ID",
                "SIGNATURE_DOES_NOT_MATCH",
                "AccessDenied",
                "InvalidAccessKeyId",
                "HTTP response code 403",
            )
        ):
            return BackendFailure(
                self.store,
                f"{doing} {self.owner} at '{self.uri}': access denied: {text}",
                "check the AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE) and the bucket policy",
            )
        if "NO_SUCH_BUCKET" in text or "NoSuchBucket" in text:
            return BackendFailure(
                self.store,
                f"{doing} {self.owner} at '{self.uri}': the bucket does not exist",
                "create the bucket or fix the path",
            )
        return BackendFailure(self.store, f"{doing} {self.owner} at '{self.uri}' failed: {text}")

    def _missing(self) -> BackendFailure | BackendUnavailable:
        if self.uri.startswith("s3://"):
            bucket = self.fs_path.partition("/")[0]
            try:
                no_bucket = self.filesystem.get_file_info(bucket).type == pafs.FileType.NotFound
            except OSError as exc:
                return self._mapped(exc, "reading")
            if no_bucket:
                return self._failure(
                    f"reads '{self.uri}', but bucket '{bucket}' does not exist", "create the bucket or fix the path"
                )
        where = "" if not self.is_local else f" (resolved to {self.fs_path})"
        return SourceNotFound(
            self.store,
            f"{self.owner} has no parquet data at '{self.uri}'{where}",
            "check the path in the FileSource; relative paths are relative to the repo folder",
        )

    # --- reading -----------------------------------------------------------------------------------
    def _info(self, path: str) -> pafs.FileInfo:
        try:
            return self.filesystem.get_file_info(path)
        except OSError as exc:
            raise self._mapped(exc, "reading") from exc

    def _listing(self, folder: str) -> list[pafs.FileInfo]:
        try:
            return list(self.filesystem.get_file_info(pafs.FileSelector(folder, recursive=True, allow_not_found=True)))
        except OSError as exc:
            raise self._mapped(exc, "listing") from exc

    def files(self) -> list[str]:
        """Every parquet file, sorted (paths inside :attr:`filesystem`). Raises if there is none."""
        return self._scan()[0]

    def _scan(self) -> tuple[list[str], str | None]:
        """The files, and the folder hive ``key=value`` partitions are read below (None for one file)."""
        base: str | None
        if self.is_glob:
            base = self._base_dir()
            pattern = _glob_regex(self.fs_path[len(base) + 1 :] if base else self.fs_path)
            found = [
                f.path
                for f in self._listing(base or "/")
                if f.type == pafs.FileType.File
                and pattern.match(rel := f.path[len(base) + 1 :] if base else f.path)
                and not _hidden(rel)
            ]
        else:
            info = self._info(self.fs_path)
            base = self.fs_path if info.type == pafs.FileType.Directory else None
            if info.type == pafs.FileType.File:
                found = [info.path]
            elif info.type == pafs.FileType.Directory:
                found = [
                    f.path
                    for f in self._listing(self.fs_path)
                    if f.type == pafs.FileType.File
                    and f.path.endswith(".parquet")
                    and not _hidden(f.path[len(self.fs_path) + 1 :])
                ]
            else:
                found = []
        if not found:
            raise self._missing()
        return sorted(found), base

    def dataset(self) -> ds.Dataset:
        """The data as one Arrow dataset: columns unified by name across files (missing ones are null),
        hive partition folders as columns (integers as int64, like DuckDB's own reader)."""
        files, base = self._scan()
        fmt = ds.ParquetFileFormat()
        try:
            partitioning: ds.Partitioning | ds.PartitioningFactory | None = None
            if base:
                discovery = ds.FileSystemFactoryOptions(
                    partition_base_dir=base, partitioning=ds.HivePartitioning.discover(infer_dictionary=False)
                )
                found = ds.FileSystemDatasetFactory(self.filesystem, files[:1], fmt, discovery).finish().partitioning
                if found is not None and len(found.schema):
                    widened = [
                        pa.field(f.name, pa.int64() if pa.types.is_integer(f.type) else f.type) for f in found.schema
                    ]
                    partitioning = ds.partitioning(pa.schema(widened), flavor="hive")
            options = ds.FileSystemFactoryOptions(partition_base_dir=base or "", partitioning=partitioning)
            factory = ds.FileSystemDatasetFactory(self.filesystem, files, fmt, options)
            try:
                schema = factory.inspect(promote_options="permissive", fragments=None)
            except TypeError:  # pyarrow < 21 inspects without widening: unify each file's schema ourselves
                schema = pa.unify_schemas(
                    [ds.FileSystemDatasetFactory(self.filesystem, [f], fmt, options).inspect() for f in files],
                    promote_options="permissive",
                )
            return factory.finish(schema)
        except OSError as exc:
            raise self._mapped(exc, "reading") from exc
        except pa.ArrowInvalid as exc:
            raise self._failure(f"has parquet files at '{self.uri}' that cannot be read together: {exc}") from exc

    def read_table(self) -> pa.Table:
        """The whole of a single-file path."""
        try:
            return pq.read_table(self.fs_path, filesystem=self.filesystem)
        except OSError as exc:
            raise self._mapped(exc, "reading") from exc

    # --- writing -----------------------------------------------------------------------------------
    def _put(self, table: pa.Table, target: str) -> None:
        """Write one parquet file so a reader sees all of it or none of it: a local file is written beside
        the target and renamed; an object PUT (S3, GCS) is atomic by itself."""
        try:
            if not self.is_local:
                pq.write_table(table, target, filesystem=self.filesystem)
                return
            folder, _, name = target.rpartition("/")
            self.filesystem.create_dir(folder, recursive=True)
            tmp = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
            pq.write_table(table, tmp, filesystem=self.filesystem)
            self.filesystem.move(tmp, target)
        except OSError as exc:
            raise self._mapped(exc, "writing") from exc

    def append(self, table: pa.Table) -> None:
        """Add rows: a new ``part-<uuid>.parquet`` in a directory, or a rewrite of a single file."""
        if self.is_glob:
            raise InvalidRequest(
                f"cannot append to {self.owner}: its path '{self.uri}' is a glob; point it at a folder to push offline"
            )
        info = self._info(self.fs_path)
        if self.version is not None:
            raise InvalidRequest(
                f"cannot append to {self.owner}: its path '{self.uri}' is the latest pointer of a published feature "
                f"set (version '{self.version}'), and published versions never change; publish a new version "
                "with `ladle publish` instead"
            )
        if info.type == pafs.FileType.Directory or self.uri.endswith("/"):
            self._put(table, f"{self.fs_path}/part-{uuid.uuid4().hex}.parquet")
            return
        if info.type != pafs.FileType.File:
            raise self._missing()
        existing = self.read_table()
        self._put(pa.concat_tables([existing, table.cast(existing.schema)]), self.fs_path)

    def write(self, table: pa.Table, allow_overwrite: bool) -> None:
        """Write ``table`` as the single parquet file at this path (``persist``)."""
        if self.is_glob:
            raise InvalidRequest(f"cannot write {self.owner} to '{self.uri}': the path is a glob")
        if self._info(self.fs_path).type != pafs.FileType.NotFound and not allow_overwrite:
            raise InvalidRequest(f"cannot persist to '{self.uri}': it already exists (pass allow_overwrite=True)")
        self._put(table, self.fs_path)
