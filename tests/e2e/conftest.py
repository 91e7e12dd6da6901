"""A running pipeline on real servers: PostgreSQL ledger, Redis broker, aiosmtpd, dramatiq."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from sqlmodel import Session

from config.settings import Settings
from demo.seed import seed
from demo.smtp_sink import MailSink
from dsr.core.intake import filing
from dsr.core.intake.views import request_json
from dsr.core.ledger.db import get_engine, migrate
from dsr.core.ledger.models import Request
from dsr.core.runtime.process import Runtime
from tests import services


@dataclass
class Pipeline:
    rt: Runtime
    smtp: MailSink
    worker: Any

    def submit(self, kind: str, email: str, **kw: Any) -> str:
        from workers.actors import enqueue

        kw.setdefault("verified", True)
        kw.setdefault("by", "test-staff")
        with Session(get_engine(self.rt.db_url), expire_on_commit=False) as session:
            request, follow = filing.submit(
                session, self.rt, filing.validate(self.rt, filing.Submission(kind, email, **kw))
            )
            session.commit()
        enqueue(follow)
        return request.id

    def status(self, request_id: str) -> dict[str, Any]:
        with Session(get_engine(self.rt.db_url)) as session:
            request = session.get(Request, request_id)
            assert request is not None
            return request_json(session, request)

    def wait(self, request_id: str, *statuses: str, timeout: float = 60) -> dict[str, Any]:
        wanted = statuses or ("completed",)
        try:
            return until(lambda: (d := self.status(request_id))["status"] in wanted and d, timeout)
        except AssertionError:
            raise AssertionError(f"request stuck in {self.status(request_id)['status']}") from None


def until(probe: Any, timeout: float = 60) -> Any:
    """Poll ``probe`` until it returns something truthy (real servers take real time)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def request_status(rt: Runtime, request_id: str) -> str:
    with Session(get_engine(rt.db_url)) as session:
        request = session.get(Request, request_id)
        assert request is not None
        return request.status


def make_settings(tmp: Path, db_url: str, smtp_port: int, **extra: Any) -> Settings:
    # Most tests file staff-vouched requests to exercise the pipeline: one vouch is enough there
    # (tests of four eyes ask for it).
    extra.setdefault("vouch_policy", "single")
    return Settings(
        database_url=db_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        data_dir=tmp / "data",
        export_dir=tmp / "exports",
        var_dir=tmp / "var",
        task_min_backoff_ms=50,
        task_max_backoff_ms=200,
        **extra,
    )


@pytest.fixture
def pipeline(tmp_path: Path, postgres_url: str, smtp: MailSink) -> Iterator[Pipeline]:
    """Seeded demo stores, a PostgreSQL ledger and an in-process dramatiq worker."""
    services.redis_url_or_skip()
    from workers import runtime
    from workers.broker import broker

    settings = make_settings(tmp_path, postgres_url, smtp.port)
    seed(settings.resolved_data_dir, 50, secret_key=settings.keys.suppression, reset=True)
    rt = Runtime(settings)
    migrate(rt.db_url)
    runtime.set_runtime(rt)
    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    yield Pipeline(rt, smtp, worker)
    worker.stop()
    broker.flush_all()
    runtime.set_runtime(None)
    rt.close()
    get_engine(rt.db_url).dispose()
