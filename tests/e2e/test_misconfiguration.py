"""Misconfiguration is loud: one ledger per broker namespace; a message without a row is kept."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlmodel import Session, select

from config.settings import Settings
from demo.smtp_sink import free_port
from dsr.core.ledger.db import get_engine, migrate
from dsr.core.ledger.models import Alert
from dsr.core.runtime.process import Runtime
from tests.e2e.conftest import Pipeline, until

DSR = str(Path(sys.executable).parent / "dsr")


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    """A broker namespace of this test's own, removed afterwards."""
    ns = f"dsr-test-misconf-{uuid.uuid4().hex[:8]}"
    yield ns
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{ns}:*"):
        client.delete(key)
    client.close()


@pytest.mark.parametrize(
    "command", [["worker"], ["scheduler"], ["api", "--port", str(free_port())]]
)
def test_process_on_another_ledger_refuses_to_run(
    tmp_path: Path, redis_url: str, namespace: str, command: list[str]
) -> None:
    """A worker, scheduler or API whose ledger is not the namespace's exits 3 with one line."""
    first = f"sqlite:///{tmp_path / 'first.db'}"
    env = {
        **os.environ,
        "DSR_REDIS_URL": redis_url,
        "DSR_BROKER_NAMESPACE": namespace,
        "DSR_VAR_DIR": str(tmp_path / "var"),
        "DSR_DATA_DIR": str(tmp_path / "data"),
    }
    from workers import fingerprint  # wires the test process's broker

    migrate(first)  # the namespace's own processes started first, on this ledger
    client = redis.Redis.from_url(redis_url)
    fingerprint.ensure(Runtime(Settings(database_url=first)), client, namespace)
    client.close()

    proc = subprocess.run(
        [DSR, *command],
        env={**env, "DSR_DATABASE_URL": f"sqlite:///{tmp_path / 'second.db'}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert "serves another ledger" in lines[-1] and not any("Traceback" in x for x in lines)
    get_engine(first).dispose()


def test_message_for_a_missing_row_is_dead_lettered_with_an_alert(
    pipeline: Pipeline, redis_url: str
) -> None:
    """A run-task message naming no task is not dropped: an alert row, and the dead letters."""
    from workers.actors import run_connector_task
    from workers.broker import broker

    missing = uuid.uuid4().hex
    run_connector_task.send(missing)

    def alerted() -> list[Alert]:
        with Session(get_engine(pipeline.rt.db_url)) as session:
            return list(session.exec(select(Alert).where(Alert.reason == "message_without_row")))

    (alert,) = until(alerted)
    assert alert.detail["object_id"] == missing
    assert alert.detail["actor"] == "run_connector_task"
    client = redis.Redis.from_url(redis_url)
    dead = list(client.scan_iter(f"{broker.namespace}:*XQ*"))
    assert dead, "the message is in the dead-letter queue"
    client.close()
