"""SqlStore's view of its tables: the YAML spec bound to the reflected SQLAlchemy table, and
the SELECTs a search runs on it, each built once (only the bound values change per subject).

Also the two things every statement needs: the subject's search values, normalised the way
the shadow columns are, and the mapping of driver errors onto the error tree (retry or not),
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
from dsr.identity import Identity, normalise_value

IN_CHUNK = 1000  # keys per IN list (parent keys when fetching child rows)
Params = dict[str, Any]
REDACTED = "[đã xoá]"  # what a "redact" column holds after anonymisation ("erased")
_SLOTS_STEP = 1024  # IN-list placeholders beyond the powers of two: multiples of this
_MEMO_MAX = 10_000  # distinct values one operation remembers (a streamed export stays small)
_SCHEMA_HINTS = ("no such table", "no such column", "has no column")  # SQLite says these as
# OperationalError, which otherwise means "locked / unreachable, try again"


class Normaliser:
    """``normalise_value`` remembered for one operation.

    Parsing an e-mail or phone number costs more than the indexed query that finds it; within
    one find or apply the subject's few identifiers come back again and again (each search
    round, each table, each row's ``provides``), so each distinct value is parsed once. It is
    dropped with the operation: no identifier is kept for the next request.
    """

    def __init__(self, region: str) -> None:
        self.region = region
        self._done: dict[tuple[str, str], str | None] = {}

    def __call__(self, kind: str, raw: object) -> str | None:
        if raw is None:
            return None
        key = (kind, str(raw))  # normalise_value reads only str(raw)
        try:
            return self._done[key]
        except KeyError:
            value = normalise_value(kind, key[1], self.region)
            if len(self._done) < _MEMO_MAX:
                self._done[key] = value
            return value


def search_values(
    identity: Identity,
    kinds: Iterable[str],
    region: str,
    *,
    normalise: Normaliser | None = None,
) -> dict[str, list[str]]:
    """The identity's values per kind, normalised like the shadow columns they are matched to.

    A value that does not normalise (not an email, not a phone) is still searched for as typed,
    as a bound parameter: it cannot match a normalised column, and it proves nothing is spliced.
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
    # SELECTs built once per set of match kinds and IN-list slots (and compiled once, by
    # SQLAlchemy's cache): building a statement costs several times what running it does.
    _selects: dict[tuple[tuple[str, ...], tuple[int, ...]], sa.Select[Any]] = field(
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
        """Columns shown to the subject: all but the derived shadow columns."""
        return tuple(c.name for c in self.table.columns if c.name not in self.spec.derived)

    def fit(self, column: str, text: str) -> str:
        """``text`` cut to the column's declared length (a marker must never overflow)."""
        length = getattr(self.col(column).type, "length", None)
        return text[:length] if length else text

    def match_select(self, values: Mapping[str, list[str]]) -> tuple[sa.Select[Any], Params] | None:
        """The rows whose match columns hold any of ``values``, in key order: the statement
        and its parameters (None: nothing to search by)."""
        kinds = tuple(k for k in self.spec.match if k in values)
        if not kinds:
            return None
        slots = tuple(_slots(len(values[k])) for k in kinds)
        stmt = self._selects.get((kinds, slots))
        if stmt is None:
            hits = [
                _in_list(self.col(self.spec.match[k]), f"match_{k}", n)
                for k, n in zip(kinds, slots, strict=True)
            ]
            clause: ColumnElement[bool] = sa.or_(*hits)
            live = self.live_clause()
            if live is not None:
                clause = sa.and_(clause, live)
            stmt = sa.select(self.table).where(clause).order_by(self.key)
            self._selects[(kinds, slots)] = stmt
        params: Params = {}
        for kind, n in zip(kinds, slots, strict=True):
            params.update(_filled(f"match_{kind}", values[kind], n))
        return stmt, params

    def child_select(self, parent_keys: list[Any]) -> tuple[sa.Select[Any], Params]:
        """A child table's rows whose parent key is one of ``parent_keys``, in key order."""
        assert self.spec.parent is not None
        n = _slots(len(parent_keys))
        stmt = self._children.get(n)
        if stmt is None:
            fk = _in_list(self.col(self.spec.parent.column), "parent_key", n)
            stmt = self._children[n] = sa.select(self.table).where(fk).order_by(self.key)
        return stmt, _filled("parent_key", parent_keys, n)

    def not_held_clause(self, held: dict[str, list[str]]) -> ColumnElement[bool] | None:
        """Rows that belong to no held subject (NULL match columns count as not held)."""
        parts = [
            sa.or_(self.col(c).is_(None), self.col(c).not_in(held[k]))
            for k, c in self.spec.match.items()
            if k in held
        ]
        return sa.and_(*parts) if parts else None

    def held_clause(self, held: dict[str, list[str]]) -> ColumnElement[bool] | None:
        """Rows that belong to a held subject (None when no held value applies here)."""
        hits = [self.col(c).in_(held[k]) for k, c in self.spec.match.items() if k in held]
        return sa.or_(*hits) if hits else None

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
