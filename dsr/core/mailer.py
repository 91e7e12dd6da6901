"""Hand a rendered message to the SMTP server with aiosmtplib."""

from __future__ import annotations

import asyncio

import aiosmtplib

from dsr.config.settings import Settings
from dsr.errors import DeliveryError, DeliveryRefused


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


def _refusal(err: aiosmtplib.SMTPException) -> int | None:
    """The 5xx code when the server refused the recipient or the message for good."""
    if isinstance(err, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in err.recipients]
    elif isinstance(err, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        codes = [err.code]
    else:
        return None
    return min(codes) if codes and min(codes) >= 500 else None


def send(raw: bytes, *, recipient: str, settings: Settings) -> None:
    """Send one message; a 5xx refusal is DeliveryRefused, any other failure a DeliveryError
    (retried later)."""
    try:
        asyncio.run(_send(raw, settings.mail_from, recipient, settings))
    except aiosmtplib.SMTPException as err:
        code = _refusal(err)
        where = f"SMTP {settings.smtp_host}:{settings.smtp_port}"
        if code is not None:
            raise DeliveryRefused(f"{where}: refused ({code})") from None
        raise DeliveryError(f"{where}: {type(err).__name__}") from None
    except (TimeoutError, OSError) as err:
        raise DeliveryError(
            f"SMTP {settings.smtp_host}:{settings.smtp_port}: {type(err).__name__}"
        ) from None
