"""The product stores the tests run on: what each fixture hands a test, and where they live."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa

from tests.products.people import Seeded

PEOPLE = int(os.environ.get("DSR_PRODUCTS_PEOPLE", "300"))
DATABASE = "products"
STORES = ("woocommerce", "listmonk", "odoo", "asterisk_mariadb", "asterisk_sqlite")


def products_url(base: str, **query: str) -> str:
    """``base`` (a server URL of ``tests/services``) naming the ``products`` database."""
    url = sa.make_url(base).set(database=DATABASE)
    if query:
        url = url.update_query_dict(query)
    return url.render_as_string(hide_password=False)


@dataclass
class ProductStore:
    """One product's tables on one engine, what was written into them, and its entry."""

    name: str  # woocommerce, listmonk, odoo, asterisk_mariadb, asterisk_sqlite
    module: ModuleType
    engine: sa.Engine
    url: str
    seeded: Seeded
    entry: dict[str, Any]
    root: Path | None = None  # the recordings' folder (asterisk)
    keys: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keys = {t["name"]: t.get("key", "id") for t in self.entry["tables"]}

    @property
    def tables(self) -> tuple[sa.Table, ...]:
        tables: tuple[sa.Table, ...] = self.module.TABLES
        return tables

    @property
    def identifier_columns(self) -> dict[str, dict[str, tuple[str, ...]]]:
        columns: dict[str, dict[str, tuple[str, ...]]] = self.module.IDENTIFIER_COLUMNS
        return columns
