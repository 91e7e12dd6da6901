"""``--profile``: py-spy on the worker processes while a batch runs, summarised by function.

py-spy samples every worker thread of the pool's processes (CPU-active samples only, so the
profile says where the CPU goes; lock waits are measured by the ledger sampler instead). The
raw folded stacks are kept in ``benchmarks/results/profile-<label>.folded`` and summarised as
the project's functions with the largest inclusive share and the hottest frames overall.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.report import RESULTS

ROOT = str(Path(__file__).resolve().parent.parent)


class PySpy:
    """``py-spy record`` of a process tree, stopped with SIGINT (which makes it write out)."""

    def __init__(self, pid: int, label: str) -> None:
        self.pid, self.label = pid, label
        self.out = RESULTS / f"profile-{label}.folded"
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("py-spy", path=str(Path(sys.executable).parent)) is not None

    def __enter__(self) -> PySpy:
        exe = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(self.pid),
                "--subprocesses",
                "--nonblocking",
                "--rate",
                "100",
                "--format",
                "raw",
                "--output",
                str(self.out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def summary(self, top: int = 25) -> dict[str, Any]:
        return summarise(self.out, top) if self.out.exists() else {}


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"
    name, _, where = frame.rpartition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    if path.startswith(ROOT):
        path = path[len(ROOT) + 1 :]
    elif "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    return f"{name} ({path})"


def summarise(path: Path, top: int = 25) -> dict[str, Any]:
    """Inclusive share of the project's own functions, and self share of the hottest frames."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame_name(f) for f in stack.split(";") if "(" in f]
        for name in set(frames):
            if name.split(" (", 1)[1].startswith(("dsr/", "connectors/", "workers/")):
                inclusive[name] += count
        if frames:
            own[frames[-1]] += count
    share = (lambda n: round(n / total, 3)) if total else (lambda n: 0.0)
    return {
        "samples": total,
        "project_inclusive": [(name, share(n)) for name, n in inclusive.most_common(top)],
        "hottest_self": [(name, share(n)) for name, n in own.most_common(top)],
    }
