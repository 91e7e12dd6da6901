"""Notices to the partners that received the data (issue 16), read from a real SMTP server.

The demo's delivery partners have notice addresses in ``config/connectors.yaml``; the seeded
subject's delivered order DH00000001 went with GHN, the pending DH00000002 with Viettel Post.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import sqlalchemy as sa
import yaml
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from config.settings import CONFIG_DIR
from demo import smtp_sink
from demo.seed import DEMO_NEW_PHONE, DEMO_SUBJECT, DEMO_WORK_EMAIL, seed, store_paths
from demo.smtp_sink import MailSink
from demo.stores import stamp
from dsr.core.intake import filing
from dsr.core.ledger import audit
from dsr.core.ledger.db import get_engine, migrate, session_scope, units_of_work
from dsr.core.ledger.models import Notice, Request
from dsr.core.pipeline import tasks
from dsr.core.pipeline.runner import drain
from dsr.core.replies import webhook
from dsr.core.runtime import deadlines
from dsr.core.runtime.process import Runtime
from tests import services
from tests.e2e.conftest import Pipeline, make_settings, until

EMAIL = DEMO_SUBJECT["email"]
GHN = "baomat@ghn.example.net"
VIETTEL = "privacy@viettelpost.example.net"
NEW_ADDRESS = "1 Lê Lợi, Huế"
SECRET = "viettel-webhook-secret-0123456789"


@dataclass
class RefusingSink(MailSink):
    """The test SMTP server, refusing (550) the addresses in ``refuse`` at RCPT time."""

    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(  # aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[RefusingSink]:
    """A real aiosmtpd server that can refuse chosen recipients (overrides the shared one)."""
    sink = RefusingSink(port=smtp_sink.free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    yield sink
    controller.stop()


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def _mails(p: Pipeline | MailSink, request_id: str, purpose: str) -> list[EmailMessage]:
    sink = p.smtp if isinstance(p, Pipeline) else p
    prefix = f"<{request_id}.{purpose}@"
    return [r.message for r in sink.messages() if str(r.message["Message-ID"]).startswith(prefix)]


def _one(p: Pipeline, request_id: str, purpose: str) -> EmailMessage:
    found = _mails(p, request_id, purpose)
    assert len(found) == 1, f"{purpose}: expected one message, got {len(found)}"
    return found[0]


def _notices(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["recipient_id"]: n for n in data["notices"]}


def test_rectify_tells_each_partner_its_orders_and_the_new_details(pipeline: Pipeline) -> None:
    """Rectify: one notice per partner with only its own order numbers and the new values,
    sent before the reply, which names them with the day they were told."""
    rid = pipeline.submit(
        "rectify", EMAIL, changes={"phone": DEMO_NEW_PHONE, "address": NEW_ADDRESS}
    )
    data = pipeline.wait(rid)
    ghn, viettel = _one(pipeline, rid, "notice-ghn-1"), _one(pipeline, rid, "notice-viettel_post-1")
    assert ghn["To"] == GHN and viettel["To"] == VIETTEL
    ghn_text, viettel_text = _text(ghn), _text(viettel)
    assert "DH00000001" in ghn_text and "DH00000002" not in ghn_text
    assert "DH00000002" in viettel_text and "DH00000001" not in viettel_text
    for text in (ghn_text, viettel_text):
        assert NEW_ADDRESS in text and "+84903111222" in text
        # Nothing about the subject beyond what the partner holds, at its new value.
        for private in (EMAIL, DEMO_WORK_EMAIL, DEMO_SUBJECT["name"], "+84912345678", "345 678"):
            assert private not in text
        assert "chỉnh sửa" in text and rid in text
    assert "đã hoàn tất" in ghn_text and "đã cập nhật" in viettel_text  # delivered vs. open
    order = [str(r.message["Message-ID"]).split("@")[0] for r in pipeline.smtp.messages()]
    reply_at = order.index(f"<{rid}.reply")
    assert order.index(f"<{rid}.notice-ghn-1") < reply_at
    assert order.index(f"<{rid}.notice-viettel_post-1") < reply_at
    notices = _notices(data)
    assert {k: (n["status"], n["records"]) for k, n in notices.items()} == {
        "ghn": ("sent", 1),
        "viettel_post": ("sent", 1),
    }
    assert notices["ghn"]["recipient"] == "Giao Hàng Nhanh (GHN)" and notices["ghn"]["sent_at"]
    reply = _text(_one(pipeline, rid, "reply"))
    told = reply.split("Các bên thứ ba đã nhận dữ liệu của bạn:")[1]
    assert "Giao Hàng Nhanh (GHN): đã được chúng tôi thông báo ngày" in told
    assert "Viettel Post: đã được chúng tôi thông báo ngày" in told
    assert "sẽ được chúng tôi thông báo" not in reply


def test_rectify_acknowledgement_gives_the_third_party_period(pipeline: Pipeline) -> None:
    """Partners must act on an address change: 15 days (vn), said in the acknowledgement;
    an e-mail change no partner holds keeps the 10-day period and names no one."""
    moved = pipeline.submit("rectify", EMAIL, changes={"address": NEW_ADDRESS})
    renamed = pipeline.submit("rectify", EMAIL, changes={"email": "an.moi@example.com"})
    for rid, third_party in ((moved, True), (renamed, False)):
        data = pipeline.wait(rid)
        with Session(get_engine(pipeline.rt.db_url)) as session:
            request = session.get(Request, rid)
            assert request is not None
            expected = deadlines.compute(
                "rectify", "vn", request.received_at, pipeline.rt.profiles, third_party=third_party
            )
        assert data["due_at"] == expected.due_at.isoformat().replace("+00:00", "Z")
        ack = _text(_one(pipeline, rid, "acknowledgement"))
        assert ("Giao Hàng Nhanh (GHN), Viettel Post" in ack) is third_party
        assert ("bên thứ ba" in ack) is third_party
    assert {n["status"] for n in pipeline.status(renamed)["notices"]} == {"not_needed"}


def deliver_open_order(p: Pipeline) -> None:
    """The demo subject's open order DH00000002 is delivered (the shop's own update)."""
    orders = sa.create_engine(f"sqlite:///{store_paths(p.rt.settings.resolved_data_dir)['orders']}")
    with orders.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE orders SET status = 'delivered', updated_at = :now "
                "WHERE order_no = 'DH00000002'"
            ),
            {"now": stamp()},
        )
    orders.dispose()


def test_erase_tells_each_partner_to_erase_its_orders(pipeline: Pipeline) -> None:
    """Erase: each partner is told which of its orders to erase; the certificate says so."""
    # DH00000002 has been delivered meanwhile: an open order would be deferred, not erased.
    deliver_open_order(pipeline)
    rid = pipeline.submit("erase", EMAIL, phone=DEMO_SUBJECT["phone"])
    data = pipeline.wait(rid)
    ghn = _text(_one(pipeline, rid, "notice-ghn-1"))
    viettel = _text(_one(pipeline, rid, "notice-viettel_post-1"))
    assert "DH00000001" in ghn and "DH00000002" in viettel
    for text in (ghn, viettel):
        assert "xóa dữ liệu cá nhân đã nhận" in text and "ẩn danh hóa" in text
        assert EMAIL not in text and DEMO_SUBJECT["name"] not in text
    assert {n["status"] for n in data["notices"]} == {"sent"}
    certificate = _text(_one(pipeline, rid, "reply"))
    assert "Viettel Post: đã được chúng tôi thông báo ngày" in certificate
    again = pipeline.submit("erase", EMAIL, phone=DEMO_SUBJECT["phone"])
    second = pipeline.wait(again)
    assert {n["status"] for n in second["notices"]} == {"not_needed"}  # nothing left to tell
    assert not _mails(pipeline, again, "notice-ghn-1")


def test_partner_refusal_waits_for_ops_then_retry_completes(
    pipeline: Pipeline, smtp: RefusingSink
) -> None:
    """A partner's 550: no retries, ops alerted, no reply; once fixed, `retry` completes it."""
    from workers.actors import enqueue

    smtp.refuse.add(VIETTEL)
    rid = pipeline.submit("rectify", EMAIL, changes={"address": NEW_ADDRESS})
    data = pipeline.wait(rid, "needs_attention")
    notices = _notices(data)
    assert notices["viettel_post"]["status"] == "failed"
    assert "550" in (notices["viettel_post"]["error"] or "")
    assert "viettel_post" in (data["attention"] or "")
    until(lambda: _mails(pipeline, rid, "ops-notice_failed-viettel_post-1"))
    assert _mails(pipeline, rid, "notice-ghn-1") and not _mails(pipeline, rid, "reply")
    smtp.refuse.clear()
    with session_scope(pipeline.rt.db_url) as session:
        follow = tasks.retry(session, pipeline.rt, rid, by="ops")
    enqueue(follow)
    done = pipeline.wait(rid)
    assert _notices(done)["viettel_post"]["attempt"] == 2
    assert _one(pipeline, rid, "notice-viettel_post-2")["To"] == VIETTEL
    assert len(_mails(pipeline, rid, "notice-ghn-1")) == 1  # GHN is not told twice
    assert "Viettel Post: đã được chúng tôi thông báo" in _text(_one(pipeline, rid, "reply"))


