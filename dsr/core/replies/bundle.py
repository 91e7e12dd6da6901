"""The access export bundle (a streamed ZIP) and the signed, expiring link to download it.

The bundle holds, per store, every file its connector staged (``<table>.json``, ``<table>.csv``,
``audio/*.wav``) under ``<connector>/``, plus ``summary.txt`` and ``summary.html`` in the
subject's language. Files are copied into the archive in chunks, so a bundle of any size is
built in constant memory; the archive is written beside its target and renamed into place.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from dsr.core.ledger import paths
from dsr.core.replies.templates import ReplyContext, StoreReport, render_summary
from dsr.files import private_dir


def _store_files(store: StoreReport) -> Iterator[tuple[Path, str]]:
    # Only a store that finished is exported: a failed task's folder may be half-written.
    if store.status != "done" or store.staging is None or not store.staging.is_dir():
        return
    for path in sorted(store.staging.rglob("*")):
        relative = path.relative_to(store.staging)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            yield path, f"{store.connector}/{relative.as_posix()}"


def build_bundle(ctx: ReplyContext, stores: list[StoreReport], *, export_dir: Path) -> Path:
    """Write the subject's ZIP (store files + summary) atomically and return its path."""
    target = paths.bundle(export_dir, ctx.request_id)
    private_dir(target.parent)  # mkstemp below creates the archive 0600
    summary_text, summary_html = render_summary(ctx, stores)
    fd, tmp_name = tempfile.mkstemp(prefix=".bundle-", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            with zipfile.ZipFile(
                raw, "w", compression=zipfile.ZIP_DEFLATED, strict_timestamps=False
            ) as zf:
                zf.writestr("summary.txt", summary_text)
                zf.writestr("summary.html", summary_html)
                for path, arcname in (pair for store in stores for pair in _store_files(store)):
                    zf.write(path, arcname)  # copies in chunks; never the whole file in memory
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
