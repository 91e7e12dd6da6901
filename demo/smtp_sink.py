"""An in-process SMTP server (aiosmtpd) that keeps what it receives, for the demo and tests.

Each message is parsed and kept in memory; with a folder, it is also written there as ``.eml``.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from dsr.files import write_private


@dataclass
class Received:
    recipients: list[str]
    message: EmailMessage
    path: Path | None
    peer: tuple[str, int] | None = None  # the client's address: one per SMTP connection


@dataclass
class MailSink:
    """aiosmtpd handler: records every message (and saves it when ``folder`` is set)."""

    folder: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook
        raw: bytes = envelope.content
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        path = None
        with self._lock:
            if self.folder is not None:
                path = self.folder / f"{len(self.received) + 1:04d}-{_slug(msg)}.eml"
                write_private(path, raw)  # a subject's e-mail: 0600 in a 0700 folder
            peer = tuple(session.peer[:2]) if session.peer else None
            self.received.append(Received(list(envelope.rcpt_tos), msg, path, peer))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [r.message for r in self.received if address in r.recipients]

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)


def _slug(msg: EmailMessage) -> str:
    mid = str(msg.get("Message-ID", "message")).strip("<>").split("@")[0]
    return "".join(ch if ch.isalnum() or ch in ".-" else "-" for ch in mid)[:80]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(port: int | None = None, folder: Path | None = None) -> tuple[Controller, MailSink]:
    """Start a real SMTP server on 127.0.0.1 (a free port unless given)."""
    sink = MailSink(folder, port=port or free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    return controller, sink
