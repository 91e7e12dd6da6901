"""Stores as they are: a shop's own tables (no shadow columns), e-mails and phones as people
typed them, end to end on real servers (PostgreSQL ledger, Redis and a dramatiq worker, aiosmtpd).

Access finds every row in every spelling, and a copy of the address in capitals in another
table is the same account (no review). An erasure proves itself: the same search runs again,
and what it still reaches is explained. With an
anonymisation that forgets the customer's e-mail, the search after the erasure still reaches
the customer by the subject's address: the request waits in needs_attention with an ops alert,
and the subject gets no certificate. With the address anonymised too, the request completes and
the certificate says what remains (customer and orders, kept under the accounting law and
reachable by customer number only).
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import pytest
import sqlalchemy as sa

from demo.smtp_sink import MailSink
from dsr.core.intake import filing
from dsr.core.ledger.db import migrate, session_scope
from dsr.core.pipeline import tasks
from dsr.core.runtime.process import Runtime
from tests import services
from tests.e2e.conftest import make_settings, request_status, until

EMAIL = "le.van.cuong@example.vn"
CONFIG = """
connectors:
  - name: shop
    kind: sql
    url: "sqlite:///{db}"
    labels: {{vi: "Cửa hàng", en: "Shop"}}
    tables:
      - name: shop_customer
        key: id_customer
        match: {{email: email, customer_id: id_customer, phone: phone}}
        provides: {{customer_id: id_customer, phone: phone}}
        owner: [customer_id, email]
        changed_at: date_upd
        erase:
          mode: anonymise
          columns: {{{columns}}}
          legal_basis: "Luật Kế toán 2015, Điều 41"
      - name: shop_orders
        key: id_order
        match: {{customer_id: id_customer, email: customer_email}}
        owner: [customer_id, email]
        owner_rule: first
        changed_at: date_upd
        erase:
          mode: anonymise
          columns: {{delivery_address: redact, customer_email: "null"}}
          legal_basis: "Luật Kế toán 2015, Điều 41"
          retention: {{years: 10, from: date_add}}
      - name: shop_thread
        key: id_thread
        match: {{email: email, phone: [phone, caller]}}
        owner: [email]
        erase: {{mode: delete}}
"""
FORGETS_EMAIL = "firstname: redact"
COMPLETE = "firstname: redact, email: 'null', phone: 'null'"


def _shop(path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE shop_customer (id_customer INTEGER PRIMARY KEY, "
                "email VARCHAR(128), phone VARCHAR(32), firstname VARCHAR(64), date_upd DATETIME)"
            )
        )
        conn.execute(
            sa.text(
                "CREATE TABLE shop_orders (id_order INTEGER PRIMARY KEY, id_customer INTEGER, "
                "customer_email VARCHAR(128), delivery_address VARCHAR(255), "
                "date_add DATETIME, date_upd DATETIME)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO shop_customer VALUES "
                "(1, ' Le.Van.Cuong@Example.VN ', '(+84) 903 111 222', 'Cường', '2026-01-02'),"
                "(2, 'tran.thi.mai@example.vn', '0912-345-678', 'Mai', '2026-01-02')"
            )
        )
        conn.execute(
            sa.text(
                "CREATE TABLE shop_thread (id_thread INTEGER PRIMARY KEY, email VARCHAR(128), "
                "phone VARCHAR(32), caller VARCHAR(64), message TEXT)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO shop_thread VALUES "
                "(20, 'LE.VAN.CUONG@EXAMPLE.VN', NULL, NULL, 'Đơn hàng giao chậm'),"
                "(21, NULL, '0903.111.222', NULL, 'Gọi lại giúp tôi'),"
                "(22, NULL, NULL, '\"Cuong\" <+84 903 111 222>', 'Cuộc gọi nhỡ'),"
                "(23, 'tran.thi.mai@example.vn', '0912 345 678', NULL, 'Hỏi về hoá đơn')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO shop_orders VALUES "
                "(10, 1, 'LE.VAN.CUONG@EXAMPLE.VN', '12 Lý Thường Kiệt', '2026-02-01', "
                "'2026-02-01'),"
                "(11, 2, 'tran.thi.mai@example.vn', '3 Hàng Bài', '2026-02-03', '2026-02-03')"
            )
        )
    return engine


def _runtime(tmp_path: Path, db_url: str, smtp_port: int, columns: str) -> Runtime:
    cfg = tmp_path / f"connectors-{time.monotonic_ns()}.yaml"
    cfg.write_text(CONFIG.format(db=tmp_path / "shop.db", columns=columns))
    return Runtime(make_settings(tmp_path, db_url, smtp_port, connectors_file=cfg))


def _submit(rt: Runtime, kind: str) -> str:
    from workers.actors import enqueue

    with session_scope(rt.db_url) as session:
        request, follow = filing.submit(
            session, rt, filing.validate(rt, filing.Submission(kind, EMAIL, verified=True, by="t"))
        )
    enqueue(follow)
    return request.id


@pytest.fixture
def shop(tmp_path: Path, postgres_url: str, smtp: MailSink) -> Iterator[tuple[Runtime, sa.Engine]]:
    """The shop's store, a runtime on it and a running dramatiq worker."""
    services.redis_url_or_skip()
    from workers import runtime
    from workers.broker import broker

    engine = _shop(tmp_path / "shop.db")
    rt = _runtime(tmp_path, postgres_url, smtp.port, FORGETS_EMAIL)
    migrate(rt.db_url)
    runtime.set_runtime(rt)
    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    yield rt, engine
    worker.stop()
    broker.flush_all()
    runtime.set_runtime(None)
    rt.close()
    engine.dispose()


