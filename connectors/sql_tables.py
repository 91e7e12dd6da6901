"""SqlStore's view of its tables: the YAML spec bound to the reflected SQLAlchemy table, and
the SELECTs a search runs on it, each built once (only the bound values change per subject).

Also the two things every statement needs: the subject's search values, normalised the way
stored values are read, and the mapping of driver errors onto the error tree (retry or not),
with messages that carry no personal data (SQLAlchemy's own messages include bound values).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.sql.elements import ColumnElement

from connectors.sql_config import SqlConfig, TableSpec
from dsr.errors import FatalStoreError, RetriableStoreError, StoreError
from dsr.identity import Identity
from dsr.spellings import stored_values

IN_CHUNK = 1000  # keys per IN list (parent keys when fetching child rows)
Params = dict[str, Any]
REDACTED = "[đã xoá]"  # what a "redact" column holds after anonymisation ("erased")
_SLOTS_STEP = 1024  # IN-list placeholders beyond the powers of two: multiples of this
_MEMO_MAX = 10_000  # distinct values one operation remembers (a streamed export stays small)
_SCHEMA_HINTS = ("no such table", "no such column", "has no column")  # SQLite says these as
# OperationalError, which otherwise means "locked / unreachable, try again"


class Normaliser:
    """``stored_values`` remembered for one operation.

    Parsing an e-mail or phone number costs more than the query that finds it; within one find
    or apply the subject's few identifiers come back again and again (each search round, each
    table, each row's ``provides``), so each distinct value is parsed once. It is dropped with
    the operation: no identifier is kept for the next request.
    """

    def __init__(self, region: str) -> None:
        self.region = region
        self._done: dict[tuple[str, str], tuple[str, ...]] = {}

    def values(self, kind: str, raw: object) -> tuple[str, ...]:
        """Every identifier of ``kind`` a stored value holds, normalised (often one)."""
        if raw is None:
            return ()
        key = (kind, str(raw))  # stored_values reads only str(raw)
        try:
            return self._done[key]
        except KeyError:
            found = stored_values(kind, key[1], self.region)
            if len(self._done) < _MEMO_MAX:
                self._done[key] = found
            return found

    def __call__(self, kind: str, raw: object) -> str | None:
        """The first identifier a stored value holds (None: none usable)."""
        found = self.values(kind, raw)
        return found[0] if found else None


def column_values(
    spec: TableSpec, kind: str, row: Mapping[str, Any], normalise: Normaliser
) -> list[str]:
    """The normalised identifiers of ``kind`` a row holds in its ``match`` columns (a value
    ``null_when`` names counts as none)."""
    out: list[str] = []
    for column in spec.match.get(kind, ()):
        raw = row[column]
        if raw is None or str(raw) in spec.null_when.get(column, ()):
            continue
        out += [v for v in normalise.values(kind, raw) if v not in out]
    return out


def search_values(
    identity: Identity,
    kinds: Iterable[str],
    region: str,
    *,
    normalise: Normaliser | None = None,
) -> dict[str, list[str]]:
    """The identity's values per kind, normalised the way stored values are read.

    A value that does not normalise (not an email, not a phone) is still searched for as typed:
    it can only match a stored value that reads the same, and it proves nothing is spliced.
    """
    norm = normalise or Normaliser(region)
    out: dict[str, list[str]] = {}
    for kind in kinds:
        values = {norm(kind, raw) or raw.strip() for raw in identity.get(kind)}
        if found := sorted(v for v in values if v):
            out[kind] = found
    return out


def rows_of(result: sa.Result[Any]) -> Iterator[dict[str, Any]]:
    """Each row of ``result`` as a plain dict (column name -> value)."""
    keys = tuple(result.keys())
    for row in result:
        yield dict(zip(keys, row, strict=True))


def child_rows(
    conn: sa.Connection, child: Bound, parent_keys: list[Any]
) -> Iterator[dict[str, Any]]:
    """A child table's rows whose parent key is one of ``parent_keys``, ``IN_CHUNK`` at a time."""
    for i in range(0, len(parent_keys), IN_CHUNK):
        yield from rows_of(conn.execute(*child.child_select(parent_keys[i : i + IN_CHUNK])))


