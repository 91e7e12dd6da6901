"""Real servers for tests: PostgreSQL, MariaDB, Redis, and an aiosmtpd SMTP server.

Each service-backed fixture skips on a laptop without the server, and FAILS when
``DSR_REQUIRE_SERVICES=1`` (set by ``.ci/run``), so CI can never go green by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from demo import smtp_sink
from demo.smtp_sink import MailSink

REQUIRE = os.environ.get("DSR_REQUIRE_SERVICES") == "1"
POSTGRES_URL = os.environ.get(
    "DSR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MARIADB_URL = os.environ.get("DSR_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("DSR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unavailable(what: str, err: Exception) -> None:
    """Skip on a laptop, fail in CI."""
    message = f"{what} unavailable: {type(err).__name__}: {err}"
    if REQUIRE:
        pytest.fail(message)
    pytest.skip(message)


def fresh_postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a new, empty schema (dropped afterwards)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as err:  # noqa: BLE001 - any connect failure means "not here"
        unavailable("PostgreSQL", err)
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def fresh_mariadb_url() -> Iterator[str]:
    """A MariaDB URL naming a new, empty database (dropped afterwards)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        admin = sa.create_engine(MARIADB_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except Exception as err:  # noqa: BLE001
        unavailable("MariaDB", err)
    base = sa.engine.make_url(MARIADB_URL).set(database=name)
    yield base.render_as_string(hide_password=False) + "?charset=utf8mb4"
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP DATABASE `{name}`"))
    admin.dispose()


def redis_available() -> bool:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        client.ping()
        client.close()
    except Exception:  # noqa: BLE001
        return False
    return True


def redis_url_or_skip() -> str:
    """The machine's Redis URL, checked with a PING."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        client.ping()
        client.close()
    except Exception as err:  # noqa: BLE001
        unavailable("Redis", err)
    return REDIS_URL


def start_smtp(port: int | None = None) -> tuple[Controller, MailSink]:
    """A real aiosmtpd server on a free port (the same one ``dsr demo`` uses)."""
    return smtp_sink.start(port)
