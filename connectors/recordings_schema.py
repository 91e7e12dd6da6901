"""The recordings archive's own schema: its metadata index (``<root>/index.db``, table ``calls``).

The archive owns it; the demo seed and the tests create it from here.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

recordings_index = MetaData()
calls = Table(
    "calls",
    recordings_index,
    Column("id", String(40), primary_key=True),
    Column("caller_phone", String(40)),
    Column("phone_norm", String(20), index=True),
    Column("agent", String(120)),
    Column("started_at", DateTime, nullable=False, index=True),
    Column("duration_s", Integer, nullable=False),
    Column("topic", String(200)),
    Column("file", String(200), nullable=False),
)
