"""`dsr demo` (what `make demo` runs): everything embedded, four replies, nothing left running."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import psutil
import pytest


def _embedded_servers(var: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "redis-server" in cmd and str(var) in " ".join(p.path for p in _files(proc)):
            found.append(proc)
    return found


def _files(proc: psutil.Process) -> list:
    try:
        return proc.open_files()
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        return []


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """`dsr demo --json` run once, with no services configured; its result and var folder."""
    var = tmp_path_factory.mktemp("demo") / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}
    env["DSR_VAR_DIR"] = str(var)
    done = subprocess.run(
        [sys.executable, "-m", "dsr", "demo", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout), var


def test_demo_runs_each_kind_to_a_reply_and_cleans_up(demo: tuple[dict[str, Any], Path]) -> None:
    """With no services configured, the demo completes access, rectify, erase and a staff-answered
    complaint by e-mail."""
    result, var = demo
    kinds = {r["kind"]: r for r in result["requests"]}
    assert set(kinds) == {"access", "rectify", "erase", "complaint"}
    assert all(r["status"] == "completed" for r in result["requests"])
    access = message_from_bytes(
        Path(kinds["access"]["reply_eml"]).read_bytes(), policy=policy.default
    )
    assert access["To"] == "nguyen.van.an@example.com"
    assert any(
        (name := p.get_filename()) and name.endswith(".zip") for p in access.iter_attachments()
    )
    erase = Path(kinds["erase"]["reply_eml"]).read_bytes()
    assert b"reply" in erase and len(list(Path(result["outbox_dir"]).glob("*.eml"))) >= 8
    answer = message_from_bytes(
        Path(kinds["complaint"]["reply_eml"]).read_bytes(), policy=policy.default
    )
    assert answer["To"] == "nguyen.van.an@example.com" and "khiếu nại" in str(answer["Subject"])
    assert _embedded_servers(var) == []


def test_demo_erasure_finds_the_calls_under_the_rectified_phone(
    demo: tuple[dict[str, Any], Path],
) -> None:
    """The demo rectifies the subject's phone, then erases: the calls filed under the old
    number are found through the identity history and erased, recordings included; the open
    order is deferred; the earlier exports are gone."""
    result, var = demo
    kinds = {r["kind"]: r for r in result["requests"]}
    erase = kinds["erase"]
    assert {t["connector"]: t["records"] for t in erase["tasks"]}["recordings"] == 2
    assert ("phone", "former") in {(i["kind"], i["provenance"]) for i in erase["identifiers"]}
    archive = var / "data" / "recordings"
    with sqlite3.connect(archive / "cdr.db") as conn:
        left = conn.execute("SELECT uniqueid FROM cdr WHERE uniqueid LIKE 'CALL-DEMO-%'").fetchall()
    # The caller-only person's calls and recordings stay.
    assert sorted(u for (u,) in left) == ["CALL-DEMO-0003", "CALL-DEMO-0004"]
    monitor = archive / "monitor"
    assert monitor.is_dir() and not list(monitor.rglob("*-CALL-DEMO-000[12].wav"))
    assert len(list(monitor.rglob("*-CALL-DEMO-000[34].wav"))) == 2
    certificate = message_from_bytes(Path(erase["reply_eml"]).read_bytes(), policy=policy.default)
    body = certificate.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    recordings = text.split("Ghi âm cuộc gọi hỗ trợ")[1].split("\n\n")[0]
    assert "không tìm thấy dữ liệu" not in recordings
    assert "đơn hàng chưa giao" in text  # DH00000002 is still pending: deferred
    exports = var / "exports" / kinds["access"]["id"]
    assert not (exports / "bundle.zip").exists()