def test_access_finds_every_spelling_and_one_account(
    shop: tuple[Runtime, sa.Engine], smtp: MailSink
) -> None:
    """A lower-case request finds the customer, the order with the address in capitals and the
    thread rows reached by the phone in three spellings; nothing waits for review."""
    rt, _ = shop
    request_id = _submit(rt, "access")
    until(lambda: request_status(rt, request_id) in ("completed", "needs_review"))
    assert request_status(rt, request_id) == "completed"
    reply = until(lambda: [m for m in smtp.to(EMAIL) if ".reply@" in m["Message-ID"]])[0]
    bundle = next(p for p in reply.iter_attachments() if p.get_filename().endswith(".zip"))
    with zipfile.ZipFile(io.BytesIO(bundle.get_content())) as zipped:
        found = {
            name: json.loads(zipped.read(name))
            for name in zipped.namelist()
            if name.endswith(".json") and "/shop/" in f"/{name}"
        }
    ids = {
        table.rsplit("/", 1)[-1]: sorted(
            next(v for k, v in row.items() if k.startswith("id_")) for row in rows
        )
        for table, rows in found.items()
    }
    assert ids == {
        "shop_customer.json": [1],
        "shop_orders.json": [10],
        "shop_thread.json": [20, 21, 22],
    }


def test_an_erasure_that_leaves_the_address_reachable_is_not_certified(
    shop: tuple[Runtime, sa.Engine], tmp_path: Path, postgres_url: str, smtp: MailSink
) -> None:
    """The customer row keeps the address as typed: needs_attention, ops alerted, no
    certificate; anonymising the address too and retrying completes it with what remains."""
    from workers import runtime
    from workers.actors import enqueue

    rt, store = shop
    request_id = _submit(rt, "erase")
    until(lambda: request_status(rt, request_id) == "needs_attention")
    alert = until(
        lambda: [m for m in smtp.to(rt.settings.ops_email) if "connector_failed" in m["Message-ID"]]
    )
    assert EMAIL not in alert[0].as_string().lower()
    assert not [m for m in smtp.to(EMAIL) if ".reply@" in m["Message-ID"]]
    with store.connect() as conn:
        left = conn.execute(sa.text("SELECT email FROM shop_customer WHERE id_customer = 1"))
        assert left.scalar() == " Le.Van.Cuong@Example.VN "  # what the check caught

    fixed = _runtime(tmp_path, postgres_url, smtp.port, COMPLETE)
    runtime.set_runtime(fixed)
    with session_scope(fixed.db_url) as session:
        enqueue(tasks.retry(session, fixed, request_id, by="ops"))
    until(lambda: request_status(fixed, request_id) == "completed")
    replies = [m for m in smtp.to(EMAIL) if ".reply@" in m["Message-ID"]]
    assert len(replies) == 1
    body = replies[0].get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "searching again with every detail" in text or "tìm lại với mọi thông tin" in text
    assert "kept under a legal duty" in text or "lưu giữ theo nghĩa vụ pháp lý" in text
    with store.connect() as conn:
        order = conn.execute(
            sa.text("SELECT customer_email, delivery_address FROM shop_orders ORDER BY 1")
        ).all()
        assert (None, "[đã xoá]") in order
        assert ("tran.thi.mai@example.vn", "3 Hàng Bài") in order  # another customer's
        customer = conn.execute(sa.text("SELECT email, phone FROM shop_customer"))
        assert customer.all() == [(None, None), ("tran.thi.mai@example.vn", "0912-345-678")]
    with store.connect() as conn:
        threads = conn.execute(sa.text("SELECT id_thread FROM shop_thread")).scalars().all()
        assert threads == [23]  # every spelling of the subject's went; Mai's stayed
    fixed.close()
