"""Object stores: where exports, our copies of e-mails and archived files live.

``LocalStore`` (a folder on this host, the default) and ``S3Store`` (an S3-compatible bucket)
offer the one ``ObjectStore`` protocol. ``configure`` sets, once per process, how buckets are
reached; ``open_store`` turns a URL or folder into a store and ``locate`` turns a location the
ledger kept back into its store and key, on any host.
"""

from __future__ import annotations

from pathlib import Path

from dsr.objects.base import CHUNK, Blob, ObjectStore, clean_key, copy_to, iter_chunks
from dsr.objects.local import LocalStore
from dsr.objects.s3 import S3Options, S3Store, split_url

__all__ = [
    "CHUNK",
    "Blob",
    "LocalStore",
    "ObjectStore",
    "S3Options",
    "S3Store",
    "clean_key",
    "configure",
    "copy_to",
    "is_url",
    "iter_chunks",
    "locate",
    "open_store",
    "split_url",
]

_options = S3Options()


def configure(options: S3Options) -> None:
    """How this process reaches buckets (endpoint, region, encryption): set at start-up."""
    global _options  # one process-wide setting, changed only here
    _options = options


def is_url(where: str | Path) -> bool:
    return isinstance(where, str) and where.startswith("s3://")


def open_store(where: str | Path, options: S3Options | None = None) -> ObjectStore:
    """The store at an ``s3://bucket/prefix`` URL or a local folder."""
    if is_url(where):
        return S3Store(str(where), options or _options)
    return LocalStore(Path(where))


def locate(location: str) -> tuple[ObjectStore, str]:
    """The store and key of a location the ledger kept (an ``s3://`` URL or a file path)."""
    if is_url(location):
        bucket, key = split_url(location)
        return S3Store(f"s3://{bucket}", _options), key
    path = Path(location)
    return LocalStore(path.parent), path.name
