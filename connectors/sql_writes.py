"""The statements that change a SQL store: delete, anonymise, rectify, suppress.

Each takes a connection inside the caller's transaction and a predicate saying which rows, so
the same code serves a subject's erasure (``key IN (found keys)``) and a retention sweep
(``key >= lo AND key < hi AND aged``).
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from connectors.base import Action, IdentifierChange, Outcome, current_value
from connectors.sql_config import Retention, TableSpec
from connectors.sql_scan import owner_of
from connectors.sql_tables import REDACTED, Bound, Normaliser
from dsr.errors import InvalidInput
from dsr.identity import (
    EMAIL,
    PHONE,
    normalise_field,
    suppression_check,
    wrap_digest,
)


def keyed_hash(secret: str, value: object) -> str:
    """HMAC-SHA256 of a value: stable for joins and audits, useless without the key."""
    text = unicodedata.normalize("NFC", str(value).strip())
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def delete_where(conn: sa.Connection, bound: Bound, pred: ColumnElement[bool]) -> int:
    """Delete the rows matching ``pred``; how many went."""
    return int(conn.execute(sa.delete(bound.table).where(pred)).rowcount)


def anonymise_where(
    conn: sa.Connection, bound: Bound, pred: ColumnElement[bool], secret: str
) -> int:
    """Apply the table's per-column strategy (null / redact / hash) to live rows matching pred."""
    static: dict[str, Any] = {}
    hashed: list[str] = []
    for column, strategy in bound.spec.erase.columns.items():
        if strategy == "null":
            static[column] = None
        elif strategy == "redact":
            static[column] = bound.fit(column, REDACTED)
        else:
            hashed.append(column)
    live = bound.live_clause()
    where = sa.and_(pred, live) if live is not None else pred
    if not hashed:
        return int(conn.execute(sa.update(bound.table).where(where).values(static)).rowcount)
    rows = conn.execute(sa.select(bound.key, *(bound.col(c) for c in hashed)).where(where)).all()
    if not rows:
        return 0
    values = {**static, **{c: sa.bindparam(f"_h{i}") for i, c in enumerate(hashed)}}
    stmt = sa.update(bound.table).where(bound.key == sa.bindparam("_k")).values(values)
    params = [
        {
            "_k": row[0],
            **{
                f"_h{i}": None
                if row[i + 1] is None
                else bound.fit(c, keyed_hash(secret, row[i + 1]))
                for i, c in enumerate(hashed)
            },
        }
        for row in rows
    ]
    conn.execute(stmt, params)
    return len(rows)


def child_pred(
    child: Bound, parent: Bound, parent_pred: ColumnElement[bool]
) -> ColumnElement[bool]:
    """The child rows of the parent rows matching ``parent_pred``."""
    assert child.spec.parent is not None
    keys = sa.select(parent.key).where(parent_pred)
    return child.col(child.spec.parent.column).in_(keys)


def retained_until(latest: object, retention: Retention | None) -> str | None:
    """The ISO date retention ends: ``years`` after the record (or after its fiscal year end)."""
    if retention is None or latest is None:
        return None
    if isinstance(latest, datetime):
        day = latest.date()
    elif isinstance(latest, date):
        day = latest
    else:
        day = date.fromisoformat(str(latest)[:10])
    if retention.fiscal_year_end:
        return date(day.year + retention.years, 12, 31).isoformat()
    try:
        return day.replace(year=day.year + retention.years).isoformat()
    except ValueError:  # 29 February
        return day.replace(year=day.year + retention.years, day=28).isoformat()


def add_suppression(
    conn: sa.Connection,
    table: sa.Table,
    column: str,
    hashes: Iterable[str],
    *,
    now: datetime,
    reason: str,
) -> int:
    """Insert the hashes not yet on the suppression list; how many were new (idempotent)."""
    wanted = set(hashes)
    if not wanted:
        return 0
    col = table.c[column]
    present = set(conn.execute(sa.select(col).where(col.in_(sorted(wanted)))).scalars())
    missing = sorted(wanted - present)
    if not missing:
        return 0
    extra: dict[str, Any] = {}
    if "added_at" in table.c:
        extra["added_at"] = now
    if "reason" in table.c:
        extra["reason"] = reason[: getattr(table.c.reason.type, "length", None) or None]
    rows = [{column: h, **extra} for h in missing]
    # A concurrent worker may insert the same hash between our SELECT and INSERT: ignore it.
    dialect = conn.dialect.name
    stmt: Any
    if dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing()
    elif dialect == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect in ("mysql", "mariadb"):
        ins = mysql.insert(table)
        stmt = ins.on_duplicate_key_update({column: ins.inserted[column]})
    else:
        stmt = sa.insert(table)
    conn.execute(stmt, rows)
    return len(missing)


