"""The ledger's migrations form one line: a fresh ledger and an upgraded one end the same."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from dsr.core.ledger import models  # noqa: F401 - the tables the migrations must produce
from dsr.core.ledger.db import alembic_config, get_engine, migrate


def test_one_head() -> None:
    """Branches merged in parallel are re-chained: Alembic sees exactly one head."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, script.get_heads()


def test_migrated_ledger_has_every_model_column(tmp_path: Path) -> None:
    """Every table and column the models declare exists after migrating an empty ledger."""
    url = f"sqlite:///{tmp_path / 'dsr.db'}"
    migrate(url)
    inspector = sa.inspect(get_engine(url))
    for table in SQLModel.metadata.sorted_tables:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        assert {c.name for c in table.columns} <= have, table.name
    get_engine(url).dispose()
