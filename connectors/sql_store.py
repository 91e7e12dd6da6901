"""What the SQL connector's parts (search, erase, sweep, the check after an erasure) need of
the store they work on: ``SqlStore`` provides it, and they import this instead of it, so every
arrow between the connector's modules points one way."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import sqlalchemy as sa

from connectors.sql_config import SqlConfig, TableSpec
from connectors.sql_index import StoreIndex
from connectors.sql_tables import Bound


class Store(Protocol):
    """One configured SQL store: its configuration, engine, reflected tables and index."""

    name: str
    config: SqlConfig
    engine: sa.Engine
    index: StoreIndex
    region: str
    secret_key: str
    needs: frozenset[str]

    def tables(self) -> dict[str, Bound]: ...

    def children(self, parent: TableSpec) -> list[Bound]: ...

    def suppress(
        self, conn: sa.Connection, emails: set[str], *, now: datetime, reason: str
    ) -> int: ...
