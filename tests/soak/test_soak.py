"""The short soak: the same faults as `make soak`, compressed, and every invariant holds."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests import services

ROOT = Path(__file__).resolve().parents[2]


def test_quick_soak_keeps_every_invariant() -> None:
    """Worker/scheduler/sweep SIGKILLs, Redis flush and restart, PostgreSQL restart, SMTP 4xx and
    5xx windows and a full disk: nothing lost, nothing stuck silently, records and chain intact."""
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb") and not shutil.which("initdb"):
        services.unavailable("PostgreSQL server binaries", FileNotFoundError("initdb"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak.run", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "requests lost" in proc.stdout and "FAILED" not in proc.stdout
