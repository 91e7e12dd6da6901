"""A second CRM account on the demo subject's phone line: a family sharing one phone."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from demo.stores import stamp

_ACCOUNT = (
    "insert into customers (customer_id, full_name, email, phone, status, created_at, "
    "updated_at) values ('KH999999', 'Nguyễn Thị Mai', 'mai@example.com', '0912345678', "
    "'active', :now, :written)"
)
_SINCE = datetime(2024, 1, 1)


def add_family_account(data_dir: Path) -> None:
    """Add the account to the seeded demo CRM under ``data_dir``."""
    engine = sa.create_engine(f"sqlite:///{data_dir / 'crm.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(_ACCOUNT), {"now": _SINCE, "written": stamp()})
    finally:
        engine.dispose()
