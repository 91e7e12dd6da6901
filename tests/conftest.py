"""Shared fixtures: real PostgreSQL / MariaDB / Redis / SMTP servers (see tests/services.py)."""

from __future__ import annotations

import os
import subprocess
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
from tests.mailman_server import INSTALL_TIMEOUT, Mailman, mailman_installed

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """On a machine without Mailman yet, the first test needing it installs it: those tests
    get the install's own time limit on top of the usual one."""
    if mailman_installed():
        return
    for item in items:
        if "mailman" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(INSTALL_TIMEOUT + 300))


@pytest.fixture(scope="session")
def mailman_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mailman]:
    """A real Mailman 3 REST API (installed on first use), shared by the session's tests."""
    server = Mailman(tmp_path_factory.mktemp("mailman"))
    try:
        server.start()
    except (OSError, RuntimeError, subprocess.SubprocessError) as err:
        server.stop()
        services.unavailable("Mailman 3", err)
    yield server
    server.stop()


@pytest.fixture
def mailman(mailman_server: Mailman) -> Mailman:
    """The session's Mailman, emptied (only its domain left), started again if a test
    stopped it."""
    if mailman_server.process is None or mailman_server.process.poll() is not None:
        mailman_server.start()
    mailman_server.reset()
    return mailman_server