def rekey_suppression(
    conn: sa.Connection, table: sa.Table, column: str, *, chain: str, new_key: str, now: datetime
) -> int:
    """Wrap every hash on the list in ``new_key``; how many were re-keyed (0: done before).

    The list's check value is wrapped with the rest (wrapping the old chain's check value gives
    the new chain's), or added for a list that had none; finding the new chain's check value
    means this list was already re-keyed, so a rotation resumed after a crash never wraps twice.
    """
    col = table.c[column]
    done = suppression_check(f"{chain},{new_key}")
    if conn.execute(sa.select(col).where(col == done)).first() is not None:
        return 0
    stored = list(conn.execute(sa.select(col)).scalars())
    if stored:
        stmt = (
            sa.update(table)
            .where(col == sa.bindparam("_old"))
            .values({column: sa.bindparam("_new")})
        )
        conn.execute(stmt, [{"_old": h, "_new": wrap_digest(h, new_key)} for h in stored])
    add_suppression(conn, table, column, [done], now=now, reason="key check")
    return len(stored)


def prepare_changes(changes: Mapping[str, str], region: str) -> dict[str, str]:
    """The requested new values, normalised as they will be stored; InvalidInput when bad."""
    if not changes:
        raise InvalidInput("rectify needs at least one field to change")
    return {field: normalise_field(field, raw, region) for field, raw in changes.items()}


def is_stale(
    row: Mapping[str, Any], fields: Mapping[str, str], changes: Mapping[str, str], region: str
) -> bool:
    """Whether a row holds, in any of ``fields`` (public name -> column), an old value."""
    return any(current_value(f, row[c], region) != changes[f] for f, c in fields.items())


def rectify_table(
    conn: sa.Connection,
    bound: Bound,
    rows: list[dict[str, Any]],
    changes: dict[str, str],
    region: str,
) -> tuple[list[Outcome], list[dict[str, Any]]]:
    """Write the changes this table holds to its current rows; history and absences reported.

    Also the rows as they were before the update (for the identity history)."""
    spec = bound.spec
    fields = {f: c for f, c in spec.rectifiable.items() if f in changes}
    absent = sorted(set(changes) - set(fields))
    note = f"not held in this store: {', '.join(absent)}" if absent else None
    if not rows:
        return [Outcome(bound.name, Action.NOT_FOUND, 0)], []
    if not fields and (spec.rectifiable or spec.historical_when is None):
        return [Outcome(bound.name, Action.UNCHANGED, len(rows), reason=note)], []
    outcomes: list[Outcome] = []
    current = rows
    if (hist := spec.historical_when) is not None:
        past = [r for r in rows if str(r[hist.column]) in hist.values]
        current = [r for r in rows if str(r[hist.column]) not in hist.values]
        if past:
            reason = hist.reason or (
                f"{' or '.join(hist.values)} {bound.name} are historical "
                "records and are not rewritten"
            )
            outcomes.append(Outcome(bound.name, Action.HISTORICAL, len(past), reason=reason))
    if not current:
        return outcomes, []
    if not fields:  # a table of history only (a call archive): nothing of it is rewritten
        outcomes.append(Outcome(bound.name, Action.UNCHANGED, len(current), reason=note))
        return outcomes, []
    changed = sorted(
        {
            f
            for r in current
            for f, c in fields.items()
            if current_value(f, r[c], region) != changes[f]
        }
    )
    stale = [r[spec.key] for r in current if is_stale(r, fields, changes, region)]
    if not stale:
        reason = "value already current" + (f"; {note}" if note else "")
        outcomes.append(Outcome(bound.name, Action.UNCHANGED, len(current), reason=reason))
        return outcomes, []
    values: dict[str, Any] = {}
    for field, column in fields.items():
        length = getattr(bound.col(column).type, "length", None)
        if length and len(changes[field]) > length:
            raise InvalidInput(f"{field} is longer than {bound.name}.{column} allows")
        values[column] = changes[field]
    conn.execute(sa.update(bound.table).where(bound.key.in_(stale)).values(values))
    outcomes.append(Outcome(bound.name, Action.UPDATED, len(stale), reason=note, fields=changed))
    wanted = set(stale)
    return outcomes, [r for r in current if r[spec.key] in wanted]


def identifier_changes(
    spec: TableSpec,
    updated: list[dict[str, Any]],
    changes: dict[str, str],
    normalise: Normaliser,
) -> list[IdentifierChange]:
    """Identifiers (e-mail, phone) a rectify replaced in ``updated`` rows, as they read before
    (normalised, whatever their spelling), with each row's account identifiers after it."""
    out: list[IdentifierChange] = []
    for row in updated:
        account = []
        for kind, value in owner_of(spec, row, normalise):
            account.append((kind, changes.get(kind, value) if kind in spec.rectifiable else value))
        for kind in (EMAIL, PHONE):
            column = spec.rectifiable.get(kind)
            if kind not in changes or column is None or kind not in spec.match:
                continue
            for old in normalise.values(kind, row[column]):
                if old != changes[kind]:
                    out.append(
                        IdentifierChange(
                            spec.name, str(row[spec.key]), kind, old, changes[kind], tuple(account)
                        )
                    )
    return out