@contextmanager
def _running(tmp_path: Path, db_url: str, sink: MailSink, **extra: Any) -> Iterator[Pipeline]:
    """The pipeline fixture's set-up with other settings (a changed connectors file)."""
    services.redis_url_or_skip()
    from workers import runtime
    from workers.broker import broker

    settings = make_settings(tmp_path, db_url, sink.port, **extra)
    seed(settings.resolved_data_dir, 50, secret_key=settings.keys.suppression, reset=True)
    rt = Runtime(settings)
    migrate(rt.db_url)
    runtime.set_runtime(rt)
    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        yield Pipeline(rt, sink, worker)
    finally:
        worker.stop()
        broker.flush_all()
        runtime.set_runtime(None)
        rt.close()


def _connectors_file(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    document = yaml.safe_load((CONFIG_DIR / "connectors.yaml").read_text("utf-8"))
    viettel = next(r for r in document["recipients"] if r["id"] == "viettel_post")
    change(viettel)
    path = tmp_path / "connectors.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    return path


def test_partner_without_contact_waits_for_ops(
    tmp_path: Path, postgres_url: str, smtp: RefusingSink
) -> None:
    """No address configured for a partner: the others are told, the request needs attention,
    and no reply claims that partner was told."""
    cfg = _connectors_file(tmp_path, lambda r: r.pop("email"))
    with _running(tmp_path, postgres_url, smtp, connectors_file=cfg) as p:
        rid = p.submit("rectify", EMAIL, changes={"address": NEW_ADDRESS})
        data = p.wait(rid, "needs_attention")
        assert _notices(data)["viettel_post"]["status"] == "no_contact"
        assert "no email or webhook" in (data["attention"] or "")
        until(lambda: _mails(p, rid, "notice-ghn-1"))
        until(lambda: _mails(p, rid, "ops-notice_no_contact-viettel_post-1"))
        assert not _mails(p, rid, "reply")


@dataclass
class Hook:
    """What a local HTTP server received, and the status it answers with."""

    status: int = 204
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@contextmanager
def _webhook_server(hook: Hook) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's hook name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(hook.status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/dsr/notices"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status", [204, 410])
def test_webhook_notice_is_signed_and_a_refusal_needs_attention(
    tmp_path: Path, postgres_url: str, smtp: RefusingSink, status: int
) -> None:
    """A webhook partner gets a JSON notice whose HMAC-SHA256 signature checks with its
    secret; a 4xx answer is a refusal: needs_attention, not retried."""
    hook = Hook(status=status)
    with _webhook_server(hook) as url:

        def to_webhook(r: dict[str, Any]) -> None:
            r.pop("email")
            r["webhook"] = {"url": url}

        cfg = _connectors_file(tmp_path, to_webhook)
        secrets = {"viettel_post": SECRET}
        with _running(
            tmp_path, postgres_url, smtp, connectors_file=cfg, webhook_secrets=secrets
        ) as p:
            rid = p.submit("rectify", EMAIL, changes={"address": NEW_ADDRESS})
            data = p.wait(rid, "completed" if status < 300 else "needs_attention")
    assert len(hook.received) == 1
    headers, body = hook.received[0]
    sent_at = headers["x-dsr-timestamp"]
    assert abs(time.time() - int(sent_at)) < 120
    signed = sent_at.encode() + b"." + body
    expected = "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-dsr-signature"], expected)
    # What the README gives recipients: fresh notices pass; the same bytes later do not.
    assert webhook.verify(SECRET, body, sent_at, headers["x-dsr-signature"])
    replayed = int(sent_at) + webhook.FRESHNESS_SECONDS + 1
    assert not webhook.verify(SECRET, body, sent_at, headers["x-dsr-signature"], now=replayed)
    assert not webhook.verify(SECRET, body + b" ", sent_at, headers["x-dsr-signature"])
    assert headers["x-dsr-delivery"] == f"<{rid}.notice-viettel_post-1@example.com>"
    notice = json.loads(body)
    assert notice["type"] == "dsr.notice.rectify" and notice["new_values"] == {
        "address": NEW_ADDRESS
    }
    assert [r["references"] for r in notice["records"]] == [["DH00000002"]]
    assert EMAIL not in body.decode()
    viettel = _notices(data)["viettel_post"]
    assert viettel["channel"] == "webhook"
    assert viettel["status"] == ("sent" if status < 300 else "failed")


