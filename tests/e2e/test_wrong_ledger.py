"""A ledger never serves another's messages, whatever Redis lost (issue 23, item 1).

Real `dsr worker` processes on a real Redis: the namespace's keys are wiped (what FLUSHALL or a
restart without persistence does to them; the shared server itself is never flushed), then a
worker pointed at another ledger (an empty SQLite path) is started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlmodel import Session, col, select

from demo.seed import seed
from demo.smtp_sink import MailSink
from dsr.core.intake import filing
from dsr.core.ledger.db import get_engine, migrate, session_scope
from dsr.core.ledger.models import Alert, Request
from dsr.core.runtime.process import Runtime
from tests import services
from tests.e2e.conftest import make_settings, until

EMAILS = [f"wrong-ledger-{i}@example.com" for i in range(10)]


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dsr", "worker", "--processes", "1", "--threads", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def _wipe(client: redis.Redis, namespace: str) -> None:
    """Every key of the namespace gone, as after FLUSHALL."""
    for key in client.scan_iter(f"{namespace}:*"):
        client.delete(key)


@pytest.fixture
def fleet(tmp_path: Path, postgres_url: str, smtp: MailSink) -> Iterator[dict[str, object]]:
    redis_url = services.redis_url_or_skip()
    from workers import runtime
    from workers.broker import broker

    settings = make_settings(tmp_path, postgres_url, smtp.port, redis_url=redis_url)
    seed(settings.resolved_data_dir, 20, secret_key=settings.keys.suppression, reset=True)
    rt = Runtime(settings)
    migrate(rt.db_url)
    runtime.set_runtime(rt)  # what this test sends carries the real ledger's id
    client = redis.Redis.from_url(redis_url)
    _wipe(client, broker.namespace)
    env = dict(
        os.environ,
        DSR_DATABASE_URL=postgres_url,
        DSR_REDIS_URL=redis_url,
        DSR_BROKER_NAMESPACE=broker.namespace,
        DSR_SMTP_HOST="127.0.0.1",
        DSR_SMTP_PORT=str(smtp.port),
        DSR_DATA_DIR=str(settings.resolved_data_dir),
        DSR_EXPORT_DIR=str(settings.resolved_export_dir),
        DSR_VAR_DIR=str(tmp_path / "var"),
        DSR_LOG_FORMAT="json",
    )
    yield {"rt": rt, "env": env, "client": client, "namespace": broker.namespace}
    _wipe(client, broker.namespace)
    client.close()
    runtime.set_runtime(None)
    rt.close()
    get_engine(rt.db_url).dispose()


def _file(rt: Runtime, emails: list[str]) -> list[str]:
    from workers.actors import enqueue

    ids = []
    for email in emails:
        with session_scope(rt.db_url) as session:
            request, follow = filing.submit(
                session,
                rt,
                filing.validate(rt, filing.Submission("access", email, verified=True, by="t")),
            )
        enqueue(follow)
        ids.append(request.id)
    return ids


def _statuses(rt: Runtime, ids: list[str]) -> dict[str, str]:
    with Session(get_engine(rt.db_url)) as session:
        rows = session.exec(select(Request).where(col(Request.id).in_(ids))).all()
        return {r.id: r.status for r in rows}


def _refused_in_one_line(proc: subprocess.Popen[bytes], log: Path) -> None:
    try:
        code = proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise
    assert code == 3, log.read_text()
    # Ours, beside the JSON log; dramatiq's own parent process adds "Worker with PID … exited".
    lines = [
        x
        for x in log.read_text().splitlines()
        if x.strip() and not x.startswith("{") and not x.startswith("Worker with PID")
    ]
    assert len(lines) == 1 and "another ledger" in lines[0], lines
    assert "Traceback" not in log.read_text()


def test_a_worker_on_another_ledger_never_takes_the_fleet_over(
    tmp_path: Path, fleet: dict[str, object]
) -> None:
    rt, env = fleet["rt"], fleet["env"]
    client, namespace = fleet["client"], fleet["namespace"]
    assert isinstance(rt, Runtime) and isinstance(env, dict)
    assert isinstance(client, redis.Redis) and isinstance(namespace, str)
    wrong_db = tmp_path / "wrong" / "ledger.db"
    wrong_db.parent.mkdir()
    wrong_env = {**env, "DSR_DATABASE_URL": f"sqlite:///{wrong_db}"}
    real = _worker(env, tmp_path / "real.log")
    wrong: subprocess.Popen[bytes] | None = None
    try:
        until(lambda: client.zcard(f"{namespace}:__heartbeats__"), timeout=120)  # consuming

        # 1. Redis loses its keys while the real fleet runs; a wrong worker starts: refused,
        #    before it creates anything, whoever came first.
        _wipe(client, namespace)
        wrong = _worker(wrong_env, tmp_path / "wrong1.log")
        _refused_in_one_line(wrong, tmp_path / "wrong1.log")
        assert not wrong_db.exists() and not any(wrong_db.parent.iterdir())
        first = _file(rt, EMAILS[:5])
        until(lambda: set(_statuses(rt, first).values()) == {"completed"}, timeout=180)

        # 2. Redis loses its keys while the real fleet is down and requests wait in the queue;
        #    the wrong worker starts first and takes the empty namespace, then meets a real
        #    message: it leaves it untouched for the real fleet and exits 3.
        _stop(real)
        _wipe(client, namespace)
        second = _file(rt, EMAILS[5:])
        wrong = _worker(wrong_env, tmp_path / "wrong2.log")
        _refused_in_one_line(wrong, tmp_path / "wrong2.log")
        real = _worker(env, tmp_path / "real2.log")  # its claim is older: put back, not lost
        until(lambda: set(_statuses(rt, second).values()) == {"completed"}, timeout=240)
        claim = client.get(f"{namespace}:ledger")
        assert claim is not None
        with Session(get_engine(rt.db_url)) as session:
            alerts = session.exec(select(Alert)).all()
        assert [a.reason for a in alerts] == []  # nothing was dead-lettered
        assert client.llen(f"{namespace}:dsr.XQ") == 0
        assert real.poll() is None  # the real fleet still runs
    finally:
        _stop(real)
        if wrong is not None:
            _stop(wrong)
