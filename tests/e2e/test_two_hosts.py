"""Two worker hosts (network namespaces) sharing only PostgreSQL, Redis, SMTP and the bucket.

Runs where namespaces can be made (root and ``ip netns``); elsewhere it skips, saying why. The
full run (200 requests) is ``make hosts``; this is the same with 60.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_a_host_killed_mid_run_leaves_its_work_to_the_other() -> None:
    """Every request settles with exactly one reply after host 1 dies whole mid-run, none is
    lost, and every export (with its recordings) downloads through either host's API."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.hosts.run", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    out = proc.stdout[-4000:] + proc.stderr[-4000:]
    if proc.returncode == 77:  # no namespaces here: not root, or no `ip netns`
        pytest.skip(proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "no netns")
    assert proc.returncode == 0, out
    assert "duplicate replies" in proc.stdout and "OK in" in proc.stdout, out
