"""A small filesystem of the soak's own for DSR_EXPORT_DIR, to fill and free on a schedule.

A tmpfs needs root (the soak runs as root in this sandbox and in CI); without it the export
folder is a plain one and the disk-full fault is reported as not injected.
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path


class Disk:
    def __init__(self, root: Path, size_mb: int) -> None:
        self.root = root
        self.size_mb = size_mb
        self.mounted = False
        self.filler = root / ".soak-filler"

    def mount(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m,mode=0777", "tmpfs",
             str(self.root)],
            capture_output=True,
            check=False,
        )  # fmt: skip
        self.mounted = done.returncode == 0

    def fill(self) -> bool:
        """Fill to the last byte; False when there is no filesystem of ours to fill."""
        if not self.mounted:
            return False
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (1 << 20, 65536, 4096, 1):
                while True:
                    try:
                        os.write(fd, b"\0" * size)
                    except OSError as err:
                        if err.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(fd)
        return True

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.root)], check=False)
            self.mounted = False
