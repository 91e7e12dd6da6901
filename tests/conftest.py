"""Shared fixtures: real PostgreSQL / MariaDB / Redis / SMTP servers (see tests/services.py)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator

import pytest

# The broker is wired at import from settings, so the test process's environment is fixed here,
# before any test imports ``workers``: the machine's Redis when it answers (else the embedded
# one), a queue namespace of this run's own, and a scratch var/ folder.
os.environ.setdefault("DSR_VAR_DIR", tempfile.mkdtemp(prefix="dsr-test-var-"))
os.environ["DSR_BROKER_NAMESPACE"] = f"dsr-test-{uuid.uuid4().hex[:8]}"
os.environ.setdefault("DSR_LOG_FORMAT", "console")
# Most tests file staff-vouched requests to drive the pipeline; one vouch is enough there, as in
# the demo and the benchmarks. The tests of four eyes (tests/api/test_four_eyes.py) ask for it.
os.environ.setdefault("DSR_VOUCH_POLICY", "single")

from demo.smtp_sink import MailSink
from tests import services

if services.redis_available():
    os.environ.setdefault("DSR_REDIS_URL", services.REDIS_URL)


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
