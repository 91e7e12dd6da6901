"""The table a sweep keeps inside a store (its purge log) can live in a schema of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from connectors.base import PurgeJob, RetentionRule
from connectors.purge_log import NAME
from connectors.sql import SqlStore
from dsr.errors import ConfigError
from dsr.identity import Identity

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(params=["postgres", "mariadb"])
def server_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def own_schema(server_url: str) -> Iterator[str]:
    name = f"dsr_own_{uuid.uuid4().hex[:8]}"
    yield name
    engine = sa.create_engine(server_url)
    with engine.begin() as conn:
        drop = (
            "DROP DATABASE IF EXISTS `{}`"
            if engine.dialect.name != "postgresql"
            else ('DROP SCHEMA IF EXISTS "{}" CASCADE')
        )
        conn.execute(sa.text(drop.format(name)))
    engine.dispose()


def _store(url: str, own_schema: str | None) -> SqlStore:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE contacts (id INTEGER PRIMARY KEY, email VARCHAR(100), "
                "created_at TIMESTAMP NULL)"
            )
        )
        old = (NOW - timedelta(days=400)).replace(tzinfo=None)
        conn.execute(
            sa.text("INSERT INTO contacts VALUES (:id, :e, :t)"),
            [{"id": i, "e": f"Person{i}@Example.vn", "t": old} for i in range(1, 6)],
        )
    engine.dispose()
    entry = {
        "name": "contacts",
        "kind": "sql",
        "url": url,
        "own_schema": own_schema,
        "tables": [
            {
                "name": "contacts",
                "key": "id",
                "match": {"email": "email"},
                "erase": {"mode": "delete"},
            }
        ],
    }
    return SqlStore.from_config(entry, secret_key="k" * 32)


def test_purge_log_goes_to_its_own_schema(server_url: str, own_schema: str) -> None:
    """A sweep's chunk counts land in the configured schema; the data's schema gains nothing."""
    store = _store(server_url, own_schema)
    rule = RetentionRule("contacts", "contacts", "created_at", days=365)
    try:
        report = store.purge(PurgeJob(rule, now=NOW, held=Identity(), run_id="run-1"))
        assert report.purged == 5
        assert store.purged_in("run-1") == {"contacts": 5}
        inspector = sa.inspect(store.engine)
        assert NAME not in inspector.get_table_names()
        assert NAME in inspector.get_table_names(schema=own_schema)
        store.forget_run("run-1")
        assert store.purged_in("run-1") == {}
    finally:
        store.close()


def test_own_schema_is_refused_on_sqlite(tmp_path: object) -> None:
    """SQLite has no schemas: the configuration says so at start-up."""
    entry = {
        "name": "c",
        "kind": "sql",
        "url": "sqlite:///x.db",
        "own_schema": "meta",
        "tables": [
            {"name": "t", "key": "id", "match": {"email": "e"}, "erase": {"mode": "delete"}}
        ],
    }
    with pytest.raises(ConfigError, match="own_schema"):
        SqlStore.from_config(entry, secret_key="k" * 32)
