"""Files a SQL store's rows name (a PBX's call recordings): found, copied and removed with them.

A table's ``file: {column, root}`` says which column names a file and where names start. Every
name is resolved and must stay inside ``root``: a crafted one (``../../etc/passwd``, an absolute
path, a symlink out) stops the operation with FatalStoreError before any file is read or
removed. Erasure removes a row's file first and then the row: a run cut off between the two
leaves a row naming a missing file, which the next run deletes; never a file no row names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from connectors.sql_config import TableSpec
from dsr.errors import FatalStoreError
from dsr.files import copy_private

FILES = " files"  # an outcome's table for the files a table's rows name ("cdr files")


def file_path(store: str, spec: TableSpec, row: Mapping[str, Any]) -> Path | None:
    """The resolved file a row names (None: it names none), refused unless inside the root."""
    if spec.file is None:
        return None
    name = row[spec.file.column]
    if name is None or not str(name).strip():
        return None
    root = Path(spec.file.root).resolve()
    folder = spec.file.folder.format_map(row) if spec.file.folder else ""
    path = (root / folder / str(name).strip()).resolve()
    if not path.is_relative_to(root) or path == root:
        where = f"{spec.name} row {row[spec.key]}"
        raise FatalStoreError(f"{store}: {where} names a file outside the table's file root")
    return path


def file_paths(store: str, spec: TableSpec, rows: Iterable[Mapping[str, Any]]) -> list[Path]:
    """Every row's file, all checked before any is used."""
    return [p for r in rows if (p := file_path(store, spec, r)) is not None]


def copy_files(staging: Path, spec: TableSpec, paths: list[Path]) -> tuple[int, int]:
    """Copy the files that exist into ``staging/files/<table>/``; (copied, missing)."""
    assert spec.file is not None
    root = Path(spec.file.root).resolve()
    copied = 0
    for path in paths:
        if path.is_file():
            copy_private(path, staging / "files" / spec.name / path.relative_to(root))
            copied += 1
    return copied, len(paths) - copied


def remove_files(store: str, paths: list[Path]) -> int:
    """Unlink the files (gone already counts: an earlier run got this far); how many were."""
    removed = 0
    for path in paths:
        try:
            if path.exists():
                path.unlink()
                removed += 1
        except OSError as err:
            raise FatalStoreError(f"{store}: cannot remove a file ({type(err).__name__})") from None
    return removed
