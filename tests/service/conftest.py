"""The application service on the laptop harness of ``tests/core``: SQLite, demo stores, SMTP."""

from tests.core.conftest import core  # noqa: F401 - the same fixture, for the service's tests