def _slots(n: int) -> int:
    """Placeholders for an IN list of ``n`` values: ``n`` rounded up to a power of two (to a
    multiple of 1024 beyond that, so that a long list never needs many spare ones).

    Fixed placeholders run much faster than an expanding parameter (which SQLAlchemy re-renders
    into the SQL on every execution), and a few list lengths mean a few statements, each built
    and compiled once.
    """
    slots = 1 << max(n - 1, 0).bit_length()
    return slots if slots <= _SLOTS_STEP else -(-n // _SLOTS_STEP) * _SLOTS_STEP


def _in_list(col: sa.Column[Any], name: str, slots: int) -> ColumnElement[bool]:
    return col.in_([sa.bindparam(f"{name}_{i}", type_=col.type) for i in range(slots)])


def _filled(name: str, values: list[Any], slots: int) -> Params:
    """The IN list's parameters, the spare slots repeating the last value (the same rows)."""
    last = len(values) - 1
    return {f"{name}_{i}": values[min(i, last)] for i in range(slots)}


@dataclass(frozen=True)
class Bound:
    """One configured table with its reflected columns."""

    spec: TableSpec
    table: sa.Table
    # SELECTs built once per IN-list length (and compiled once, by SQLAlchemy's cache):
    # building a statement costs several times what running it does.
    _selects: dict[tuple[int, bool], sa.Select[Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _children: dict[int, sa.Select[Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def key(self) -> sa.Column[Any]:
        return self.table.c[self.spec.key]

    def col(self, name: str) -> sa.Column[Any]:
        return self.table.c[name]

    @property
    def int_key(self) -> bool:
        """Whether chunks can be primary-key ranges (``key >= lo AND key < hi``)."""
        try:
            return self.key.type.python_type is int
        except NotImplementedError:
            return False

    @cached_property
    def export_columns(self) -> tuple[str, ...]:
        """Columns shown to the subject: every column of the table."""
        return tuple(c.name for c in self.table.columns)

    def fit(self, column: str, text: str) -> str:
        """``text`` cut to the column's declared length (a marker must never overflow)."""
        length = getattr(self.col(column).type, "length", None)
        return text[:length] if length else text

    def keys_select(
        self, keys: list[Any], *, live_only: bool = True
    ) -> tuple[sa.Select[Any], Params]:
        """The rows with one of ``keys`` (only those not yet anonymised unless ``live_only`` is
        False), in key order: the statement and its parameters."""
        n = _slots(len(keys))
        stmt = self._selects.get((n, live_only))
        if stmt is None:
            clause: ColumnElement[bool] = _in_list(self.key, "row_key", n)
            live = self.live_clause() if live_only else None
            if live is not None:
                clause = sa.and_(clause, live)
            stmt = sa.select(self.table).where(clause).order_by(self.key)
            self._selects[(n, live_only)] = stmt
        return stmt, _filled("row_key", keys, n)

    def child_select(self, parent_keys: list[Any]) -> tuple[sa.Select[Any], Params]:
        """A child table's rows whose parent key is one of ``parent_keys``, in key order."""
        assert self.spec.parent is not None
        n = _slots(len(parent_keys))
        stmt = self._children.get(n)
        if stmt is None:
            fk = _in_list(self.col(self.spec.parent.column), "parent_key", n)
            stmt = self._children[n] = sa.select(self.table).where(fk).order_by(self.key)
        return stmt, _filled("parent_key", parent_keys, n)

    def live_clause(self) -> ColumnElement[bool] | None:
        """For anonymised tables: rows not yet anonymised (None when erasure never anonymises).

        An anonymised row has every "redact" column at the marker and every "null" column NULL;
        such rows must never be found, re-counted or re-hashed again.
        """
        if self.spec.erase.mode != "anonymise":
            return None
        parts: list[ColumnElement[bool]] = []
        for column, strategy in self.spec.erase.columns.items():
            col = self.col(column)
            if strategy == "redact":
                parts.append(sa.or_(col.is_(None), col != self.fit(column, REDACTED)))
            elif strategy == "null":
                parts.append(col.is_not(None))
        return sa.or_(*parts)


def reflect(engine: sa.Engine, config: SqlConfig) -> tuple[dict[str, Bound], sa.Table | None]:
    """Reflect the configured tables and check every configured column exists."""
    metadata = sa.MetaData()
    bound: dict[str, Bound] = {}
    with engine.connect() as conn:
        for spec in config.tables:
            table = sa.Table(spec.name, metadata, autoload_with=conn)
            missing = sorted(spec.columns() - set(table.c.keys()))
            if missing:
                raise FatalStoreError(
                    f"{config.name}: table {spec.name} has no column {', '.join(missing)}"
                )
            bound[spec.name] = Bound(spec, table)
        suppression = None
        if config.suppression is not None:
            suppression = sa.Table(config.suppression.table, metadata, autoload_with=conn)
            if config.suppression.column not in suppression.c:
                raise FatalStoreError(
                    f"{config.name}: table {suppression.name} has no column "
                    f"{config.suppression.column}"
                )
    return bound, suppression


def _code(err: sa_exc.DBAPIError) -> str:
    orig = err.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code is None and isinstance(orig, Exception) and orig.args and isinstance(orig.args[0], int):
        code = orig.args[0]  # MySQL / MariaDB error number
    return f" {code}" if code else ""


def _retriable(err: sa_exc.DBAPIError) -> bool:
    if err.connection_invalidated:
        return True
    if isinstance(err, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return not any(hint in str(err.orig).lower() for hint in _SCHEMA_HINTS)
    # MariaDB reports a lock wait timeout as an InternalError (1205): busy, not broken.
    orig = err.orig
    return isinstance(orig, Exception) and bool(orig.args) and orig.args[0] == 1205


@contextmanager
def store_errors(connector: str) -> Iterator[None]:
    """Map driver errors to Retriable/FatalStoreError with messages free of personal data."""
    try:
        yield
    except StoreError:
        raise
    except sa_exc.NoSuchTableError as err:
        raise FatalStoreError(f"{connector}: table {err.args[0]} does not exist") from None
    except sa_exc.DBAPIError as err:
        kind = f"{type(err.orig).__name__}{_code(err)}"
        if _retriable(err):
            raise RetriableStoreError(f"{connector}: store unreachable or busy ({kind})") from None
        raise FatalStoreError(f"{connector}: store rejected a statement ({kind})") from None
    except (sa_exc.TimeoutError, sa_exc.DisconnectionError) as err:
        kind = type(err).__name__
        raise RetriableStoreError(f"{connector}: store unreachable ({kind})") from None
    except sa_exc.SQLAlchemyError as err:
        raise FatalStoreError(f"{connector}: store error ({type(err).__name__})") from None
