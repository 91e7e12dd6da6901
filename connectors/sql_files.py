"""Files a SQL store's rows name (a PBX's call recordings): found, copied and removed with them.

A table's ``file: {column, root}`` says which column names a file and where names start: a
folder, or a bucket (``root: s3://bucket/prefix``, reached as ``dsr.objects`` is configured).
Every name is resolved and must stay inside ``root``: a crafted one (``../../etc/passwd``, an
absolute path, a symlink out) stops the operation with FatalStoreError before any file is read
or removed. Erasure removes a row's file first and then the row: a run cut off between the two
leaves a row naming a missing file, which the next run deletes; never a file no row names.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from connectors.sql_config import TableSpec
from dsr import objects
from dsr.errors import FatalStoreError
from dsr.files import copy_private, open_private, private_dir

FILES = " files"  # an outcome's table for the files a table's rows name ("cdr files")


@dataclass(frozen=True)
class StoredFile:
    """A file a row names in a bucket: ``key`` under the table's root."""

    root: str
    key: str

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name

    @property
    def store(self) -> objects.ObjectStore:
        return objects.open_store(self.root)

    def is_file(self) -> bool:
        return self.store.size(self.key) is not None

    def exists(self) -> bool:
        return self.is_file()

    def unlink(self) -> None:
        self.store.delete(self.key)


ArchivedFile = Path | StoredFile


def _outside(store: str, spec: TableSpec, row: Mapping[str, Any]) -> FatalStoreError:
    where = f"{spec.name} row {row[spec.key]}"
    return FatalStoreError(f"{store}: {where} names a file outside the table's file root")


def file_path(store: str, spec: TableSpec, row: Mapping[str, Any]) -> ArchivedFile | None:
    """The resolved file a row names (None: it names none), refused unless inside the root."""
    if spec.file is None:
        return None
    name = row[spec.file.column]
    if name is None or not str(name).strip():
        return None
    folder = spec.file.folder.format_map(row) if spec.file.folder else ""
    if objects.is_url(spec.file.root):
        raw = posixpath.join(folder, str(name).strip())
        key = posixpath.normpath(raw)
        if raw.startswith("/") or key in (".", "..") or key.startswith("../") or "\\" in raw:
            raise _outside(store, spec, row)
        return StoredFile(spec.file.root, key)
    root = Path(spec.file.root).resolve()
    path = (root / folder / str(name).strip()).resolve()
    if not path.is_relative_to(root) or path == root:
        raise _outside(store, spec, row)
    return path


def file_paths(
    store: str, spec: TableSpec, rows: Iterable[Mapping[str, Any]]
) -> list[ArchivedFile]:
    """Every row's file, all checked before any is used."""
    return [p for r in rows if (p := file_path(store, spec, r)) is not None]


def _copy_object(found: StoredFile, target: Path) -> bool:
    """Stream one object into a private file (False: there is none)."""
    private_dir(target.parent)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with open_private(tmp) as dst:
            objects.copy_to(found.store, found.key, dst)
        tmp.replace(target)
    except FileNotFoundError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def copy_files(staging: Path, spec: TableSpec, paths: list[ArchivedFile]) -> tuple[int, int]:
    """Copy the files that exist into ``staging/files/<table>/``; (copied, missing)."""
    assert spec.file is not None
    copied = 0
    for path in paths:
        if isinstance(path, StoredFile):
            copied += _copy_object(path, staging / "files" / spec.name / path.key)
        elif path.is_file():
            root = Path(spec.file.root).resolve()
            copy_private(path, staging / "files" / spec.name / path.relative_to(root))
            copied += 1
    return copied, len(paths) - copied


def remove_files(store: str, paths: list[ArchivedFile]) -> int:
    """Remove the files (gone already counts: an earlier run got this far); how many were."""
    removed = 0
    for path in paths:
        try:
            if isinstance(path, StoredFile):
                removed += path.store.delete(path.key)
            elif path.exists():
                path.unlink()
                removed += 1
        except OSError as err:
            raise FatalStoreError(f"{store}: cannot remove a file ({type(err).__name__})") from None
    return removed
