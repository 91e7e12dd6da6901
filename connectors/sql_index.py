"""A SQL store's identifier index kept current, and the rows a search proposes through it.

Every top-level table with ``match`` columns is indexed: its rows are read by key, in pages,
and each identifier they hold is entered under its lookup keys (``dsr.spellings``). A search
looks its values up, then re-reads the proposed rows by key in the store; ``Scanner`` judges
what each row holds now, so a stale or colliding entry costs a re-read, never a wrong match.

Freshness: a search for a request received at ``as_of`` waits until every table is covered up
to then. A table with ``changed_at`` catches up on the rows changed since its last refresh
(less ``LAG``, for transactions that commit after the time they stamp); one without is read
again whole. The first build of a large table can take a while: it is resumable (the state
keeps the last key done) and ``dsr connectors index`` runs it ahead with a progress bar.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from connectors.identifier_index import IdentifierIndex, State
from connectors.sql_config import TableSpec
from connectors.sql_tables import Bound, Params, rows_of
from dsr.spellings import lookup_keys

_NEVER = datetime.min
LAG = timedelta(minutes=10)  # how far a row's changed_at may trail its commit
PAGE = 20_000  # rows read and indexed per transaction
PERSIST_EVERY = timedelta(seconds=30)  # how stale the shared coverage may be left
Progress = Callable[[str, int, int | None], None]  # table, rows done, rows expected


def utc_naive(moment: datetime) -> datetime:
    """``moment`` as a naive UTC datetime (how the index and the ledger store times)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


@dataclass(frozen=True)
class Refreshed:
    """One table's refresh: how many rows were (re-)indexed, whole or only what changed."""

    table: str
    rows: int
    full: bool
    seconds: float


