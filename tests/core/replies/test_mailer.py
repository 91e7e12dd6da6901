"""The mailer keeps one SMTP connection per thread and opens a new one only when it must."""

from __future__ import annotations

import threading
from email.message import EmailMessage

import pytest

from config.settings import Settings
from demo import smtp_sink
from demo.smtp_sink import MailSink
from dsr.core.replies import mailer
from dsr.errors import DeliveryError


def _raw(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "privacy@example.com", "a@example.com", f"m{n}"
    msg.set_content(f"message {n}")
    return msg.as_bytes()


def _settings(port: int) -> Settings:
    return Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_timeout=5.0)


def test_one_thread_sends_every_message_over_one_connection(smtp: MailSink) -> None:
    """Ten messages from one worker thread arrive over a single SMTP connection."""
    settings = _settings(smtp.port)
    for n in range(10):
        mailer.send(_raw(n), recipient="a@example.com", settings=settings)
    peers = {r.peer for r in smtp.messages()}
    assert len(smtp.messages()) == 10 and len(peers) == 1


def test_each_thread_has_its_own_connection(smtp: MailSink) -> None:
    """Two threads never share a connection (an SMTP session carries one message at a time)."""
    settings = _settings(smtp.port)

    def send_three() -> None:
        for n in range(3):
            mailer.send(_raw(n), recipient="a@example.com", settings=settings)

    threads = [threading.Thread(target=send_three) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(smtp.messages()) == 6 and len({r.peer for r in smtp.messages()}) == 2


def test_a_restarted_server_is_reconnected_to() -> None:
    """The server went away and came back between two messages: the second still arrives."""
    controller, sink = smtp_sink.start()
    settings = _settings(sink.port)
    mailer.send(_raw(1), recipient="a@example.com", settings=settings)
    controller.stop()
    again, sink2 = smtp_sink.start(sink.port)
    try:
        mailer.send(_raw(2), recipient="a@example.com", settings=settings)
        assert [str(r.message["Subject"]) for r in sink2.messages()] == ["m2"]
    finally:
        again.stop()


def test_a_server_that_is_down_is_a_retriable_error() -> None:
    """No server listening: a DeliveryError (retried later), not a crash or a refusal."""
    with pytest.raises(DeliveryError) as caught:
        mailer.send(_raw(1), recipient="a@example.com", settings=_settings(smtp_sink.free_port()))
    assert type(caught.value) is DeliveryError
