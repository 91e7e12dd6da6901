"""Mail bombing through +tag aliases (issue 22, way 3), counted at a real SMTP server."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import pytest
from sqlmodel import Session, col, select

from demo.smtp_sink import MailSink
from dsr.core.ledger.db import get_engine, migrate
from dsr.core.ledger.models import Outbox, OutboxStatus
from dsr.core.runtime.process import Runtime
from dsr.mailbox import fold
from tests import services
from tests.api.conftest import csrf_of
from tests.e2e.conftest import make_settings, until

warnings.filterwarnings("ignore", message=".*install `httpx2`")
from fastapi.testclient import TestClient  # noqa: E402

from api import create_app  # noqa: E402

CAP = 10  # DSR_MAILBOX_DAILY_LIMIT's default


@pytest.fixture
def rt(tmp_path: Path, postgres_url: str, smtp: MailSink) -> Iterator[Runtime]:
    """A ledger, a worker that delivers to aiosmtpd, and Redis throttles loose enough that only
    the mailbox cap can stop the filings."""
    services.redis_url_or_skip()
    from api.throttle import forget
    from workers import runtime
    from workers.broker import broker

    settings = make_settings(
        tmp_path, postgres_url, smtp.port, privacy_address_limit=1000, privacy_client_limit=1000
    )
    runtime_ = Runtime(settings)
    migrate(runtime_.db_url)
    runtime.set_runtime(runtime_)
    broker.flush_all()
    forget(broker.client, settings.broker_namespace)
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    yield runtime_
    worker.stop()
    broker.flush_all()
    forget(broker.client, settings.broker_namespace)
    runtime.set_runtime(None)
    runtime_.close()
    get_engine(runtime_.db_url).dispose()


def _unsent(rt: Runtime) -> int:
    with Session(get_engine(rt.db_url)) as session:
        rows = session.exec(select(Outbox).where(col(Outbox.status) == OutboxStatus.PENDING))
        return len(list(rows))


def test_thirty_filings_with_aliases_deliver_at_most_the_cap(rt: Runtime, smtp: MailSink) -> None:
    """Thirty access requests for victim+1 … victim+30, from thirty clients: the mailbox gets
    at most DSR_MAILBOX_DAILY_LIMIT e-mails (main delivered sixty); the rest are refused with a
    clear reason and write nothing."""
    app = create_app(rt)
    statuses = []
    for n in range(1, 31):
        with TestClient(app, client=(f"198.51.100.{n}", 50000)) as visitor:
            page = visitor.get("/privacy/access")
            data = {"csrf": csrf_of(page.text), "email": f"victim+{n}@example.com", "website": ""}
            statuses.append(visitor.post("/privacy/access", data=data, follow_redirects=False))
    filed = [r for r in statuses if r.status_code == 303]
    assert len(filed) == CAP // 2  # an acknowledgement and a code each
    assert {r.status_code for r in statuses} == {303, 422}
    until(lambda: _unsent(rt) == 0, timeout=120)
    to_victim = [
        m for m in smtp.messages() if {fold(r) for r in m.recipients} == {"victim@example.com"}
    ]
    assert len(to_victim) <= CAP
    assert len(to_victim) == CAP  # what was filed was delivered
