"""`dsr demo` (what `make demo` runs): everything embedded, four replies, nothing left running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

import psutil


def _embedded_servers(var: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "redis-server" in cmd and str(var) in " ".join(p.path for p in _files(proc)):
            found.append(proc)
    return found


def _files(proc: psutil.Process) -> list:  # type: ignore[type-arg]
    try:
        return proc.open_files()
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        return []


def test_demo_runs_each_kind_to_a_reply_and_cleans_up(tmp_path: Path) -> None:
    """With no services configured, the demo completes access, rectify, erase and a staff-answered
    complaint by e-mail."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}
    env["DSR_VAR_DIR"] = str(tmp_path / "var")
    done = subprocess.run(
        [sys.executable, "-m", "dsr", "demo", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    kinds = {r["kind"]: r for r in result["requests"]}
    assert set(kinds) == {"access", "rectify", "erase", "complaint"}
    assert all(r["status"] == "completed" for r in result["requests"])
    access = message_from_bytes(
        Path(kinds["access"]["reply_eml"]).read_bytes(), policy=policy.default
    )
    assert access["To"] == "nguyen.van.an@example.com"
    assert any(
        p.get_filename() and p.get_filename().endswith(".zip") for p in access.iter_attachments()
    )
    erase = Path(kinds["erase"]["reply_eml"]).read_bytes()
    assert b"reply" in erase and len(list(Path(result["outbox_dir"]).glob("*.eml"))) >= 8
    answer = message_from_bytes(
        Path(kinds["complaint"]["reply_eml"]).read_bytes(), policy=policy.default
    )
    assert answer["To"] == "nguyen.van.an@example.com" and "khiếu nại" in str(answer["Subject"])
    assert _embedded_servers(tmp_path / "var") == []
