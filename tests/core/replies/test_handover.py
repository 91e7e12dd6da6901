"""A message whose server answer was lost is re-sent, and the resend is counted (issue 23).

The SMTP server here keeps the message, then answers only after the client gave up waiting: the
server holds the message, the ledger cannot know it. The next attempt sends it again (a reply
is never dropped on a guess) and counts it in ``resends`` and ``dsr_duplicate_sends_total``.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from sqlmodel import Session

from config.settings import Settings
from dsr.core.ledger.db import get_engine, migrate, units_of_work
from dsr.core.ledger.models import Outbox, OutboxStatus
from dsr.core.replies import delivery
from dsr.errors import DeliveryError
from dsr.service.metrics import registry
from tests.core.replies.queued import queued, smtp_server


class _SlowToAnswer:
    """Keeps every message; the first answer comes after the client's timeout."""

    def __init__(self) -> None:
        self.received: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd hook
        self.received.append(envelope.content.decode(errors="replace"))
        if len(self.received) == 1:
            await asyncio.sleep(3)
        return "250 OK"


def test_a_resend_after_a_lost_answer_is_counted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    migrate(url)
    handler = _SlowToAnswer()
    try:
        with smtp_server(handler) as port:
            settings = Settings(
                database_url=url, smtp_host="127.0.0.1", smtp_port=port, smtp_timeout=1.0,
                var_dir=tmp_path / "var",
            )  # fmt: skip
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "privacy@example.com", "a@example.com", "reply"
            msg["Message-ID"] = "<r1.reply@example.com>"
            msg.set_content("your data")
            row = queued(url, tmp_path / "reply.eml", msg["Message-ID"], body=msg.as_bytes())
            uow = units_of_work(url)
            with pytest.raises(DeliveryError):
                delivery.deliver(uow, settings, row.id)  # handed over; the answer never came
            with Session(get_engine(url)) as session:
                lost = session.get(Outbox, row.id)
                assert lost is not None and lost.status == OutboxStatus.PENDING
                assert lost.handed_over_at is not None and lost.resends == 0
            delivery.deliver(uow, settings, row.id)
            with Session(get_engine(url)) as session:
                sent = session.get(Outbox, row.id)
                assert sent is not None and sent.status == OutboxStatus.SENT
                assert sent.resends == 1 and sent.handed_over_at is None
            assert len(handler.received) == 2  # the server holds it twice: counted, not hidden
            scraped = generate_latest(registry(url)).decode()
            assert 'dsr_duplicate_sends_total{purpose="reply"} 1.0' in scraped
    finally:
        get_engine(url).dispose()


def test_a_refused_message_is_not_counted_as_a_resend(tmp_path: Path) -> None:
    """The server answered (no): the hand-over is cleared, a later send is not a duplicate."""

    class _RefuseOnce:
        def __init__(self) -> None:
            self.calls = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            self.calls += 1
            return "451 4.3.0 try later" if self.calls == 1 else "250 OK"

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    migrate(url)
    handler = _RefuseOnce()
    try:
        with smtp_server(handler) as port:
            settings = Settings(database_url=url, smtp_host="127.0.0.1", smtp_port=port)
            row = queued(url, tmp_path / "m.eml", "<m@example.com>")
            uow = units_of_work(url)
            with pytest.raises(DeliveryError):
                delivery.deliver(uow, settings, row.id)
            delivery.deliver(uow, settings, row.id)
            with Session(get_engine(url)) as session:
                sent = session.get(Outbox, row.id)
                assert sent is not None and sent.status == OutboxStatus.SENT
                assert sent.resends == 0
    finally:
        get_engine(url).dispose()


def test_a_reply_never_overtakes_its_acknowledgement(tmp_path: Path) -> None:
    """The acknowledgement's first try is refused for now: the reply waits with it, then both
    go, the acknowledgement first."""

    class _AckRefusedOnce:
        def __init__(self) -> None:
            self.order: list[str] = []
            self.refused = False

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            text = envelope.content.decode(errors="replace")
            purpose = "ack" if "acknowledgement" in text else "reply"
            if purpose == "ack" and not self.refused:
                self.refused = True
                return "451 4.3.0 try later"
            self.order.append(purpose)
            return "250 OK"

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    migrate(url)
    handler = _AckRefusedOnce()
    try:
        with smtp_server(handler) as port:
            settings = Settings(database_url=url, smtp_host="127.0.0.1", smtp_port=port)
            request_id = "a" * 32
            ids = {
                purpose: queued(
                    url, tmp_path / f"{purpose}.eml", f"<{request_id}.{purpose}@example.com>",
                    purpose=purpose, request_id=request_id,
                ).id
                for purpose in ("acknowledgement", "reply")
            }  # fmt: skip
            uow = units_of_work(url)
            with pytest.raises(DeliveryError):
                delivery.deliver(uow, settings, ids["reply"])
            assert handler.order == []  # the reply did not go without its acknowledgement
            delivery.deliver(uow, settings, ids["reply"])
            assert handler.order == ["ack", "reply"]
    finally:
        get_engine(url).dispose()
