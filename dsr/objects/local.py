"""The default object store: a folder on this host's disk (``DSR_EXPORT_DIR``).

Files are private from creation (0600 in 0700 folders, ``dsr.files``) and appear whole: written
beside their name and renamed into place. Names starting with a dot are temporary files in the
making and are never listed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from dsr.files import copy_private, private_dir, write_private
from dsr.objects.base import clean_key


class LocalStore:
    """Objects as files under ``root``; a key is a path relative to it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / clean_key(key)

    def location(self, key: str) -> str:
        return str(self.path(key))

    def put_file(self, key: str, source: Path) -> None:
        target = self.path(key)
        private_dir(target.parent)
        try:
            os.replace(source, target)  # the same disk: a rename, whole or not at all
        except OSError:
            tmp = target.with_name(f".{target.name}.tmp")
            try:
                copy_private(source, tmp)
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
            source.unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes) -> None:
        write_private(self.path(key), data)

    def open(self, key: str) -> IO[bytes]:
        return self.path(key).open("rb")

    def size(self, key: str) -> int | None:
        path = self.path(key)
        return path.stat().st_size if path.is_file() else None

    def keys(self, prefix: str) -> Iterator[str]:
        folder = self.path(prefix)
        if not folder.is_dir():
            return
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(self.root)
            if path.is_file() and not any(p.startswith(".") for p in relative.parts):
                yield relative.as_posix()

    def delete(self, key: str) -> bool:
        path = self.path(key)
        if not path.is_file():
            return False
        path.unlink(missing_ok=True)
        return True

    def delete_prefix(self, prefix: str) -> int:
        folder = self.path(prefix)
        if not folder.is_dir():
            return 0
        count = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        return count
