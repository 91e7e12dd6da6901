"""No ledger transaction is open while a store or the SMTP server is being talked to.

On the SQLite ledger every writer waits for the one open transaction, so a step that held one
across a slow store or SMTP server would stall every other request. Each test stalls the slow
part on purpose, proves the step is inside it (PostgreSQL shows the store query waiting on a
lock; the SMTP handler signals it holds the message), and then writes to the ledger with no
patience at all (busy timeout 0): that write must go through at once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from aiosmtpd.controller import Controller

from config.settings import CONFIG_DIR
from demo.smtp_sink import MailSink, free_port
from demo.stores import create_store, customers
from dsr.core.ledger.db import get_engine, migrate, units_of_work
from dsr.core.pipeline import runner
from dsr.core.replies import delivery
from dsr.core.runtime.process import Runtime
from tests.core.conftest import EMAIL, Core, core_settings


def _write_without_waiting(ledger: Path) -> None:
    """A second writer that gives up at once if any transaction holds the ledger."""
    conn = sqlite3.connect(ledger, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE requests SET late = late WHERE 1 = 0")
        conn.execute("COMMIT")
    finally:
        conn.close()


@pytest.fixture
def pg_crm(tmp_path: Path, postgres_url: str) -> Iterator[tuple[Path, str]]:
    """A CRM store on PostgreSQL holding the subject, and a connectors file naming only it."""
    engine = sa.create_engine(postgres_url)
    create_store(engine, "crm")
    with engine.begin() as conn:
        conn.execute(
            sa.insert(customers).values(
                customer_id="KH1",
                full_name="Nguyễn Văn An",
                email=EMAIL,
                status="active",
                created_at=sa.func.now(),
                last_activity_at=sa.func.now(),
            )
        )
    entries = yaml.safe_load((CONFIG_DIR / "connectors.yaml").read_text("utf-8"))["connectors"]
    crm = next(e for e in entries if e["name"] == "crm") | {"url": postgres_url}
    path = tmp_path / "connectors.yaml"
    path.write_text(yaml.safe_dump({"connectors": [crm]}, allow_unicode=True), "utf-8")
    yield path, postgres_url
    engine.dispose()


def test_a_slow_store_does_not_hold_the_ledger(
    tmp_path: Path, pg_crm: tuple[Path, str], smtp: MailSink
) -> None:
    """While the CRM store waits on a lock we hold, another writer gets the ledger at once."""
    connectors_file, store_url = pg_crm
    settings = core_settings(tmp_path, smtp.port, connectors_file=connectors_file)
    rt = Runtime(settings)
    migrate(rt.db_url)
    core = Core(rt, smtp)
    core.submit("access")
    (run,) = [s for s in core.take() if s.actor == "run_task"]
    blocker = sa.create_engine(store_url).connect()
    watcher = sa.create_engine(store_url, isolation_level="AUTOCOMMIT")
    outcome: list[Any] = []
    try:
        blocker.execute(sa.text("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE"))
        me = blocker.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        worker = threading.Thread(
            target=lambda: outcome.append(runner.execute(units_of_work(rt.db_url), rt, run))
        )
        worker.start()
        waiting = sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE :me = ANY(pg_blocking_pids(pid))"
        )
        with watcher.connect() as conn:
            while not conn.execute(waiting, {"me": me}).scalar():
                assert worker.is_alive(), outcome
        _write_without_waiting(Path(sa.make_url(rt.db_url).database or ""))
    finally:
        blocker.rollback()
        blocker.close()
        watcher.dispose()
    worker.join(timeout=60)
    assert outcome and outcome[0], "the task did not finish once the store answered"
    rt.close()
    get_engine(rt.db_url).dispose()


class StallingSink(MailSink):
    """An SMTP server that holds each message until told to accept it."""

    def __init__(self) -> None:
        super().__init__(port=free_port())
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook
        self.holding.set()
        while not self.release.is_set():  # aiosmtpd's loop runs in its own thread
            await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


def test_a_slow_smtp_server_does_not_hold_the_ledger(core: Core) -> None:
    """While the SMTP server holds a message, another writer gets the SQLite ledger at once."""
    sink = StallingSink()
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    rt = Runtime(core.rt.settings.model_copy(update={"smtp_port": sink.port}))
    try:
        core.rt = rt
        core.submit("access")
        ack = next(s for s in core.take() if s.actor == "deliver")
        worker = threading.Thread(
            target=lambda: delivery.deliver(units_of_work(rt.db_url), rt.settings, ack.id)
        )
        worker.start()
        assert sink.holding.wait(timeout=30), "the message never reached the SMTP server"
        _write_without_waiting(Path(sa.make_url(rt.db_url).database or ""))
        sink.release.set()
        worker.join(timeout=30)
        assert sink.received and EMAIL in sink.received[0].recipients
    finally:
        sink.release.set()
        controller.stop()
        rt.close()
