"""Hand a rendered message to the SMTP server with aiosmtplib, over a connection kept open.

Each thread keeps one event loop and one SMTP connection and reuses them for every message
(opening a connection and a loop per message cost more than the message itself); a connection
the server dropped while idle is opened again once, transparently. After any failure the
connection is closed, so the next message starts on a clean one.

SMTP failures are mapped here, once: a 5xx reply (the recipient or the message refused for
good) is a DeliveryRefused, which ends retries at once; a 4xx reply, a refused connection
or a timeout is a DeliveryError, retried until the delivery give-up time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import aiosmtplib
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

from config.settings import Settings
from dsr.core.replies import window
from dsr.errors import DeliveryError, DeliveryRefused


@dataclass(frozen=True)
class _Server:
    host: str
    port: int
    username: str | None
    password: str | None
    starttls: bool
    timeout: float

    @classmethod
    def of(cls, settings: Settings) -> _Server:
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_username,
            settings.smtp_password,
            settings.smtp_starttls,
            settings.smtp_timeout,
        )


class Handover(Protocol):
    """The ledger's side of the last step of a message: ``before_end`` just before the last
    byte (the final dot) goes to the server, ``accepted`` as soon as it answers 250, ``abandon``
    when the attempt ends otherwise after ``before_end``."""

    def before_end(self) -> None: ...
    def accepted(self) -> None: ...
    def abandon(self, answered: bool) -> None: ...


async def _data(client: aiosmtplib.SMTP, raw: bytes, handover: Handover) -> None:
    """DATA as aiosmtplib sends it (``SMTPProtocol.execute_data_command``), with the message's
    body written before, and the final dot after, the hand-over is on record: the window in
    which the server may hold a message the ledger does not know it sent is the final dot's
    round trip and one COMMIT, the least SMTP allows."""
    protocol = client.protocol
    if protocol is None or protocol._command_lock is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    body = PERIOD_REGEX.sub(b"..", normalize_message_line_endings(raw))
    async with protocol._command_lock:
        protocol._response_pending = True
        protocol.write(b"DATA\r\n")
        start = await protocol.read_response(timeout=client.timeout)
        if start.code != 354:
            raise aiosmtplib.SMTPDataError(start.code, start.message)
        protocol.write(body)
        try:
            handover.before_end()
        except BaseException:
            # No final dot: drop the connection now, so the server discards the body (a QUIT
            # here would be read as more body, and wait out the timeout).
            client.close()
            raise
        try:
            protocol._response_pending = True
            dot = time.monotonic()
            protocol.write(b".\r\n")
            done = await protocol.read_response(timeout=client.timeout)
        except BaseException:
            handover.abandon(answered=False)  # the server may hold it: counted if re-sent
            raise
        if done.code != 250:
            handover.abandon(answered=True)
            raise aiosmtplib.SMTPDataError(done.code, done.message)
        answered = time.monotonic()
        handover.accepted()  # nothing else between the 250 and this
        recorded = time.monotonic()
    window.observed(1000 * (answered - dot), 1000 * (recorded - answered))


async def _transaction(
    client: aiosmtplib.SMTP, sender: str, recipient: str, raw: bytes, handover: Handover
) -> None:
    """MAIL, RCPT and DATA of one message (``SMTP.sendmail``'s steps, DATA split above)."""
    if client.is_ehlo_or_helo_needed:
        await client.ehlo()
    options = []
    if client.supports_extension("size"):
        options.append(f"size={len(normalize_message_line_endings(raw))}")
    try:
        await client.mail(sender, options=options)
        await client.rcpt(recipient)
        await _data(client, raw, handover)
    except aiosmtplib.SMTPResponseException:
        try:
            await client.rset()  # the next message starts on a clean envelope
        except (aiosmtplib.SMTPException, OSError):
            pass
        raise


class _Connection:
    """One thread's loop and SMTP client, opened on first use and whenever it was lost."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.client: aiosmtplib.SMTP | None = None
        self.server: _Server | None = None

    async def _open(self, server: _Server) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            timeout=server.timeout,
            start_tls=server.starttls,
        )
        await client.connect()
        if server.username:
            await client.login(server.username, server.password or "")
        return client

    async def _close(self) -> None:
        client, self.client, self.server = self.client, None, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()

    async def send(
        self, raw: bytes, sender: str, recipient: str, server: _Server, handover: Handover
    ) -> None:
        reused = self.client is not None and self.server == server and self.client.is_connected
        if not reused:
            await self._close()
            self.client, self.server = await self._open(server), server
        assert self.client is not None
        handed = _Watched(handover)
        try:
            await _transaction(self.client, sender, recipient, raw, handed)
        except aiosmtplib.SMTPServerDisconnected:
            await self._close()
            if not reused or handed.started:
                raise
            # An idle connection the server had closed: nothing was sent on it. Once more.
            self.client, self.server = await self._open(server), server
            await _transaction(self.client, sender, recipient, raw, handed)
        except BaseException:
            await self._close()  # a refusal or a broken session: start the next one clean
            raise


class _Watched:
    """A hand-over that remembers whether its last step began (then a lost connection is not
    an idle one: the message may have arrived)."""

    def __init__(self, inner: Handover) -> None:
        self.inner, self.started = inner, False

    def before_end(self) -> None:
        self.started = True
        self.inner.before_end()

    def accepted(self) -> None:
        self.inner.accepted()

    def abandon(self, answered: bool) -> None:
        self.inner.abandon(answered)


class _Nothing:
    def before_end(self) -> None:
        pass

    def accepted(self) -> None:
        pass

    def abandon(self, answered: bool) -> None:
        pass


_local = threading.local()


def _connection() -> _Connection:
    conn: _Connection | None = getattr(_local, "connection", None)
    if conn is None:
        conn = _local.connection = _Connection()
    return conn


def smtp_code(err: BaseException) -> int | None:
    """The SMTP reply code behind an aiosmtplib error (the first refused recipient's), if any."""
    if isinstance(err, aiosmtplib.SMTPRecipientsRefused) and err.recipients:
        return int(err.recipients[0].code)
    if isinstance(err, aiosmtplib.SMTPResponseException):
        return int(err.code)
    return None


def send(
    raw: bytes, *, recipient: str, settings: Settings, handover: Handover | None = None
) -> None:
    """Send one message; DeliveryRefused on a 5xx reply (never retried), DeliveryError otherwise
    (retried later). ``handover`` hears of the message's last step (see ``Handover``)."""
    conn = _connection()
    try:
        conn.loop.run_until_complete(
            conn.send(
                raw, settings.mail_from, recipient, _Server.of(settings), handover or _Nothing()
            )
        )
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as err:
        code = smtp_code(err)
        # No server text here: a refusal may quote the recipient's address.
        where = f"SMTP {settings.smtp_host}:{settings.smtp_port}: {type(err).__name__}"
        if code is not None and 500 <= code < 600:
            raise DeliveryRefused(f"{where} {code} (refused for good)") from None
        raise DeliveryError(f"{where}{f' {code}' if code else ''}") from None
