"""The recordings archive's own schema: its metadata index (``<root>/index.db``, table ``calls``).

The archive owns it; the demo seed and the tests create it from here. ``removals`` lists audio
files whose rows are deleted but which may still be on disk: a call's row and its entry there
change in one transaction, and the file is unlinked only after that commits, so no row ever
points at a missing file and a killed run leaves a list to finish, not orphaned audio.
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

removals = Table(
    "removals",
    recordings_index,
    Column("file", String(200), primary_key=True),  # relative to <root>/audio, like calls.file
)
