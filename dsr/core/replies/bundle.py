"""The access export bundle (a streamed ZIP) and the signed, expiring link to download it.

The bundle holds, per store, every file its connector staged (``<table>.json``, ``<table>.csv``,
``audio/*.wav``) under ``<connector>/``, plus ``summary.txt`` and ``summary.html`` in the
subject's language. Files are copied into the archive in chunks, so a bundle of any size is
built in constant memory; the archive is written beside its target and renamed into place. With
a bucket, staged files are read from it in chunks and the archive, written to this host's
scratch folder, is uploaded in parts: it appears there whole or not at all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from dsr.core.ledger import exports, paths
from dsr.core.replies.templates import ReplyContext, StoreReport, render_summary
from dsr.files import private_dir
from dsr.objects import CHUNK, Blob, ObjectStore


def _store_files(store: StoreReport) -> Iterator[tuple[Path, str]]:
    # Only a store that finished is exported: a failed task's folder may be half-written.
    if store.status != "done" or store.staging is None or not store.staging.is_dir():
        return
    for path in sorted(store.staging.rglob("*")):
        relative = path.relative_to(store.staging)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            yield path, f"{store.connector}/{relative.as_posix()}"


def _store_objects(store: StoreReport, objects: ObjectStore | None) -> Iterator[tuple[str, str]]:
    if store.status != "done" or store.staged is None or objects is None:
        return
    for key in objects.keys(store.staged):
        relative = key[len(store.staged) :].lstrip("/")
        if relative and not any(part.startswith(".") for part in relative.split("/")):
            yield key, f"{store.connector}/{relative}"


def _write_zip(
    raw: IO[bytes], ctx: ReplyContext, stores: list[StoreReport], objects: ObjectStore | None
) -> None:
    summary_text, summary_html = render_summary(ctx, stores)
    with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED, strict_timestamps=False) as zf:
        zf.writestr("summary.txt", summary_text)
        zf.writestr("summary.html", summary_html)
        for path, arcname in (pair for store in stores for pair in _store_files(store)):
            zf.write(path, arcname)  # copies in chunks; never the whole file in memory
        for key, arcname in (pair for s in stores for pair in _store_objects(s, objects)):
            assert objects is not None
            with objects.open(key) as src, zf.open(arcname, "w", force_zip64=True) as dst:
                shutil.copyfileobj(src, dst, CHUNK)


def _write_temporary(
    folder: Path, ctx: ReplyContext, stores: list[StoreReport], objects: ObjectStore | None
) -> Path:
    """The ZIP as a private temporary file in ``folder`` (removed again if it fails)."""
    private_dir(folder)  # mkstemp below creates the archive 0600
    fd, tmp_name = tempfile.mkstemp(prefix=".bundle-", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            _write_zip(raw, ctx, stores, objects)
            raw.flush()
            os.fsync(raw.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def build_bundle(ctx: ReplyContext, stores: list[StoreReport], *, export_dir: Path) -> Path:
    """Write the subject's ZIP (store files + summary) atomically and return its path."""
    target = paths.bundle(export_dir, ctx.request_id)
    tmp = _write_temporary(target.parent, ctx, stores, None)
    try:
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def upload_bundle(
    ctx: ReplyContext, stores: list[StoreReport], *, scratch: Path, objects: ObjectStore
) -> Blob:
    """Build the subject's ZIP from the files staged in ``objects`` (a bucket) in this host's
    ``scratch`` folder and upload it; the uploaded object (it appears whole or not at all)."""
    tmp = _write_temporary(paths.request_dir(scratch, ctx.request_id), ctx, stores, objects)
    key = exports.bundle_key(ctx.request_id)
    try:
        objects.put_file(key, tmp)
    finally:
        tmp.unlink(missing_ok=True)
    return Blob(objects, key)
