"""Hand a rendered message to the SMTP server with aiosmtplib."""

from __future__ import annotations

import asyncio

import aiosmtplib

from dsr.config.settings import Settings
from dsr.errors import DeliveryError


async def _send(raw: bytes, sender: str, recipient: str, settings: Settings) -> None:
    await aiosmtplib.send(
        raw,
        sender=sender,
        recipients=[recipient],
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        start_tls=settings.smtp_starttls,
        timeout=settings.smtp_timeout,
    )


def send(raw: bytes, *, recipient: str, settings: Settings) -> None:
    """Send one message; any SMTP or network failure is a DeliveryError (retried later)."""
    try:
        asyncio.run(_send(raw, settings.mail_from, recipient, settings))
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as err:
        raise DeliveryError(
            f"SMTP {settings.smtp_host}:{settings.smtp_port}: {type(err).__name__}"
        ) from None
