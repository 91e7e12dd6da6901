"""Where a request's files live under ``DSR_EXPORT_DIR`` (one folder per request).

``<export_dir>/<request_id>/`` holds ``stores/<connector>/`` (what each connector staged for an
access export), ``bundle.zip`` (the subject's export) and ``outbox/<purpose>.eml`` (our copy of
every e-mail about the request). Erasure and clean-up remove them through this one layout.
"""

from __future__ import annotations

from pathlib import Path

from dsr.errors import InvalidInput

BUNDLE_NAME = "bundle.zip"


def request_dir(export_dir: Path, request_id: str) -> Path:
    """The request's folder; a request id is never a path (refused before any file is touched)."""
    if not request_id or request_id in (".", "..") or "/" in request_id or "\\" in request_id:
        raise InvalidInput("request id is not a valid folder name")
    return export_dir / request_id


def bundle(export_dir: Path, request_id: str) -> Path:
    """The access bundle: ``<request_id>/bundle.zip``."""
    return request_dir(export_dir, request_id) / BUNDLE_NAME


def staging_root(export_dir: Path, request_id: str) -> Path:
    """Every connector's staged files for the request."""
    return request_dir(export_dir, request_id) / "stores"


def staging(export_dir: Path, request_id: str, connector: str) -> Path:
    """One connector's staged files: ``<request_id>/stores/<connector>/``."""
    return staging_root(export_dir, request_id) / connector


def message(export_dir: Path, request_id: str, purpose: str) -> Path:
    """Our copy of one e-mail: ``<request_id>/outbox/<purpose>.eml``."""
    return request_dir(export_dir, request_id) / "outbox" / f"{purpose.replace(':', '-')}.eml"
