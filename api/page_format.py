"""Dates and times on the staff pages: the page's format, on the company's local clock."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from config.settings import get_settings

_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


@lru_cache(maxsize=1)
def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def format_when(value: object, lang: str) -> str:
    """An ISO time as people read it: vi '07/12/2026 17:45', en '7 December 2026, 17:45'
    (local time, no microseconds); anything else as it is."""
    if not isinstance(value, str | datetime) or not value:
        return "" if value is None else str(value)
    try:
        moment = (
            value
            if isinstance(value, datetime)
            else datetime.fromisoformat(value.replace("Z", "+00:00"))
        )
    except ValueError:
        return str(value)
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(_zone())
    if lang == "vi":
        return local.strftime("%d/%m/%Y %H:%M")
    return f"{local.day} {_MONTHS_EN[local.month - 1]} {local.year}, {local:%H:%M}"
