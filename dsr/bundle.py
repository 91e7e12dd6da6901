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
from datetime import datetime
from pathlib import Path
from typing import Any

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from config.settings import Settings
from dsr.errors import InvalidInput
from dsr.replies import ReplyContext, StoreReport, render_summary

BUNDLE_NAME = "bundle.zip"
TOKEN_SALT = "export"


def bundle_path(export_dir: Path, request_id: str) -> Path:
    """Where the bundle of ``request_id`` lives: ``export_dir/<request_id>/bundle.zip``."""
    if not request_id or request_id in (".", "..") or "/" in request_id or "\\" in request_id:
        raise InvalidInput("request id is not a valid folder name")
    return export_dir / request_id / BUNDLE_NAME


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
    target = bundle_path(export_dir, ctx.request_id)
    target.parent.mkdir(parents=True, exist_ok=True)
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


class _ClockSigner(TimestampSigner):
    """A timestamp signer whose clock can be fixed (link expiry dates, tests without sleeping)."""

    def __init__(self, *args: Any, now: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._now = now

    def get_timestamp(self) -> int:
        return int(self._now) if self._now is not None else super().get_timestamp()


def _serializer(settings: Settings, now: datetime | None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        settings.secret_key,
        salt=TOKEN_SALT,
        signer=_ClockSigner,
        signer_kwargs={"now": now.timestamp() if now else None},
    )


def make_download_token(request_id: str, settings: Settings, *, now: datetime | None = None) -> str:
    """A URL-safe token naming ``request_id``, signed with the secret key and timestamped."""
    return str(_serializer(settings, now).dumps(request_id))


def read_download_token(token: str, settings: Settings, *, now: datetime | None = None) -> str:
    """The request id inside ``token``; InvalidInput when tampered, malformed or expired."""
    try:
        value = _serializer(settings, now).loads(token, max_age=settings.download_link_ttl_seconds)
    except SignatureExpired:
        raise InvalidInput("download link has expired") from None
    except BadData:
        raise InvalidInput("download link is not valid") from None
    if not isinstance(value, str):
        raise InvalidInput("download link is not valid")
    return value
