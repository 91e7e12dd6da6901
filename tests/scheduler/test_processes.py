"""Two ``dsr scheduler`` processes against one Redis: one leads, the other takes over on SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import redis
import yaml

from config.settings import CONFIG_DIR
from dsr.core.ledger.db import migrate

DSR = str(Path(sys.executable).parent / "dsr")
TTL = 2.0


@pytest.fixture
def env(tmp_path: Path, redis_url: str) -> Iterator[dict[str, str]]:
    """Environment of two scheduler processes: a shared ledger, Redis and a short lock ttl."""
    document = yaml.safe_load((CONFIG_DIR / "retention.yaml").read_text("utf-8"))
    document.update(
        leader_ttl_seconds=TTL,
        schedule={
            "sweep": "0 2 1 * *",
            "watchdog": "10 2 1 * *",
            "redrive": "20 2 1 * *",
            "cleanup": "30 2 1 * *",
            "index": "40 2 1 * *",
        },
    )
    retention_file = tmp_path / "retention.yaml"
    retention_file.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    migrate(ledger)
    namespace = f"dsr-test-proc-{uuid.uuid4().hex[:8]}"
    yield {
        **os.environ,
        "DSR_DATABASE_URL": ledger,
        "DSR_REDIS_URL": redis_url,
        "DSR_BROKER_NAMESPACE": namespace,
        "DSR_RETENTION_FILE": str(retention_file),
        "DSR_VAR_DIR": str(tmp_path / "var"),
        "DSR_DATA_DIR": str(tmp_path / "data"),
    }
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{namespace}:*"):
        client.delete(key)
    client.close()


def _holder(client: redis.Redis, key: str, timeout: float) -> int:
    """The pid named by the lock's token, once there is one."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        token = client.get(key)
        if token:
            return int(cast(bytes, token).decode().split(":")[1])
        time.sleep(0.02)
    raise AssertionError("no scheduler took the lock")


def test_second_scheduler_takes_over_when_the_leader_is_killed(env: dict[str, str]) -> None:
    """SIGKILL the leading process: the other leads within the lock's expiry; SIGTERM frees it."""
    procs = {}
    for _ in range(2):
        p = subprocess.Popen(
            [DSR, "scheduler"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs[p.pid] = p
    client = redis.Redis.from_url(env["DSR_REDIS_URL"])
    key = f"{env['DSR_BROKER_NAMESPACE']}:scheduler:leader"
    try:
        leader = _holder(client, key, timeout=30)
        assert leader in procs
        procs[leader].send_signal(signal.SIGKILL)
        procs[leader].wait()
        died = time.monotonic()
        (survivor,) = set(procs) - {leader}
        while _holder(client, key, timeout=TTL * 2) != survivor:
            assert time.monotonic() - died < TTL + TTL / 5 + 1.0, "no takeover in time"
            time.sleep(0.02)
        procs[survivor].send_signal(signal.SIGTERM)
        _, err = procs[survivor].communicate(timeout=20)
        assert procs[survivor].returncode == 0, err
        assert client.get(key) is None  # released on a clean stop
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        client.close()
