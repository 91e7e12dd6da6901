"""A sweep killed mid-run resumes to the same end state, with every removed row on record."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from connectors import purge_log
from dsr.core.ledger.db import get_engine, migrate
from dsr.core.ledger.models import AuditEvent, PurgeRun
from dsr.core.ops import retention
from dsr.core.ops.retention import PurgeRequest
from dsr.core.runtime.process import Runtime
from tests import services
from tests.scheduler.stores import (
    NOW,
    SECRET,
    aged,
    connectors_file,
    copy_stores,
    recordings,
    seeded_stores,
    settings,
)

DSR = str(Path(sys.executable).parent / "dsr")
CHUNK = 4


@pytest.fixture
def second_postgres_url() -> Iterator[str]:
    """Another fresh PostgreSQL schema, for an identical copy of the stores."""
    yield from services.fresh_postgres_url()


def _customers(url: str) -> dict[int, dict[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            table = sa.Table("customers", sa.MetaData(), autoload_with=conn)
            return {r["id"]: dict(r) for r in conn.execute(sa.select(table)).mappings()}
    finally:
        engine.dispose()


def _env(stores: Any, var_dir: Path) -> dict[str, str]:
    """What ``dsr purge`` needs to sweep ``stores`` with their ledger."""
    return {
        **os.environ,
        "DSR_DATABASE_URL": stores.rt.db_url,
        "DSR_SECRET_KEY": SECRET,
        "DSR_CONNECTORS_FILE": str(stores.rt.settings.connectors_file),
        "DSR_DATA_DIR": str(stores.data_dir),
        "DSR_VAR_DIR": str(var_dir),
    }


def _purge(env: dict[str, str], connector: str = "crm") -> subprocess.Popen[str]:
    args = [
        DSR,
        "purge",
        "--connector",
        connector,
        "--chunk-size",
        str(CHUNK),
        "--as-of",
        NOW.strftime("%Y-%m-%dT%H:%M:%S"),
        "--json",
    ]
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _blocked_by(url: str, me: int, proc: subprocess.Popen[str]) -> int:
    """The sweep's backend once it waits on our row lock (so its first chunk has committed)."""
    query = sa.text("SELECT pid FROM pg_stat_activity WHERE :me = ANY(pg_blocking_pids(pid))")
    watcher = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            assert proc.poll() is None, proc.communicate()
            with watcher.connect() as conn:
                found = conn.execute(query, {"me": me}).scalar()
            if found:
                return int(found)
            time.sleep(0.05)
    finally:
        watcher.dispose()
    raise AssertionError("the sweep never reached its second chunk")


