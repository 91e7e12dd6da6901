"""Which stores ``dsr seed`` created: only those are ever deleted by a reset.

``DSR_DATA_DIR`` pointed at a folder of real stores must never be wiped by a demo command. A
store seed creates carries a marker (a ``dsr_demo_store`` table in each SQLite file, a
``.dsr-demo-store`` file in the recordings folder); a reset first checks every existing store
for it and refuses, deleting nothing, when one lacks it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path

import sqlalchemy as sa

from dsr.errors import InvalidInput
from dsr.files import open_private

TABLE = "dsr_demo_store"
FILE = ".dsr-demo-store"
_REFUSE = "{what} was not created by `dsr seed`: refusing to replace it (move it away, or set "
_REFUSE += "DSR_DATA_DIR to another folder)"


def _marked_db(path: Path) -> bool:
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            row = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
            ).fetchone()
    except sqlite3.DatabaseError:  # not a SQLite file: certainly not ours
        return False
    return row is not None


def check_ours(databases: Mapping[str, Path], recordings: Path) -> None:
    """InvalidInput naming the first existing store that seed did not create."""
    for name, path in databases.items():
        if path.exists() and path.stat().st_size > 0 and not _marked_db(path):
            raise InvalidInput(_REFUSE.format(what=f"the {name} store ({path.name})"))
    if recordings.is_dir() and any(recordings.iterdir()) and not (recordings / FILE).exists():
        raise InvalidInput(_REFUSE.format(what="the recordings folder"))


def mark_database(conn: sa.Connection) -> None:
    """Mark a SQLite store as seed's own (idempotent)."""
    conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {TABLE} (created_by TEXT NOT NULL)")
    conn.exec_driver_sql(
        f"INSERT INTO {TABLE} (created_by) SELECT 'dsr seed' "
        f"WHERE NOT EXISTS (SELECT 1 FROM {TABLE})"
    )


def mark_recordings(folder: Path) -> None:
    """Mark the recordings folder as seed's own."""
    with open_private(folder / FILE, "w", encoding="utf-8") as fh:
        fh.write("created by `dsr seed`; a reset may delete this folder\n")
