"""Bulk inserts for the product fixtures: COPY on PostgreSQL, LOAD DATA LOCAL INFILE on
MariaDB (multi-row INSERTs when the connection does not allow it), ``executemany`` on SQLite,
one transaction per batch.

MariaDB's LOAD DATA needs ``local_infile`` on the server (the default) and on the client
connection: ``local_engine`` makes such an engine. The data file is a temporary TSV of ours,
removed at once; the connector under test never gets a connection that allows it.

A batch is ``{table name: [row dict, ...]}``; every row of a table has the same keys. Tables
are written in the order given (parents before children), so a batch never breaks a foreign
key. Bound parameters only: no value is ever spliced into SQL text.
"""

from __future__ import annotations

import json
import os
import queue
import tempfile
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

Rows = dict[str, list[dict[str, Any]]]


def _sqlite_value(value: object) -> object:
    # sqlite3's default datetime adapter is deprecated; SQLAlchemy reads this form back.
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return value


_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def _tsv(value: object) -> str:
    """One field of a LOAD DATA file (FIELDS TERMINATED BY tab, ESCAPED BY backslash)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (datetime, date)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, dict):
        value = json.dumps(value)
    return str(value).translate(_TSV_ESCAPES)


def local_engine(url: str) -> sa.Engine:
    """An engine whose MariaDB connections may send LOAD DATA LOCAL files (others: as is)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        return sa.create_engine(parsed, connect_args={"local_infile": True})
    return sa.create_engine(parsed)


def _load_data(
    driver: Any, table: sa.Table, columns: list[str], rows: Sequence[Mapping[str, Any]]
) -> bool:
    """LOAD DATA LOCAL INFILE from a temporary TSV; False when the connection may not."""
    if not getattr(driver, "_local_infile", False):
        return False
    fd, path = tempfile.mkstemp(prefix="products-", suffix=".tsv")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            for row in rows:  # strings, ints and NULLs (most fields) inline: this is the hot loop
                out.write(
                    "\t".join(
                        v.translate(_TSV_ESCAPES)
                        if type(v) is str
                        else "\\N"
                        if v is None
                        else str(v)
                        if type(v) is int
                        else _tsv(v)
                        for v in map(row.__getitem__, columns)
                    )
                )
                out.write("\n")
        names = ", ".join(f"`{c}`" for c in columns)
        with driver.cursor() as cursor:
            cursor.execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE `{table.name}` CHARACTER SET utf8mb4 "
                f"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({names})",
                (path,),
            )
            if cursor.rowcount != len(rows):
                raise RuntimeError(f"LOAD DATA wrote {cursor.rowcount} of {len(rows)} rows")
    finally:
        os.unlink(path)
    return True


def insert(conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write ``rows`` into ``table`` through the driver's fastest path."""
    if not rows:
        return
    columns = list(rows[0])
    driver: Any = conn.connection.driver_connection
    dialect = conn.dialect.name
    if dialect == "postgresql":
        names = ", ".join(f'"{c}"' for c in columns)
        with (
            driver.cursor() as cursor,
            cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy,
        ):
            for row in rows:
                copy.write_row(
                    [json.dumps(v) if isinstance(v, dict) else v for v in map(row.get, columns)]
                )
    elif dialect in ("mysql", "mariadb"):
        if _load_data(driver, table, columns, rows):
            return
        names = ", ".join(f"`{c}`" for c in columns)
        marks = ", ".join(["%s"] * len(columns))
        with driver.cursor() as cursor:  # pymysql folds executemany into multi-row INSERTs
            cursor.executemany(
                f"INSERT INTO `{table.name}` ({names}) VALUES ({marks})",
                [tuple(row[c] for c in columns) for row in rows],
            )
    else:
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join(["?"] * len(columns))
        driver.executemany(
            f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})',
            [tuple(_sqlite_value(row[c]) for c in columns) for row in rows],
        )


def _ahead(batches: Iterable[Rows]) -> Iterator[Rows]:
    """``batches``, the next one built in a thread while the database takes the current one
    (the drivers release the GIL while they wait on the server). A consumer that stops early
    (a failed insert) stops the builder too."""
    ready: queue.Queue[Rows | BaseException | None] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(item: Rows | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def build() -> None:
        try:
            for batch in batches:
                if not hand_over(batch):
                    return
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, raised there
            hand_over(err)
        else:
            hand_over(None)

    worker = threading.Thread(target=build, name="products-batches", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def load(engine: sa.Engine, tables: Sequence[sa.Table], batches: Iterable[Rows]) -> Counter[str]:
    """Insert every batch (one transaction each), tables in the order given; rows per table.
    The next batch is built while the current one is written."""
    counts: Counter[str] = Counter()
    for batch in _ahead(batches):
        with engine.begin() as conn:
            for table in tables:
                rows = batch.get(table.name)
                if rows:
                    insert(conn, table, rows)
                    counts[table.name] += len(rows)
    return counts


@contextmanager
def indexes_deferred(engine: sa.Engine, tables: Sequence[sa.Table]) -> Iterator[None]:
    """Drop the tables' secondary indexes for a bulk load and build them again after it (a
    sorted build beats maintaining six indexes row by row); primary keys, unique constraints
    and foreign keys stay. The schema afterwards is the one ``create_tables`` makes."""
    indexes = [ix for table in tables for ix in sorted(table.indexes, key=lambda i: str(i.name))]
    with engine.begin() as conn:
        for index in indexes:
            conn.execute(sa.schema.DropIndex(index))
    yield
    with engine.begin() as conn:
        for index in indexes:
            conn.execute(sa.schema.CreateIndex(index))


def count_rows(engine: sa.Engine, tables: Iterable[sa.Table]) -> Counter[str]:
    """The rows each table holds now."""
    counts: Counter[str] = Counter()
    with engine.connect() as conn:
        for table in tables:
            counts[table.name] = int(
                conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            )
    return counts
