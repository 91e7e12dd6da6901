"""Many requests at once on many worker threads: every one completes, once, and the chain holds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import dramatiq
import sqlalchemy as sa
from sqlmodel import Session, select

from demo.seed import seed
from demo.smtp_sink import MailSink
from dsr.core.intake import filing
from dsr.core.ledger import audit
from dsr.core.ledger.db import get_engine, migrate, session_scope
from dsr.core.ledger.models import Request
from dsr.core.runtime.process import Runtime
from tests import services
from tests.e2e.conftest import make_settings, until

REQUESTS = 40


def test_concurrent_requests_all_complete_with_one_reply_each(
    tmp_path: Path, postgres_url: str, smtp: MailSink
) -> None:
    """Parallel tasks finishing together never lose fan-in, deadlock, or fork the audit chain."""
    services.redis_url_or_skip()
    from workers import runtime
    from workers.actors import enqueue
    from workers.broker import broker

    settings = make_settings(tmp_path, postgres_url, smtp.port)
    seed(settings.resolved_data_dir, 300, secret_key=settings.keys.suppression, reset=True)
    with sa.create_engine(f"sqlite:///{settings.resolved_data_dir / 'crm.db'}").connect() as c:
        emails = (
            c.execute(
                sa.text(  # the CRM keeps addresses as typed: one request per address
                    "select distinct lower(trim(email)) from customers where email "
                    f"is not null order by 1 limit {REQUESTS}"
                )
            )
            .scalars()
            .all()
        )
    rt = Runtime(settings)
    migrate(rt.db_url)
    runtime.set_runtime(rt)
    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_threads=8, worker_timeout=50)
    worker.start()
    try:
        ids = []
        for n, email in enumerate(emails):
            with session_scope(rt.db_url) as session:
                request, follow = filing.submit(
                    session,
                    rt,
                    filing.validate(
                        rt,
                        filing.Submission(
                            "erase" if n % 3 == 0 else "access", email, verified=True, by="t"
                        ),
                    ),
                )
            enqueue(follow)
            ids.append(request.id)
        with Session(get_engine(rt.db_url)) as session:
            until(
                lambda: (
                    session.exec(select(Request).where(Request.status == "completed"))
                    .all()
                    .__len__()
                    == len(ids)
                ),
                timeout=180,
            )
            assert audit.verify(session).ok
        replies = Counter(
            r.message["Message-ID"] for r in smtp.messages() if ".reply@" in r.message["Message-ID"]
        )
        assert len(replies) == len(ids) and set(replies.values()) == {1}
    finally:
        worker.stop()
        broker.flush_all()
        runtime.set_runtime(None)
        rt.close()
