"""Fixtures: the seeded demo stores on each SQL engine with a migrated ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dsr.core.ledger.db import get_engine, migrate
from tests.scheduler.stores import Stores, seeded_stores


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def demo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    """Seeded demo stores (SQL stores on the engine under test) and a ledger beside them."""
    sqlite_ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    if request.param == "sqlite":
        ledger, store_url = sqlite_ledger, None
    elif request.param == "postgres":
        ledger = store_url = str(request.getfixturevalue("postgres_url"))
    else:
        ledger, store_url = sqlite_ledger, str(request.getfixturevalue("mariadb_url"))
    stores = seeded_stores(tmp_path, ledger, store_url)
    migrate(ledger)
    yield stores
    stores.close()
    get_engine(ledger).dispose()


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    """A migrated SQLite ledger of this test's own."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    migrate(url)
    return url