def test_sweep_killed_after_first_chunk_resumes_to_same_end_state(
    tmp_path: Path, postgres_url: str, second_postgres_url: str
) -> None:
    """SIGKILL mid-sweep, then a rerun, leaves exactly what an uninterrupted sweep leaves."""
    killed = seeded_stores(tmp_path / "a", f"sqlite:///{tmp_path / 'a.db'}", postgres_url)
    copy_stores(tmp_path / "a" / "data", second_postgres_url)
    migrate(killed.rt.db_url)
    before = _customers(postgres_url)
    aged_keys = sorted(k for k, r in before.items() if aged("customers", r))
    first_chunk = {k for k in aged_keys if k < aged_keys[0] + CHUNK}
    in_second_chunk = min(k for k in aged_keys if k >= aged_keys[0] + CHUNK)

    env = _env(killed, tmp_path / "a" / "var")
    locker = sa.create_engine(postgres_url)
    with locker.connect() as conn:
        conn.execute(
            sa.text("SELECT id FROM customers WHERE id = :k FOR UPDATE"), {"k": in_second_chunk}
        )  # the second chunk waits here
        me = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        proc = _purge(env)
        backend = _blocked_by(postgres_url, me, proc)
        with Session(get_engine(killed.rt.db_url)) as session:
            run = session.exec(select(PurgeRun)).one()
            assert run.finished_at is None and run.report["status"] == "running"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": backend})
        conn.rollback()
    locker.dispose()

    middle = _customers(postgres_url)
    assert not first_chunk & set(middle) and in_second_chunk in middle
    assert all(middle[k] == r for k, r in before.items() if not aged("customers", r))
    with Session(get_engine(killed.rt.db_url)) as session:  # the killed run kept its record
        (store,) = session.exec(select(PurgeRun)).one().report["stores"]
        assert store["purged"] == len(first_chunk)

    proc = _purge(env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    (report,) = json.loads(out)["stores"]
    assert report["purged"] == len(aged_keys) - len(first_chunk)

    fresh = Runtime(
        settings(
            tmp_path / "b",
            f"sqlite:///{tmp_path / 'b.db'}",
            connectors_file=connectors_file(tmp_path / "b", second_postgres_url),
        )
    )
    migrate(fresh.db_url)
    retention.sweep(fresh, "crm", PurgeRequest(as_of=NOW, chunk_size=CHUNK))
    assert _customers(postgres_url) == _customers(second_postgres_url)
    assert set(_customers(postgres_url)) == set(before) - set(aged_keys)

    with Session(get_engine(killed.rt.db_url)) as session:
        first, second = session.exec(select(PurgeRun).order_by(col(PurgeRun.started_at))).all()
    assert first.report["status"] == "superseded" and first.report["superseded_by"] == second.id
    assert first.report["interrupted"] is True  # killed: on record as interrupted, not done
    assert not any(s["done"] for s in first.report["stores"])
    assert second.report["status"] == "finished" and second.finished_at is not None
    assert _audited(killed.rt.db_url, "crm") == len(aged_keys)  # every removed row on record
    fresh.close()
    killed.close()


def test_a_sweep_killed_before_its_chunk_reached_the_ledger_keeps_it_on_record(
    tmp_path: Path, postgres_url: str, second_postgres_url: str
) -> None:
    """SIGKILL after a chunk commits in the store and before its count commits in the ledger
    (the two are different databases): the next run reads the store's own count of the killed
    run, and the audit log still sums to every row removed."""
    stores = seeded_stores(tmp_path, second_postgres_url, postgres_url)  # both on PostgreSQL
    migrate(stores.rt.db_url)
    before = _customers(postgres_url)
    aged_keys = sorted(k for k, r in before.items() if aged("customers", r))
    in_second_chunk = min(k for k in aged_keys if k >= aged_keys[0] + CHUNK)
    env = _env(stores, tmp_path / "var")
    store_side, ledger_side = sa.create_engine(postgres_url), sa.create_engine(stores.rt.db_url)
    with store_side.connect() as store, ledger_side.connect() as ledger:
        store.execute(
            sa.text("SELECT id FROM customers WHERE id = :k FOR UPDATE"), {"k": in_second_chunk}
        )
        proc = _purge(env)
        _blocked_by(
            postgres_url, store.execute(sa.text("SELECT pg_backend_pid()")).scalar_one(), proc
        )
        # The first chunk is on record; the second waits on our customer row. Hold the run's
        # ledger row, then let the second chunk commit: its count waits on us, and dies.
        ledger.execute(sa.text("SELECT id FROM purge_runs FOR UPDATE"))
        ledger_me = ledger.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        store.rollback()
        _blocked_by(postgres_url, ledger_me, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        ledger.rollback()
    store_side.dispose()
    ledger_side.dispose()
    removed = len(before) - len(_customers(postgres_url))
    with Session(get_engine(stores.rt.db_url)) as session:
        (recorded,) = session.exec(select(PurgeRun)).one().report["stores"]
    assert recorded["purged"] < removed  # the second chunk is gone from the store, not recorded

    proc = _purge(env)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert set(_customers(postgres_url)) == set(before) - set(aged_keys)
    assert _audited(stores.rt.db_url, "crm") == len(aged_keys)  # the killed chunk included
    stores.close()


def _audited(db_url: str, connector: str) -> int:
    """Rows the audit log says retention sweeps removed from ``connector``."""
    with Session(get_engine(db_url)) as session:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.action == "retention_purged")
        ).all()
    return sum(e.detail["purged"] for e in events if e.detail["connector"] == connector)


def _calls(stores: Any) -> dict[str, dict[str, Any]]:
    """The PBX's call legs by uniqueid."""
    with stores.engine("recordings").connect() as conn:
        table = sa.Table("cdr", sa.MetaData(), autoload_with=conn)
        return {r["uniqueid"]: dict(r) for r in conn.execute(sa.select(table)).mappings()}


