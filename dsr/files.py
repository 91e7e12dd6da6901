"""Files that hold personal data or secrets: 0600 in 0700 folders, from the moment they exist.

Staged exports, bundles, our copies of e-mails, the SQLite ledger, the demo stores and the key
file are created with these modes (``os.open`` with a mode, ``mkdir`` with a mode), never made
private by a ``chmod`` afterwards: there is no moment in which another local user may read them.
The lowest layer of the package: it imports nothing of ours, so every layer may use it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """``path`` and its missing parents created 0700 (``mkdir -p`` would apply no mode)."""
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process or thread made it first
            folder.mkdir(mode=DIR_MODE)
    return path


def open_private(path: Path, mode: str = "wb", **kwargs: Any) -> IO[Any]:
    """Open ``path`` for writing (created 0600, truncated), like ``open(path, mode)``."""
    if not mode.startswith("w"):
        raise ValueError("open_private writes: use a 'w' mode")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    return os.fdopen(fd, mode, **kwargs)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a private temporary file renamed into place)."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    with open_private(tmp) as fh:
        fh.write(data)
    os.replace(tmp, path)


def create_private(path: Path) -> Path:
    """An empty 0600 file at ``path`` unless one exists (SQLite keeps a new file's mode, and
    gives its -wal and -shm files the database's)."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    return path


def copy_private(source: Path, target: Path) -> None:
    """Copy a file's bytes and times (not its mode: the copy is 0600)."""
    private_dir(target.parent)
    with source.open("rb") as src, open_private(target) as dst:
        shutil.copyfileobj(src, dst)
    stat = source.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
