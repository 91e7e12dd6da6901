"""What the configured account may do to a table, asked of the engine without trying it.

PostgreSQL answers ``has_table_privilege``; MariaDB lists the current account's grants in
``information_schema`` (global, database and table level; the active role's too); SQLite has no
accounts, so the question is whether this process may write the database file and its folder
(where SQLite puts its journal).
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")

_MARIADB = sa.text(
    """
    SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES
     WHERE GRANTEE IN (:user, :role)
    UNION SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES
     WHERE GRANTEE IN (:user, :role) AND :db LIKE TABLE_SCHEMA
    UNION SELECT PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES
     WHERE GRANTEE IN (:user, :role) AND TABLE_SCHEMA = :db AND TABLE_NAME = :tbl
    """
)


def _grantee(account: str | None) -> str:
    """``user@host`` as information_schema spells a grantee: ``'user'@'host'``."""
    if not account:
        return ""
    user, _, host = account.rpartition("@")
    return f"'{user}'@'{host}'" if host else f"'{account}'"


def granted(
    conn: sa.Connection,
    backend: str,
    table: str,
    sqlite_file: Path | None,
    schema: str | None = None,
) -> dict[str, bool]:
    """Each of SELECT, INSERT, UPDATE, DELETE on ``table`` (in ``schema``, default: the
    connection's own): granted or not."""
    if backend == "postgresql":
        # format() takes "any": the parameters need a type for PostgreSQL to bind them.
        name = "format('%I.%I', :s ::text, :t ::text)" if schema else "format('%I', :t ::text)"
        checks = ", ".join(f"has_table_privilege({name}, '{p}')" for p in PRIVILEGES)
        params = {"t": table, "s": schema} if schema else {"t": table}
        row = conn.execute(sa.text(f"SELECT {checks}"), params).one()
        return {p: bool(v) for p, v in zip(PRIVILEGES, row, strict=True)}
    if backend == "mysql":
        user, role, db = conn.execute(
            sa.text("SELECT CURRENT_USER(), CURRENT_ROLE(), DATABASE()")
        ).one()
        db = schema or db
        params = {"user": _grantee(user), "role": _grantee(role), "db": db, "tbl": table}
        have = {str(p).upper() for (p,) in conn.execute(_MARIADB, params)}
        return {p: p in have for p in PRIVILEGES}
    if sqlite_file is None:
        return dict.fromkeys(PRIVILEGES, False)
    readable = os.access(sqlite_file, os.R_OK)
    writable = os.access(sqlite_file, os.W_OK) and os.access(sqlite_file.parent, os.W_OK)
    return {"SELECT": readable, "INSERT": writable, "UPDATE": writable, "DELETE": writable}
