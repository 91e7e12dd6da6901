"""The identifier index kept outside a store: fresh up to a request's receipt, resumable, never
trusted blindly, and holding no identifier in the clear."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors import sql_index
from connectors.identifier_index import IdentifierIndex, entries, states
from connectors.sql import SqlStore
from dsr.identity import Identity

SECRET = "index-test-secret-" + "x" * 16
EARLY = datetime(2000, 1, 1)


def _store(url: str, tmp_path: Path, *, changed_at: bool = True, rows: int = 10) -> SqlStore:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS people"))
        conn.execute(
            sa.text(
                "CREATE TABLE people (id INTEGER PRIMARY KEY, email VARCHAR(100), "
                "phone VARCHAR(40), updated TIMESTAMP NULL)"
            )
        )
        conn.execute(
            sa.text("INSERT INTO people VALUES (:id, :email, :phone, :t)"),
            [
                {
                    "id": i,
                    "email": f" Person.{i}@Example.VN ",
                    "phone": f"0903-111-{i:03d}",
                    "t": datetime(2026, 1, 1),
                }
                for i in range(1, rows + 1)
            ],
        )
    engine.dispose()
    table: dict[str, Any] = {
        "name": "people",
        "key": "id",
        "match": {"email": "email", "phone": "phone"},
        "erase": {"mode": "delete"},
    }
    if changed_at:
        table["changed_at"] = "updated"
    entry = {"name": "people", "kind": "sql", "url": url, "tables": [table]}
    index = IdentifierIndex(f"sqlite:///{tmp_path / 'index.db'}", SECRET)
    return SqlStore.from_config(entry, secret_key=SECRET, index=index)


def _insert(store: SqlStore, i: int, email: str, when: datetime) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO people VALUES (:id, :e, NULL, :t)"),
            {"id": i, "e": email, "t": when},
        )


def _ids(store: SqlStore, email: str, as_of: datetime | None) -> list[int]:
    found = store.find(Identity({"email": {email}}), as_of=as_of)
    return [int(r["id"]) for r in found.records.get("people", [])]


@pytest.mark.parametrize("changed_at", [True, False], ids=["changed_at", "no_change_column"])
def test_a_record_written_before_the_request_is_found(
    sql_url: str, tmp_path: Path, changed_at: bool
) -> None:
    """A row added after the index was built, before the request, is found: the search first
    brings the index up to the request's receipt (by changed rows, or by reading it again)."""
    store = _store(sql_url, tmp_path, changed_at=changed_at)
    try:
        assert _ids(store, "person.3@example.vn", as_of=None) == [3]  # builds the index
        _insert(store, 50, "NEW.Person@Example.vn", datetime.now(UTC).replace(tzinfo=None))
        received = datetime.now(UTC)
        assert _ids(store, "new.person@example.vn", as_of=received) == [50]
    finally:
        store.close()


def test_an_index_behind_the_request_is_never_answered_from(sql_url: str, tmp_path: Path) -> None:
    """Covered up to an early time, the index serves only requests received before it."""
    store = _store(sql_url, tmp_path)
    try:
        store.refresh_index()
        _insert(store, 60, "late@example.vn", datetime.now(UTC).replace(tzinfo=None))
        # A request received long ago may be answered from the index as it stands...
        assert _ids(store, "late@example.vn", as_of=EARLY) == []
        # ...one received now waits for (here: runs) the catch-up first.
        assert _ids(store, "late@example.vn", as_of=datetime.now(UTC)) == [60]
    finally:
        store.close()


def test_an_entry_is_only_a_proposal(sql_url: str, tmp_path: Path) -> None:
    """A row whose address changed behind the index's back is re-read and no longer matches."""
    store = _store(sql_url, tmp_path)
    try:
        store.refresh_index()
        with store.engine.begin() as conn:  # no change stamp: the index cannot know
            conn.execute(sa.text("UPDATE people SET email = 'other@example.vn' WHERE id = 4"))
        assert _ids(store, "person.4@example.vn", as_of=EARLY) == []
    finally:
        store.close()


def test_a_cut_off_build_resumes_where_it_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build killed after its first page continues from the last key it finished."""
    monkeypatch.setattr(sql_index, "PAGE", 10)
    store = _store(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, rows=35)
    pages: list[int] = []

    def cut(table: str, done: int, total: int | None) -> None:
        pages.append(done)
        if len(pages) == 1:
            raise KeyboardInterrupt  # as a SIGINT would, mid-build

    try:
        with pytest.raises(KeyboardInterrupt):
            store.refresh_index(progress=cut)
        with store.index.index.engine.connect() as conn:
            cursor = conn.execute(sa.select(states.c.cursor)).scalar_one()
        assert cursor is not None  # the state says where it stopped
        done = store.refresh_index()
        assert sum(r.rows for r in done) < 35  # the finished pages were not read again
        assert _ids(store, "person.35@example.vn", as_of=EARLY) == [35]
        assert _ids(store, "person.1@example.vn", as_of=EARLY) == [1]
    finally:
        store.close()


def test_the_index_holds_no_identifier_in_the_clear(sql_url: str, tmp_path: Path) -> None:
    """Only keyed 64-bit digests and row keys: no address, no phone digits."""
    store = _store(sql_url, tmp_path)
    try:
        store.refresh_index()
        with store.index.index.engine.connect() as conn:
            rows = conn.execute(sa.select(entries)).all()
        assert len(rows) == 20  # one e-mail and one phone per row
        assert all(isinstance(r.digest, int) and "@" not in r.row_key for r in rows)
        assert not any("111" in str(value) for r in rows for value in r)
    finally:
        store.close()


def test_changed_rows_catch_up_within_the_lag(sql_url: str, tmp_path: Path) -> None:
    """A change stamped a little before the last refresh (a slow transaction) is still read."""
    store = _store(sql_url, tmp_path)
    try:
        store.refresh_index()
        stamped = datetime.now(UTC).replace(tzinfo=None) - sql_index.LAG / 2
        _insert(store, 70, "slow.commit@example.vn", stamped)
        assert _ids(store, "slow.commit@example.vn", as_of=datetime.now(UTC)) == [70]
        _insert(store, 71, "too.slow@example.vn", stamped - timedelta(days=1))
        # Stamped earlier than the lag allows: only a full refresh finds it.
        assert _ids(store, "too.slow@example.vn", as_of=datetime.now(UTC)) == []
        store.refresh_index(full=True)
        assert _ids(store, "too.slow@example.vn", as_of=None) == [71]
    finally:
        store.close()
