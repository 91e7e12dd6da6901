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
from dataclasses import dataclass

import aiosmtplib

from config.settings import Settings
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

    async def send(self, raw: bytes, sender: str, recipient: str, server: _Server) -> None:
        reused = self.client is not None and self.server == server and self.client.is_connected
        if not reused:
            await self._close()
            self.client, self.server = await self._open(server), server
        assert self.client is not None
        try:
            await self.client.sendmail(sender, [recipient], raw)
        except aiosmtplib.SMTPServerDisconnected:
            await self._close()
            if not reused:
                raise
            # An idle connection the server had closed: nothing was sent on it. Once more.
            self.client, self.server = await self._open(server), server
            await self.client.sendmail(sender, [recipient], raw)
        except BaseException:
            await self._close()  # a refusal or a broken session: start the next one clean
            raise


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


def send(raw: bytes, *, recipient: str, settings: Settings) -> None:
    """Send one message; DeliveryRefused on a 5xx reply (never retried), DeliveryError otherwise
    (retried later)."""
    conn = _connection()
    try:
        conn.loop.run_until_complete(
            conn.send(raw, settings.mail_from, recipient, _Server.of(settings))
        )
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as err:
        code = smtp_code(err)
        # No server text here: a refusal may quote the recipient's address.
        where = f"SMTP {settings.smtp_host}:{settings.smtp_port}: {type(err).__name__}"
        if code is not None and 500 <= code < 600:
            raise DeliveryRefused(f"{where} {code} (refused for good)") from None
        raise DeliveryError(f"{where}{f' {code}' if code else ''}") from None
