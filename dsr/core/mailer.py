"""Hand a rendered message to the SMTP server with aiosmtplib.

SMTP failures are mapped here, once: a 5xx reply (the recipient or the message refused for
good) is a DeliveryRefused, which ends retries at once; a 4xx reply, a refused connection
or a timeout is a DeliveryError, retried until the delivery give-up time.
"""

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
    try:
        asyncio.run(_send(raw, settings.mail_from, recipient, settings))
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as err:
        code = smtp_code(err)
        # No server text here: a refusal may quote the recipient's address.
        where = f"SMTP {settings.smtp_host}:{settings.smtp_port}: {type(err).__name__}"
        if code is not None and 500 <= code < 600:
            raise DeliveryRefused(f"{where} {code} (refused for good)") from None
        raise DeliveryError(f"{where}{f' {code}' if code else ''}") from None
