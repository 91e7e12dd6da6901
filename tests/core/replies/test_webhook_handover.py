"""A webhook notice goes through the same hand-over as an e-mail: a POST whose answer was lost
(the receiver kept it, answered after the timeout) is re-sent with the same X-DSR-Delivery,
and the resend is counted as a possible duplicate (issue 23)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from sqlmodel import Session

from config.settings import Settings
from dsr.core.ledger.db import get_engine, migrate, units_of_work
from dsr.core.ledger.models import Outbox, OutboxStatus
from dsr.core.replies import delivery
from dsr.errors import DeliveryError
from dsr.service.metrics import registry
from tests.core.replies.queued import queued


def test_a_webhook_post_whose_answer_was_lost_is_counted_when_resent(
    tmp_path: Path, postgres_url: str
) -> None:
    received: list[str] = []

    class _SlowFirst(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append(self.headers["X-DSR-Delivery"])
            if len(received) == 1:
                time.sleep(2.5)  # kept it; the answer comes after the sender gave up
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowFirst)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    migrate(postgres_url)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/dsr"
        settings = Settings(
            database_url=postgres_url, webhook_timeout=1.0, webhook_secrets={"crm": "s" * 32},
            var_dir=tmp_path / "var",
        )  # fmt: skip
        row = queued(
            postgres_url, tmp_path / "notice.json", "<n1.notice@example.com>",
            purpose="notice:crm:erase", recipient=url,
            body=b'{"delivery": "<n1.notice@example.com>"}',
        )  # fmt: skip
        uow = units_of_work(postgres_url)
        with pytest.raises(DeliveryError):
            delivery.deliver(uow, settings, row.id)  # posted; the answer never came
        delivery.deliver(uow, settings, row.id)
        assert received == ["<n1.notice@example.com>"] * 2  # the receiver can drop the second
        with Session(get_engine(postgres_url)) as session:
            sent = session.get(Outbox, row.id)
            assert sent is not None and sent.status == OutboxStatus.SENT
            assert sent.resends == 1 and sent.handed_over_at is None
        scraped = generate_latest(registry(postgres_url)).decode()
        assert 'dsr_duplicate_sends_total{purpose="notice"} 1.0' in scraped
    finally:
        server.shutdown()
        get_engine(postgres_url).dispose()
