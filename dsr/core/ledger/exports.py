"""Where a request's files are kept: this host's export folder, or a bucket (``DSR_EXPORT_URL``).

The layout is ``paths``'s, as keys (``<request_id>/bundle.zip``, ``<request_id>/stores/<c>/``,
``<request_id>/outbox/<purpose>.eml``). Connectors always stage to this host's export folder;
with a bucket, a finished task's staged files are uploaded (and the local copies removed), so
the host that builds the bundle need not be the host that staged it. A location the ledger keeps
(``Outbox.path``) resolves on any host.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from config.settings import Settings
from dsr import objects
from dsr.core.ledger import paths, storage
from dsr.errors import RetriableStoreError

_HERE = Path()


def s3_options(settings: Settings) -> objects.S3Options:
    return objects.S3Options(
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        sse=settings.s3_sse,
        kms_key_id=settings.s3_kms_key_id,
    )


def store(settings: Settings) -> objects.ObjectStore:
    """The export store: the bucket of ``DSR_EXPORT_URL``, else ``DSR_EXPORT_DIR``."""
    if settings.export_url:
        return objects.S3Store(settings.export_url, s3_options(settings))
    return objects.LocalStore(settings.resolved_export_dir)


def is_remote(settings: Settings) -> bool:
    return bool(settings.export_url)


def request_key(request_id: str) -> str:
    return paths.request_dir(_HERE, request_id).as_posix()


def bundle_key(request_id: str) -> str:
    return paths.bundle(_HERE, request_id).as_posix()


def staging_root_key(request_id: str) -> str:
    return paths.staging_root(_HERE, request_id).as_posix()


def staging_key(request_id: str, connector: str) -> str:
    return paths.staging(_HERE, request_id, connector).as_posix()


def message_key(request_id: str, purpose: str) -> str:
    return paths.message(_HERE, request_id, purpose).as_posix()


def put_message(settings: Settings, key: str, data: bytes) -> str:
    """Store one e-mail (whole or not at all); its location for the ledger."""
    where = store(settings)
    if isinstance(where, objects.LocalStore):
        # A failed local write removes what it half-wrote (a full disk is not kept full by us).
        storage.write_atomically(where.path(key), data)
    else:
        where.put_bytes(key, data)
    return where.location(key)


def locate(settings: Settings, location: str) -> tuple[objects.ObjectStore, str]:
    if objects.is_url(location):
        bucket, key = objects.split_url(location)
        return objects.S3Store(f"s3://{bucket}", s3_options(settings)), key
    return objects.locate(location)


def read_location(settings: Settings, location: str) -> bytes:
    """A stored e-mail's bytes (bounded: an e-mail carries at most an attachment-limit ZIP)."""
    where, key = locate(settings, location)
    with where.open(key) as fh:
        return fh.read()


def delete_location(settings: Settings, location: str) -> bool:
    where, key = locate(settings, location)
    return where.delete(key)


def publish_staging(settings: Settings, request_id: str, connector: str, local: Path) -> int:
    """Upload a finished task's staged files to the bucket and remove the local copies; with
    the local store they are in place already. How many files were uploaded."""
    if not is_remote(settings) or not local.is_dir():
        return 0
    where = store(settings)
    prefix = staging_key(request_id, connector)
    where.delete_prefix(prefix)  # an earlier run's files: this run's set replaces them whole
    sent = 0
    for path in sorted(local.rglob("*")):
        relative = path.relative_to(local)
        if path.is_file() and not any(p.startswith(".") for p in relative.parts):
            where.put_file(f"{prefix}/{relative.as_posix()}", path)
            sent += 1
    storage.remove_tree(local)
    return sent


def remove_request(settings: Settings, request_id: str) -> None:
    """Everything of one request (a filing that did not commit)."""
    storage.remove_tree(paths.request_dir(settings.resolved_export_dir, request_id))
    if is_remote(settings):
        # Best effort: the caller is already failing (with the bucket away, this would too).
        with contextlib.suppress(RetriableStoreError):
            store(settings).delete_prefix(request_key(request_id))
