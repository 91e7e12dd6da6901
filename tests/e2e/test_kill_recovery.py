"""A killed worker's work resumes within 60 s, with no scheduler running (issue 23, item 3).

A `dsr worker` takes a batch of requests and is SIGKILLed while it holds them; a second worker
is the only process left. Dramatiq's requeue of a dead worker's messages (heartbeat timeout and
maintenance) and the workers' own re-drive (at lease expiry) bring every request to completion.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
from sqlmodel import Session, col, select

from demo.seed import seed
from demo.smtp_sink import MailSink
from dsr.core.intake import filing
from dsr.core.ledger.db import get_engine, migrate, session_scope
from dsr.core.ledger.models import Request
from dsr.core.runtime.process import Runtime
from tests import services
from tests.e2e.conftest import make_settings, until


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dsr", "worker", "--processes", "1", "--threads", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def test_a_killed_workers_requests_complete_within_a_minute_without_scheduler(
    tmp_path: Path, postgres_url: str, smtp: MailSink
) -> None:
    redis_url = services.redis_url_or_skip()
    from workers import runtime
    from workers.actors import enqueue
    from workers.broker import broker

    settings = make_settings(tmp_path, postgres_url, smtp.port, redis_url=redis_url)
    seed(settings.resolved_data_dir, 20, secret_key=settings.keys.suppression, reset=True)
    rt = Runtime(settings)
    migrate(rt.db_url)
    runtime.set_runtime(rt)
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{broker.namespace}:*"):
        client.delete(key)
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
    first = _worker(env)
    second = None
    try:
        until(lambda: client.zcard(f"{broker.namespace}:__heartbeats__"), timeout=120)
        ids = []
        for n in range(8):
            with session_scope(rt.db_url) as session:
                request, follow = filing.submit(
                    session,
                    rt,
                    filing.validate(
                        rt,
                        filing.Submission("access", f"kill-{n}@example.com", verified=True, by="t"),
                    ),
                )
            ids.append(request.id)
            enqueue(follow)
        # Killed while it holds messages it fetched (the requests are not all done).
        until(lambda: list(client.scan_iter(f"{broker.namespace}:__acks__.*")), timeout=60)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        killed_at = time.monotonic()
        second = _worker(env)

        def done() -> bool:
            with Session(get_engine(rt.db_url)) as session:
                rows = session.exec(select(Request.status).where(col(Request.id).in_(ids))).all()
            return set(rows) == {"completed"}

        until(done, timeout=180)
        took = time.monotonic() - killed_at
        assert took < 60 + 15, f"recovered in {took:.0f} s"  # 15 s: a worker's start on 2 cores
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=60)
        for key in client.scan_iter(f"{broker.namespace}:*"):
            client.delete(key)
        client.close()
        runtime.set_runtime(None)
        rt.close()
        get_engine(rt.db_url).dispose()
