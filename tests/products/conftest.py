"""Fixtures: each product's store, its tables created and filled once per test session.

WooCommerce and FreePBX's call records live in a MariaDB database, listmonk and Odoo in a
PostgreSQL schema, each made for the session on the servers of ``tests/services`` (so two runs
never meet), the call records also in a SQLite file. Each fixture creates the product's
tables, fills them, and drops them at the end of the session. A missing
server skips, or fails under ``DSR_REQUIRE_SERVICES=1``, as everywhere in this suite.

``DSR_PRODUCTS_PEOPLE`` sets how many synthetic customers each store gets (default 300).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import services
from tests.products import asterisk, bulk, listmonk, odoo, woocommerce
from tests.products.stores import PEOPLE, STORES, ProductStore


def _engine(url: str, what: str) -> sa.Engine:
    engine = bulk.local_engine(url)  # MariaDB: fill with LOAD DATA LOCAL INFILE
    try:
        with engine.connect():
            pass
    except Exception as err:
        engine.dispose()
        services.unavailable(what, err)
        raise  # not reached: unavailable() skips or fails
    return engine


@pytest.fixture(scope="session")
def products_postgres() -> Iterator[sa.Engine]:
    """An engine on a PostgreSQL schema of this session's own (dropped at its end)."""
    for url in services.fresh_postgres_url():
        engine = _engine(url, "PostgreSQL")
        yield engine
        engine.dispose()


@pytest.fixture(scope="session")
def products_mariadb() -> Iterator[sa.Engine]:
    """An engine on a MariaDB database of this session's own (dropped at its end)."""
    for url in services.fresh_mariadb_url():
        engine = _engine(url, "MariaDB")
        yield engine
        engine.dispose()


@pytest.fixture(scope="session")
def woocommerce_store(products_mariadb: sa.Engine) -> Iterator[ProductStore]:
    """WordPress users and WooCommerce HPOS orders on MariaDB."""
    engine = products_mariadb
    woocommerce.create_tables(engine)
    seeded = woocommerce.fill(engine, PEOPLE)
    url = engine.url.render_as_string(hide_password=False)
    yield ProductStore("woocommerce", woocommerce, engine, url, seeded, woocommerce.entry(url))
    woocommerce.drop_tables(engine)


@pytest.fixture(scope="session")
def listmonk_store(products_postgres: sa.Engine) -> Iterator[ProductStore]:
    """listmonk's subscribers, lists and subscriptions on PostgreSQL."""
    engine = products_postgres
    listmonk.create_tables(engine)
    seeded = listmonk.fill(engine, PEOPLE)
    url = engine.url.render_as_string(hide_password=False)
    yield ProductStore("listmonk", listmonk, engine, url, seeded, listmonk.entry(url))
    listmonk.drop_tables(engine)


@pytest.fixture(scope="session")
def odoo_store(products_postgres: sa.Engine) -> Iterator[ProductStore]:
    """Odoo 17 contacts and sales orders on PostgreSQL."""
    engine = products_postgres
    odoo.create_tables(engine)
    seeded = odoo.fill(engine, PEOPLE)
    url = engine.url.render_as_string(hide_password=False)
    yield ProductStore("odoo", odoo, engine, url, seeded, odoo.entry(url))
    odoo.drop_tables(engine)


def _asterisk(name: str, engine: sa.Engine, root: Path) -> Iterator[ProductStore]:
    asterisk.create_tables(engine)
    seeded = asterisk.fill(engine, root, PEOPLE)
    url = engine.url.render_as_string(hide_password=False)
    entry = asterisk.entry(url, root)
    yield ProductStore(name, asterisk, engine, url, seeded, entry, root)
    asterisk.drop_tables(engine)


@pytest.fixture(scope="session")
def asterisk_mariadb_store(
    products_mariadb: sa.Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProductStore]:
    """FreePBX's ``cdr`` on MariaDB, with its recordings in a monitor folder of this run."""
    root = tmp_path_factory.mktemp("freepbx-mariadb") / "monitor"
    yield from _asterisk("asterisk_mariadb", products_mariadb, root)


@pytest.fixture(scope="session")
def asterisk_sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductStore]:
    """FreePBX's ``cdr`` in a SQLite file, with its recordings in a monitor folder."""
    folder = tmp_path_factory.mktemp("freepbx-sqlite")
    engine = sa.create_engine(f"sqlite:///{folder / 'asteriskcdrdb.sqlite3'}")
    yield from _asterisk("asterisk_sqlite", engine, folder / "monitor")
    engine.dispose()


@pytest.fixture(params=STORES)
def product_store(request: pytest.FixtureRequest) -> ProductStore:
    """Each product's store in turn."""
    store: ProductStore = request.getfixturevalue(f"{request.param}_store")
    return store
