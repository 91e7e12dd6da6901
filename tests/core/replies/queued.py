"""A message waiting in the outbox as the pipeline leaves one: its body on disk and a pending row
(where the delivery tests start), and a real SMTP server on a free port for a test's handler."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from demo.smtp_sink import free_port
from dsr.core.ledger.db import session_scope
from dsr.core.ledger.models import Outbox, OutboxStatus, utcnow


def queued(
    url: str,
    path: Path,
    message_id: str,
    *,
    purpose: str = "reply",
    recipient: str = "a@example.com",
    body: bytes | None = None,
    request_id: str | None = None,
) -> Outbox:
    """``body`` (default: a one-line e-mail carrying ``message_id``) at ``path``, pending."""
    path.write_bytes(
        body
        if body is not None
        else f"Subject: {purpose}\r\nMessage-ID: {message_id}\r\n\r\ndata\r\n".encode()
    )
    with session_scope(url) as session:
        row = Outbox(
            request_id=request_id, purpose=purpose, recipient=recipient, message_id=message_id,
            path=str(path), status=OutboxStatus.PENDING, created_at=utcnow(),
        )  # fmt: skip
        session.add(row)
    return row


@contextmanager
def smtp_server(handler: Any) -> Iterator[int]:
    """aiosmtpd answering with ``handler`` on 127.0.0.1; yields its port."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