class StoreIndex:
    """The identifier index of one SQL store."""

    def __init__(
        self,
        store: str,
        engine: sa.Engine,
        tables: Callable[[], dict[str, Bound]],
        index: IdentifierIndex,
    ) -> None:
        self.store = store
        self.engine = engine
        self._tables = tables
        self.index = index
        self._lock = threading.Lock()
        self._covered: dict[str, datetime] = {}  # table -> covered_until last seen
        self._persisted: dict[str, datetime] = {}  # table -> covered_until last written

    def indexed(self) -> list[Bound]:
        """The tables searched through the index: those with ``match`` columns."""
        return [b for b in self._tables().values() if b.spec.match]

    def fingerprint(self, spec: TableSpec) -> str:
        """What a table's entries were made from; another value means index it anew."""
        made_of = {
            "store": self.engine.url.render_as_string(hide_password=True),  # moved: index anew
            "key": spec.key,
            "match": spec.match,
            "null_when": spec.null_when,
            "digest": self.index.key_check,
            "version": 1,
        }
        return hashlib.sha256(json.dumps(made_of, sort_keys=True).encode()).hexdigest()[:32]

    # -- keeping it current ---------------------------------------------------------------

    def ensure_fresh(self, as_of: datetime | None, progress: Progress | None = None) -> None:
        """Bring every table's index up to ``as_of`` before it is searched (None: as it stands,
        once it has been built: tools, and the checks that follow this system's own writes)."""
        wanted = _NEVER if as_of is None else utc_naive(as_of)
        for bound in self.indexed():
            covered = self._covered.get(bound.name)
            if covered is not None and covered >= wanted:
                continue  # coverage only grows: no need to ask the index again
            if covered is not None and bound.spec.changed_at:
                self._catch_up_here(bound, wanted)  # one query of the store, most often
                continue
            state = self.index.state(self.store, bound.name)
            if state is None or not self._current(bound, state, wanted):
                self.refresh_table(bound, progress=progress, until=wanted)
                state = self.index.state(self.store, bound.name)
            if state is not None and state.covered_until is not None and not state.cursor:
                self._covered[bound.name] = state.covered_until

    def _current(self, bound: Bound, state: State, wanted: datetime) -> bool:
        return (
            state.fingerprint == self.fingerprint(bound.spec)
            and state.cursor is None
            and state.covered_until is not None
            and state.covered_until >= wanted
        )

    def refresh(self, *, full: bool = False, progress: Progress | None = None) -> list[Refreshed]:
        """Refresh every table now (the scheduler's job and ``dsr connectors index``)."""
        now = utc_naive(datetime.now(UTC))
        return [
            self.refresh_table(b, progress=progress, until=now, full=full) for b in self.indexed()
        ]

    def refresh_table(
        self,
        bound: Bound,
        *,
        until: datetime,
        progress: Progress | None = None,
        full: bool = False,
    ) -> Refreshed:
        """Index one table up to ``until``: resume or start a build, or catch up on changes."""
        with self._lock:  # one refresh at a time per process; another process only repeats it
            started = time.monotonic()
            state = self.index.state(self.store, bound.name)
            if state is not None and state.fingerprint != self.fingerprint(bound.spec):
                self.index.clear(self.store, bound.name)
                state = None
            if state is not None and not full and self._current(bound, state, until):
                return Refreshed(bound.name, 0, False, 0.0)  # a refresh that ran meanwhile
            if (
                state is not None
                and not full
                and state.cursor is None
                and state.covered_until is not None
                and bound.spec.changed_at
            ):
                rows = self._catch_up(bound, state.covered_until)
                return Refreshed(bound.name, rows, False, time.monotonic() - started)
            rows = self._build(bound, state, progress, fresh=state is None)
            return Refreshed(bound.name, rows, True, time.monotonic() - started)

    def _build(
        self, bound: Bound, state: State | None, progress: Progress | None, *, fresh: bool
    ) -> int:
        """Read the whole table by key, page by page, resuming a build that was cut off."""
        resuming = state is not None and state.cursor is not None and state.build_started
        began = state.build_started if resuming and state else utc_naive(datetime.now(UTC))
        cursor = state.cursor if resuming and state else None
        done = 0
        if not resuming:
            self.index.set_state(
                self.store,
                bound.name,
                fingerprint=self.fingerprint(bound.spec),
                build_started=began,
                cursor=None,
                covered_until=None if fresh else (state.covered_until if state else None),
                rows=0,
            )
        total = self._estimate(bound)
        # One page is written while the next is read and keyed: the drivers release the GIL
        # while they wait, so the two overlap on a second core.
        with ThreadPoolExecutor(max_workers=1) as writer:
            pending: Future[None] | None = None
            digests = self._keyer(bound)
            for page in self._pages(bound, cursor):
                keyed = [(str(r[0]), digests(r)) for r in page]
                if pending is not None:
                    pending.result()
                    if progress is not None:
                        progress(bound.name, done, total)
                pending = writer.submit(
                    self.index.put,
                    self.store,
                    bound.name,
                    keyed,
                    replace=not fresh,
                    state={"cursor": keyed[-1][0]},
                )
                done += len(page)
            if pending is not None:
                pending.result()
                if progress is not None:
                    progress(bound.name, done, total)
        self.index.set_state(
            self.store,
            bound.name,
            cursor=None,
            covered_until=began,
            rows=total if total is not None else done,
        )
        return done

    def _catch_up_here(self, bound: Bound, wanted: datetime) -> None:
        """Catch a table this process has seen built up to ``wanted``, coalesced: requests
        waiting on the lock are covered by the catch-up that started after they arrived."""
        with self._lock:
            covered = self._covered[bound.name]
            if covered >= wanted:
                return
            began = utc_naive(datetime.now(UTC))
            changed = self._catch_up(bound, covered, persist=False)
            self._covered[bound.name] = began
            # The shared state is written when something changed, or now and then, so other
            # processes start from a recent point; this process relies on its own.
            if changed or began - self._persisted.get(bound.name, _NEVER) > PERSIST_EVERY:
                self.index.set_state(self.store, bound.name, covered_until=began)
                self._persisted[bound.name] = began

    def _catch_up(self, bound: Bound, covered: datetime, *, persist: bool = True) -> int:
        """Re-index the rows changed since ``covered`` (less the lag); the table is then covered
        up to when this started."""
        began = utc_naive(datetime.now(UTC))
        column = bound.col(bound.spec.changed_at or "")
        since = _comparable(column, covered - LAG)
        stmt = sa.select(*self._columns(bound)).where(column >= since)
        done = 0
        with self._connect(bound) as conn:
            page: list[dict[str, Any]] = []
            for row in rows_of(conn.execution_options(yield_per=PAGE).execute(stmt)):
                page.append(row)
                if len(page) >= PAGE:
                    done += self._put_changed(bound, page)
                    page = []
            done += self._put_changed(bound, page)
        if persist:
            self.index.set_state(self.store, bound.name, covered_until=began)
        return done

    def _put_changed(self, bound: Bound, page: list[dict[str, Any]]) -> int:
        if page:
            self.index.put(
                self.store,
                bound.name,
                [(str(r[bound.spec.key]), self.digests(bound.spec, r)) for r in page],
                replace=True,
            )
        return len(page)

    def reread(self, conn: sa.Connection, bound: Bound, keys: Sequence[Any]) -> None:
        """Replace the entries of rows this system just changed with what they hold now (a
        rectified address is found by its new value; an erased or anonymised row no more)."""
        for i in range(0, len(keys), PAGE):
            chunk = [str(k) for k in keys[i : i + PAGE]]
            stmt, params = keys_params(bound, chunk, live_only=False)
            now = {str(r[bound.spec.key]): r for r in rows_of(conn.execute(stmt, params))}
            self.index.put(
                self.store,
                bound.name,
                [(k, self.digests(bound.spec, now[k]) if k in now else []) for k in chunk],
                replace=True,
            )

    def digests(self, spec: TableSpec, row: Mapping[str, Any]) -> list[int]:
        """The digests of every identifier a row holds in its ``match`` columns."""
        return self._keyed(_plan(spec, lambda column: column), row)

    def _keyed(self, plan: list[tuple[Any, str, frozenset[str]]], row: Any) -> list[int]:
        out: list[int] = []
        digests = self.index.digests
        for at, kind, none in plan:
            value = row[at]
            if value is not None and not (none and str(value) in none):
                out += digests(kind, lookup_keys(kind, value))
        return out

    def _columns(self, bound: Bound) -> list[sa.Column[Any]]:
        names = dict.fromkeys(
            [bound.spec.key, *(c for cs in bound.spec.match.values() for c in cs)]
        )
        return [bound.col(n) for n in names]

    def _pages(self, bound: Bound, cursor: str | None) -> Iterator[Sequence[sa.Row[Any]]]:
        """The table's rows (key first, then the ``match`` columns) in key order, by page."""
        key = bound.key
        last: Any = None if cursor is None else (int(cursor) if bound.int_key else cursor)
        while True:
            stmt = sa.select(*self._columns(bound)).order_by(key).limit(PAGE)
            if last is not None:
                stmt = stmt.where(key > last)
            with self._connect(bound) as conn:
                page = conn.execute(stmt).all()
            if not page:
                return
            last = page[-1][0]
            yield page

    def _keyer(self, bound: Bound) -> Callable[[Sequence[Any]], list[int]]:
        """A row's digests from a tuple in ``_columns`` order: a build keys millions of rows,
        so each column's position is looked up once."""
        names = [c.name for c in self._columns(bound)]
        plan = _plan(bound.spec, names.index)
        return lambda row: self._keyed(plan, row)

    def _estimate(self, bound: Bound) -> int | None:
        with self._connect(bound) as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(bound.table)).scalar_one()
            )

    def _connect(self, bound: Bound) -> sa.Connection:
        return self.engine.connect()

    # -- searching ------------------------------------------------------------------------

    def lookup(self, values: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
        """Row keys per table that may hold any of ``values`` (normalised, per kind)."""
        digests = [
            d
            for kind, items in values.items()
            for v in items
            for d in self.index.digests(kind, lookup_keys(kind, v))
        ]
        if not digests:
            return {}
        return {t: sorted(keys) for t, keys in self.index.lookup(self.store, digests).items()}


def _plan(spec: TableSpec, at: Callable[[str], Any]) -> list[tuple[Any, str, frozenset[str]]]:
    """(where a row holds the column, its identifier kind, the values meaning "none")."""
    return [
        (at(column), kind, frozenset(spec.null_when.get(column, ())))
        for kind, columns in spec.match.items()
        for column in columns
    ]


def _comparable(column: sa.Column[Any], moment: datetime) -> Any:
    """``moment`` in the form the change column stores (naive or aware time, text, epoch)."""
    kind = column.type
    if isinstance(kind, sa.DateTime):
        return moment.replace(tzinfo=UTC) if kind.timezone else moment
    if isinstance(kind, sa.Integer):
        return int(moment.replace(tzinfo=UTC).timestamp())
    return moment.isoformat(sep=" ", timespec="seconds")


def keys_params(
    bound: Bound, keys: Sequence[str], *, live_only: bool = True
) -> tuple[sa.Select[Any], Params]:
    """The statement re-reading proposed rows by key, the key strings in the key's type."""
    typed: list[Any] = [int(k) for k in keys] if bound.int_key else list(keys)
    return bound.keys_select(typed, live_only=live_only)