@pytest.mark.parametrize("kind", ["rectify", "erase"])
def test_every_step_twice_gives_one_notice_each(
    tmp_path: Path, postgres_url: str, smtp: RefusingSink, kind: str
) -> None:
    """Each step executed twice (a duplicate delivery) still sends each partner one notice."""
    settings = make_settings(tmp_path, postgres_url, smtp.port)
    seed(settings.resolved_data_dir, 30, secret_key=settings.keys.suppression, reset=True)
    rt = Runtime(settings)
    migrate(rt.db_url)
    changes = {"address": NEW_ADDRESS} if kind == "rectify" else {}
    with session_scope(rt.db_url) as session:
        request, queue = filing.submit(
            session,
            rt,
            filing.validate(
                rt, filing.Submission(kind, EMAIL, changes=changes, verified=True, by="t")
            ),
        )
    drain(units_of_work(rt.db_url), rt, queue, times=2)
    with Session(get_engine(rt.db_url)) as session:
        final = session.get(Request, request.id)
        assert final is not None and final.status == "completed"
        rows = session.exec(select(Notice).where(Notice.request_id == request.id)).all()
        # Viettel Post's only order is still open: an erasure defers it, so it is told nothing
        # yet (a rectify changes the open order, so it is told then).
        viettel = "sent" if kind == "rectify" else "not_needed"
        assert sorted((n.recipient, n.status) for n in rows) == [
            ("ghn", "sent"),
            ("viettel_post", viettel),
        ]
        assert audit.verify(session).ok
    told = ["notice-viettel_post-1"] if kind == "rectify" else []
    for purpose in ("notice-ghn-1", *told, "reply"):
        assert len(_mails(smtp, request.id, purpose)) == 1, purpose
    rt.close()
