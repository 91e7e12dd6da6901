"""An S3-compatible bucket as the object store (``DSR_EXPORT_URL=s3://bucket/prefix``).

Uploads go from a file on disk in parts (boto3's managed transfer) and downloads are read from the
response body in chunks, so no bundle is ever whole in memory. An object appears only when its
upload completes. Server-side encryption is a setting (``DSR_S3_SSE``). Errors of the bucket are
mapped here, once: a missing object is FileNotFoundError or None, anything else is
RetriableStoreError (the bucket is a store that may be away for a while).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from dsr.errors import ConfigError, RetriableStoreError
from dsr.objects.base import CHUNK, clean_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = {"404", "NoSuchKey", "NotFound"}
_TRANSFER = TransferConfig(multipart_chunksize=8 * CHUNK, max_concurrency=4, io_chunksize=CHUNK)


@dataclass(frozen=True)
class S3Options:
    """How to reach the bucket: endpoint (None: AWS, or ``AWS_ENDPOINT_URL``), region and the
    server-side encryption asked of every upload ("" none, ``AES256`` or ``aws:kms``)."""

    endpoint_url: str | None = None
    region: str | None = None
    sse: str = ""
    kms_key_id: str | None = None

    def extra_args(self) -> dict[str, str]:
        args = {"ServerSideEncryption": self.sse} if self.sse else {}
        if self.sse == "aws:kms" and self.kms_key_id:
            args["SSEKMSKeyId"] = self.kms_key_id
        return args


@functools.lru_cache(maxsize=8)
def client(options: S3Options) -> S3Client:
    """One client per set of options and process (boto3 clients are thread-safe)."""
    config = Config(
        retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=5, read_timeout=30
    )
    return boto3.client(
        "s3", endpoint_url=options.endpoint_url, region_name=options.region, config=config
    )


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` as (bucket, prefix without slashes); ConfigError when malformed."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError("an object store URL reads s3://bucket/prefix")
    return parts.netloc, parts.path.strip("/")


def _missing(err: ClientError) -> bool:
    return str(err.response.get("Error", {}).get("Code")) in _MISSING


def _unavailable(err: Exception) -> RetriableStoreError:
    code = err.response.get("Error", {}).get("Code") if isinstance(err, ClientError) else None
    return RetriableStoreError(f"object store: {code or type(err).__name__}")


class S3Store:
    """Objects under ``prefix`` in ``bucket``."""

    def __init__(self, url: str, options: S3Options) -> None:
        self.bucket, self.prefix = split_url(url)
        self.options = options

    @property
    def _s3(self) -> S3Client:
        return client(self.options)

    def _key(self, key: str) -> str:
        key = clean_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def put_file(self, key: str, source: Path) -> None:
        try:
            self._s3.upload_file(
                str(source),
                self.bucket,
                self._key(key),
                ExtraArgs=self.options.extra_args(),
                Config=_TRANSFER,
            )
        except (BotoCoreError, ClientError, S3UploadFailedError) as err:
            raise _unavailable(err) from None
        source.unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes) -> None:
        try:
            self._s3.put_object(
                Bucket=self.bucket,
                Key=self._key(key),
                Body=data,
                **cast(Any, self.options.extra_args()),
            )
        except (BotoCoreError, ClientError) as err:
            raise _unavailable(err) from None

    def open(self, key: str) -> IO[bytes]:
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except ClientError as err:
            if _missing(err):
                raise FileNotFoundError(key) from None
            raise _unavailable(err) from None
        except BotoCoreError as err:
            raise _unavailable(err) from None
        return cast(IO[bytes], body)  # a streaming body: read(n) and close()

    def size(self, key: str) -> int | None:
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as err:
            if _missing(err):
                return None
            raise _unavailable(err) from None
        except BotoCoreError as err:
            raise _unavailable(err) from None
        return int(head["ContentLength"])

    def _full_keys(self, prefix: str) -> Iterator[str]:
        folder = self._key(prefix).rstrip("/") + "/"
        try:
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=folder
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"]
        except (BotoCoreError, ClientError) as err:
            raise _unavailable(err) from None

    def keys(self, prefix: str) -> Iterator[str]:
        cut = len(self.prefix) + 1 if self.prefix else 0
        yield from sorted(k[cut:] for k in self._full_keys(prefix))

    def delete(self, key: str) -> bool:
        if self.size(key) is None:
            return False
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as err:
            raise _unavailable(err) from None
        return True

    def delete_prefix(self, prefix: str) -> int:
        found = list(self._full_keys(prefix))
        for start in range(0, len(found), 1000):  # the API's batch limit
            batch = [{"Key": k} for k in found[start : start + 1000]]
            try:
                self._s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": cast(Any, batch), "Quiet": True}
                )
            except (BotoCoreError, ClientError) as err:
                raise _unavailable(err) from None
        return len(found)
