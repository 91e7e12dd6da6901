"""The access export bundle (a streamed ZIP) and the signed, expiring link to download it.

The bundle holds, per store, every file its connector staged (``<table>.json``, the files its
rows name) under ``<connector>/``, each table's CSV written for people from its JSON
(``export_files``), ``summary.txt`` and ``summary.html`` in the subject's language, and
``manifest.json`` for programs. Files are copied into the archive in chunks, so a bundle of
any size is built in constant memory; the archive is written beside its target and renamed
into place. With a bucket, the staged objects are first copied (in chunks) to this host's
scratch folder, the archive is written there and uploaded in parts: it appears whole or not
at all.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from dsr.core.ledger import exports, paths
from dsr.core.replies import export_files
from dsr.core.replies.export_notes import TableNotes
from dsr.core.replies.templates import (
    ReplyContext,
    StoreReport,
    language_of,
    render_summary,
    store_views,
)
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


def _add_store(
    zf: zipfile.ZipFile, store: StoreReport, lang: str, zone: ZoneInfo
) -> list[dict[str, Any]]:
    """Copy one store's files in (each table's CSV rewritten for people); its manifest tables."""
    [view] = store_views([store], lang)
    by_table = {t.name: t for t in view.tables}
    tables = []
    for path, arcname in _store_files(store):
        table = path.stem
        if path.suffix == ".csv" and path.with_suffix(".json").is_file():
            notes = store.tables.get(table) or TableNotes()
            export_files.write_csv(zf, arcname, path.with_suffix(".json"), notes, lang, zone)
            continue
        zf.write(path, arcname)  # copies in chunks; never the whole file in memory
        if path.suffix == ".json" and path.parent == store.staging and table in by_table:
            notes = store.tables.get(table) or TableNotes()
            columns = export_files.columns_of(path)
            tables.append(export_files.table_entry(by_table[table], notes, columns, lang))
    return tables


def _write_zip(raw: IO[bytes], ctx: ReplyContext, stores: list[StoreReport], timezone: str) -> None:
    summary_text, summary_html = render_summary(ctx, stores)
    lang, zone = language_of(ctx), ZoneInfo(timezone)
    with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED, strict_timestamps=False) as zf:
        zf.writestr("summary.txt", summary_text)
        zf.writestr("summary.html", summary_html)
        listed = []
        for store, view in zip(stores, store_views(stores, lang), strict=True):
            if store.status != "done":
                continue
            listed.append(
                {
                    "connector": store.connector,
                    "label": view.label,
                    "records": view.records,
                    "collected_from": view.collected_from,
                    "recipients": list(store.recipients),
                    "tables": _add_store(zf, store, lang, zone),
                }
            )
        zf.writestr(
            "manifest.json",
            export_files.manifest(
                request_id=ctx.request_id,
                lang=lang,
                timezone=timezone,
                stores=listed,
                now=datetime.now(UTC),
            ),
        )


def _write_temporary(
    folder: Path, ctx: ReplyContext, stores: list[StoreReport], timezone: str
) -> Path:
    """The ZIP as a private temporary file in ``folder`` (removed again if it fails)."""
    private_dir(folder)  # mkstemp below creates the archive 0600
    fd, tmp_name = tempfile.mkstemp(prefix=".bundle-", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            _write_zip(raw, ctx, stores, timezone)
            raw.flush()
            os.fsync(raw.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def build_bundle(
    ctx: ReplyContext,
    stores: list[StoreReport],
    *,
    export_dir: Path,
    timezone: str = "Asia/Ho_Chi_Minh",
) -> Path:
    """Write the subject's ZIP (store files, summary, manifest) atomically; its path."""
    target = paths.bundle(export_dir, ctx.request_id)
    tmp = _write_temporary(target.parent, ctx, stores, timezone)
    try:
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def _fetched(stores: list[StoreReport], objects: ObjectStore, folder: Path) -> list[StoreReport]:
    """Each finished store's staged objects copied (in chunks) into ``folder``, so the bundle is
    written from local files exactly as on disk."""
    local = []
    for store in stores:
        if store.status == "done" and store.staged is not None:
            staging = folder / store.connector
            private_dir(staging)
            for key in objects.keys(store.staged):
                relative = key[len(store.staged) :].lstrip("/")
                if not relative or any(part.startswith(".") for part in relative.split("/")):
                    continue
                target = staging / relative
                private_dir(target.parent)
                with objects.open(key) as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
            store = dataclasses.replace(store, staging=staging, staged=None)
        local.append(store)
    return local


def upload_bundle(
    ctx: ReplyContext,
    stores: list[StoreReport],
    *,
    scratch: Path,
    objects: ObjectStore,
    timezone: str = "Asia/Ho_Chi_Minh",
) -> Blob:
    """Build the subject's ZIP from the files staged in ``objects`` (a bucket) in this host's
    ``scratch`` folder and upload it; the uploaded object (it appears whole or not at all)."""
    folder = paths.request_dir(scratch, ctx.request_id)
    private_dir(folder)
    fetched = Path(tempfile.mkdtemp(prefix=".staged-", dir=folder))
    key = exports.bundle_key(ctx.request_id)
    try:
        tmp = _write_temporary(folder, ctx, _fetched(stores, objects, fetched), timezone)
        try:
            objects.put_file(key, tmp)
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        shutil.rmtree(fetched, ignore_errors=True)
    return Blob(objects, key)
