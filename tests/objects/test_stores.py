"""The two object stores keep one contract: a folder on disk and a bucket on moto's S3 server."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsr.errors import ConfigError, RetriableStoreError
from dsr.objects import (
    LocalStore,
    ObjectStore,
    S3Options,
    S3Store,
    configure,
    locate,
    open_store,
)
from tests.s3server import S3Server, moto_server


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with moto_server() as server:
        yield server


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalStore(tmp_path / "exports")
        return
    server: S3Server = request.getfixturevalue("s3")
    options = S3Options(server.endpoint)
    configure(options)  # as a Runtime does at start: how ``locate`` reaches the bucket
    yield S3Store(f"s3://{server.bucket}/{tmp_path.name}", options)
    configure(S3Options())


def test_objects_round_trip_list_and_delete(store: ObjectStore, tmp_path: Path) -> None:
    """What is put is read back, listed under its folder, counted and deleted once."""
    source = tmp_path / "big.bin"
    source.write_bytes(b"x" * (3 * 1024 * 1024 + 7))
    store.put_file("r1/bundle.zip", source)
    assert not source.exists(), "an uploaded file is consumed"
    store.put_bytes("r1/outbox/reply.eml", b"Subject: hi\r\n\r\nbody")
    store.put_bytes("r1/stores/crm/customers.json", b"[]")
    store.put_bytes("r2/bundle.zip", b"other")
    assert store.size("r1/bundle.zip") == 3 * 1024 * 1024 + 7
    assert store.size("r1/missing") is None
    with store.open("r1/outbox/reply.eml") as fh:
        assert fh.read() == b"Subject: hi\r\n\r\nbody"
    with pytest.raises(FileNotFoundError):
        store.open("r1/missing")
    assert list(store.keys("r1")) == [
        "r1/bundle.zip",
        "r1/outbox/reply.eml",
        "r1/stores/crm/customers.json",
    ]
    where, key = locate(store.location("r1/outbox/reply.eml"))
    assert where.size(key) == len(b"Subject: hi\r\n\r\nbody")
    assert store.delete_prefix("r1/stores") == 1
    assert store.delete("r1/bundle.zip") is True
    assert store.delete("r1/bundle.zip") is False
    assert list(store.keys("r2")) == ["r2/bundle.zip"]


def test_keys_never_leave_the_store(store: ObjectStore) -> None:
    """A key climbing out of the store (``..``, absolute) is refused before anything is touched."""
    for bad in ("../escape", "/etc/passwd", "a/../../b"):
        with pytest.raises(ConfigError):
            store.put_bytes(bad, b"x")


def test_local_objects_are_private(tmp_path: Path) -> None:
    """On disk an object is 0600 in 0700 folders from creation."""
    store = LocalStore(tmp_path / "exports")
    store.put_bytes("r1/outbox/reply.eml", b"x")
    path = tmp_path / "exports" / "r1" / "outbox" / "reply.eml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_server_side_encryption_is_a_setting(s3: S3Server, tmp_path: Path) -> None:
    """With ``sse=AES256`` every upload (a file in parts, or bytes) is stored encrypted."""
    store = open_store(f"s3://{s3.bucket}/sse", S3Options(s3.endpoint, sse="AES256"))
    source = tmp_path / "part.bin"
    source.write_bytes(b"y" * (9 * 1024 * 1024))  # more than one part
    store.put_file("a/bundle.zip", source)
    store.put_bytes("a/reply.eml", b"x")
    for key in ("sse/a/bundle.zip", "sse/a/reply.eml"):
        head = s3.client().head_object(Bucket=s3.bucket, Key=key)
        assert head["ServerSideEncryption"] == "AES256"
    plain = open_store(f"s3://{s3.bucket}/plain", S3Options(s3.endpoint))
    plain.put_bytes("b.eml", b"x")
    head = s3.client().head_object(Bucket=s3.bucket, Key="plain/b.eml")
    assert "ServerSideEncryption" not in head


def test_an_unreachable_bucket_is_a_retriable_error(tmp_path: Path) -> None:
    """A bucket that does not answer is RetriableStoreError (the task is retried), not a crash."""
    from tests.s3server import free_port

    store = S3Store("s3://nowhere/x", S3Options(f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(RetriableStoreError):
        store.put_bytes("a", b"x")
    with pytest.raises(ConfigError):
        S3Store("https://bucket/x", S3Options())
