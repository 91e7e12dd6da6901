"""Writing to the export disk: what a full (or failing) disk leaves behind, and how it is told.

A write that fails removes what it half-wrote, so a full disk does not stay full because of our
own partial files, and the error is one line naming the folder's problem, not a traceback.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from dsr.errors import StorageFull
from dsr.files import open_private, private_dir


def is_disk_full(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)


def describe(err: OSError) -> str:
    """One line, no path (a path names a request, not a person, but stays out of replies)."""
    name = errno.errorcode.get(err.errno or 0, type(err).__name__)
    return f"export disk: {os.strerror(err.errno) if err.errno else type(err).__name__} ({name})"


def storage_error(err: OSError) -> StorageFull:
    return StorageFull(describe(err))


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all, private (0600 in 0700 folders, from creation); on
    failure the temporary file and any folder this call created are removed again."""
    created = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        private_dir(path.parent)
        with open_private(tmp) as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        for folder in created:  # deepest first; only folders left empty
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def remove_tree(path: Path) -> None:
    """Remove a folder of ours (staging) if it is there."""
    shutil.rmtree(path, ignore_errors=True)
