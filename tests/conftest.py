"""Shared fixtures: real PostgreSQL / MariaDB / Redis / SMTP servers (see tests/services.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dsr.smtp_sink import MailSink
from tests import services


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema."""
    yield from services.fresh_postgres_url()


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A fresh, empty MariaDB database."""
    yield from services.fresh_mariadb_url()


@pytest.fixture
def redis_url() -> str:
    """The machine's Redis."""
    return services.redis_url_or_skip()


@pytest.fixture
def smtp() -> Iterator[MailSink]:
    """A real aiosmtpd server on a free port, recording what it receives."""
    controller, sink = services.start_smtp()
    yield sink
    controller.stop()
