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
    audio_name,
    connectors_file,
    copy_stores,
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
    with stores.engine("recordings").connect() as conn:
        table = sa.Table("calls", sa.MetaData(), autoload_with=conn)
        return {r["id"]: dict(r) for r in conn.execute(sa.select(table)).mappings()}


def _run_report(db_url: str) -> PurgeRun | None:
    with Session(get_engine(db_url)) as session:
        return session.exec(select(PurgeRun)).first()


def _chunks_recorded(db_url: str, proc: subprocess.Popen[str]) -> None:
    end = time.monotonic() + 60
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        run = _run_report(db_url)
        if run is not None and run.report["stores"] and run.report["stores"][0]["chunks"]:
            return
        time.sleep(0.01)
    raise AssertionError("the sweep never put a chunk on record")


def test_recordings_sweep_killed_mid_run_never_orphans_rows_or_files(tmp_path: Path) -> None:
    """SIGKILL of a recordings sweep: no index row points at a missing file, the rerun removes
    every aged call and its audio, and the audit log sums to exactly the calls removed."""
    stores = seeded_stores(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", None)
    migrate(stores.rt.db_url)
    audio = stores.data_dir / "recordings" / "audio"
    before = _calls(stores)
    aged_ids = {k for k, r in before.items() if aged("calls", r)}
    assert len(aged_ids) > 4 * CHUNK
    env = _env(stores, tmp_path / "var")
    proc = _purge(env, "recordings")
    _chunks_recorded(stores.rt.db_url, proc)
    # Stop the sweep where a crash hurts most: a chunk committed in the index, its count on
    # its way to the ledger, its files still on disk. The ledger's lock holds it in the
    # count's UPDATE; the index's lock then holds it before the next write there; the ledger
    # lets go, and the sweep is killed wherever it stands.
    ledger = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    ledger.execute("BEGIN IMMEDIATE")
    time.sleep(0.5)
    index = sqlite3.connect(stores.data_dir / "recordings" / "index.db", isolation_level=None)
    index.execute("BEGIN IMMEDIATE")
    ledger.execute("ROLLBACK")
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    index.execute("ROLLBACK")
    index.close()
    ledger.close()

    middle = _calls(stores)
    removed = aged_ids - set(middle)
    killed = _run_report(stores.rt.db_url)
    assert killed is not None and killed.finished_at is None and removed  # killed mid-run
    assert killed.report["stores"][0]["purged"] == len(removed)  # it kept its record
    missing = [k for k, r in middle.items() if not (audio / audio_name(r)).is_file()]
    assert missing == []  # no index row points at a missing file

    proc = _purge(env, "recordings")
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    after = _calls(stores)
    assert set(after) == set(before) - aged_ids
    assert {p.name for p in audio.iterdir()} == {audio_name(r) for r in after.values()}
    assert _audited(stores.rt.db_url, "recordings") == len(aged_ids)
    stores.close()