def _named(calls: dict[str, dict[str, Any]]) -> set[str]:
    """The recordings the calls name (their path below the monitor folder)."""
    return {r["recordingfile"] for r in calls.values() if r["recordingfile"]}


def _run_report(db_url: str) -> PurgeRun | None:
    with Session(get_engine(db_url)) as session:
        return session.exec(select(PurgeRun)).first()


def _chunk_committed(store: Path, proc: subprocess.Popen[str]) -> None:
    """Wait until the sweep's first chunk has committed in the store (its count in the purge
    log, which the chunk writes in its own transaction)."""
    reader = sqlite3.connect(store, isolation_level=None)
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            assert proc.poll() is None, proc.communicate()
            try:
                if reader.execute(f"SELECT count(*) FROM {purge_log.NAME}").fetchone()[0]:
                    return
            except sqlite3.OperationalError:  # no purge log yet
                pass
            time.sleep(0.01)
    finally:
        reader.close()
    raise AssertionError("the sweep never committed a chunk")


def _files_gone(stores: Any, proc: subprocess.Popen[str]) -> None:
    """Wait until some call names a recording that is no longer on disk (a chunk removed its
    files and waits to delete its rows)."""
    end = time.monotonic() + 60
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        if _named(_calls(stores)) - recordings(stores.data_dir):
            return
        time.sleep(0.01)
    raise AssertionError("the sweep never removed a file")


def _run_opened(db_url: str, proc: subprocess.Popen[str]) -> None:
    """Wait until the sweep has put its run on record in the ledger."""
    end = time.monotonic() + 60
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        if _run_report(db_url) is not None:
            return
        time.sleep(0.01)
    raise AssertionError("the sweep never opened its run")


def test_recordings_sweep_killed_mid_run_never_orphans_a_file(tmp_path: Path) -> None:
    """SIGKILL of a recordings sweep: no recording is left that no call names (a chunk's files
    go before its rows, so a killed chunk leaves rows naming missing files, never the other
    way); the rerun removes every aged call and its recording, and the audit log sums to
    exactly the calls removed."""
    stores = seeded_stores(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", None)
    migrate(stores.rt.db_url)
    before = _calls(stores)
    aged_ids = {k for k, r in before.items() if aged("cdr", r)}
    assert len(aged_ids) > 4 * CHUNK
    env = _env(stores, tmp_path / "var")
    # Stop the sweep where a crash hurts most: a chunk's files removed, its rows not yet
    # deleted, one chunk before it done and on record. The store's lock holds the sweep before
    # its first write there (the purge log), until the ledger's lock is in place; the first
    # chunk then commits and waits to be recorded; the store's lock, taken again, holds the
    # second chunk at its DELETE, after its files went; the ledger lets go, and the sweep is
    # killed there.
    store = sqlite3.connect(
        stores.data_dir / "recordings" / "cdr.db", isolation_level=None, timeout=60
    )
    ledger = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None, timeout=60)
    store.execute("BEGIN IMMEDIATE")
    proc = _purge(env, "recordings")
    _run_opened(stores.rt.db_url, proc)
    ledger.execute("BEGIN IMMEDIATE")
    store.execute("ROLLBACK")
    _chunk_committed(stores.data_dir / "recordings" / "cdr.db", proc)
    store.execute("BEGIN IMMEDIATE")
    ledger.execute("ROLLBACK")
    _files_gone(stores, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store.execute("ROLLBACK")
    store.close()
    ledger.close()

    middle = _calls(stores)
    removed = aged_ids - set(middle)
    killed = _run_report(stores.rt.db_url)
    assert killed is not None and killed.finished_at is None and removed  # killed mid-run
    assert killed.report["stores"][0]["purged"] == len(removed)  # it kept its record
    on_disk = recordings(stores.data_dir)
    assert on_disk <= _named(middle)  # no recording that no call names
    lost = {k for k, r in middle.items() if r["recordingfile"] not in on_disk | {""}}
    assert lost and lost <= aged_ids  # the killed chunk's rows name files already gone

    proc = _purge(env, "recordings")
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    after = _calls(stores)
    assert set(after) == set(before) - aged_ids
    assert recordings(stores.data_dir) == _named(after)
    assert _audited(stores.rt.db_url, "recordings") == len(aged_ids)
    stores.close()
