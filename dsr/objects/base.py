"""What every object store offers: files named by keys, written whole, read and deleted in chunks.

A key is a relative, ``/``-separated name (``<request_id>/bundle.zip``). A location is the
string the ledger keeps for one object (a path on this host's disk, or ``s3://bucket/key``):
any host resolves it again with ``dsr.objects.locate``.
"""

from __future__ import annotations

import posixpath
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

from dsr.errors import ConfigError

CHUNK = 1024 * 1024  # copies move this much at a time: a bundle is never whole in memory


class ObjectStore(Protocol):
    """Where exports and our copies of e-mails live: this host's disk, or a bucket."""

    def location(self, key: str) -> str:
        """The string the ledger keeps for ``key``."""
        ...

    def put_file(self, key: str, source: Path) -> None:
        """Store ``source`` under ``key`` (whole or not at all); ``source`` is consumed."""
        ...

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store a small object (an e-mail) under ``key``, whole or not at all."""
        ...

    def open(self, key: str) -> IO[bytes]:
        """A stream of the object's bytes; FileNotFoundError when there is none."""
        ...

    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is none."""
        ...

    def keys(self, prefix: str) -> Iterator[str]:
        """Every key under ``prefix`` (a folder: ``<id>/stores/crm``), sorted."""
        ...

    def delete(self, key: str) -> bool:
        """Remove one object; whether it was there."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under ``prefix``; how many were there."""
        ...


def clean_key(key: str) -> str:
    """``key`` normalised; refused when it would leave the store (``..``, absolute)."""
    norm = posixpath.normpath(key.replace("\\", "/"))
    if key.startswith("/") or norm in (".", "..") or norm.startswith("../"):
        raise ConfigError("an object key must stay inside its store")
    return norm


def iter_chunks(stream: IO[bytes]) -> Iterator[bytes]:
    """The stream's bytes in chunks, closed at the end (a download's body)."""
    with stream:
        while chunk := stream.read(CHUNK):
            yield chunk


def copy_to(store: ObjectStore, key: str, target: IO[bytes]) -> None:
    """Copy an object into an open file in chunks."""
    with store.open(key) as src:
        shutil.copyfileobj(src, target, CHUNK)


class Blob:
    """One stored object (the access bundle) as a reply and a download use it."""

    def __init__(self, store: ObjectStore, key: str) -> None:
        self.store, self.key = store, key

    def size(self) -> int:
        size = self.store.size(self.key)
        if size is None:
            raise FileNotFoundError(self.key)
        return size

    def read_bytes(self) -> bytes:
        """The whole object: only for one bounded by the attachment limit."""
        with self.store.open(self.key) as fh:
            return fh.read()

    def chunks(self) -> Iterator[bytes]:
        return iter_chunks(self.store.open(self.key))
