"""The audit log: appends take no lock, one sealer chains them, verify names tampering."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from dsr.core.ledger import audit
from dsr.core.ledger.db import get_engine, migrate, session_scope, units_of_work
from dsr.core.ledger.models import AuditEvent, AuditHead


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty ledger on SQLite, and on the machine's PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'dsr.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    migrate(url)
    yield url
    get_engine(url).dispose()


def _append(url: str, n: int, actor: str = "system") -> None:
    for i in range(n):
        with session_scope(url) as session:
            audit.record(session, actor=actor, action="task_done", request_id=f"{i:032x}", n=i)


def test_sealing_chains_every_event_in_order(ledger: str) -> None:
    """Events are unsealed until the sealer runs; then the chain holds all of them, in order."""
    _append(ledger, 25)
    with session_scope(ledger) as session:
        report = audit.verify(session)
    assert report.ok and report.events == 0 and report.unsealed == 25
    assert report.oldest_unsealed_at is not None
    assert audit.seal_all(units_of_work(ledger), batch=10) == 25
    with session_scope(ledger) as session:
        report = audit.verify(session)
        positions = session.exec(select(AuditEvent.position).order_by(AuditEvent.seq)).all()  # type: ignore[arg-type]
    assert report.ok and report.events == 25 and report.unsealed == 0
    assert positions == list(range(1, 26))


@pytest.mark.parametrize(
    ("tamper", "broken_at"),
    [
        ("UPDATE audit_events SET actor = 'mallory' WHERE position = 7", 7),
        ("DELETE FROM audit_events WHERE position = 4", 4),
        ("DELETE FROM audit_events WHERE position >= 9", 9),
    ],
)
def test_verify_names_the_first_edited_or_missing_event(
    ledger: str, tamper: str, broken_at: int
) -> None:
    """An edited event, a deleted one and a cut-off tail are each found, at the right place."""
    _append(ledger, 10)
    audit.seal_all(units_of_work(ledger))
    with get_engine(ledger).begin() as conn:
        conn.execute(sa.text(tamper))
    with session_scope(ledger) as session:
        report = audit.verify(session)
    assert not report.ok
    assert report.first_broken == broken_at


def test_a_writer_never_waits_for_the_sealer(postgres_url: str) -> None:
    """While the sealer holds the chain's tip, a transaction that records events commits at once."""
    migrate(postgres_url)
    _append(postgres_url, 1)
    audit.seal_all(units_of_work(postgres_url))
    engine = get_engine(postgres_url)
    with Session(engine) as sealer:
        sealer.exec(select(AuditHead).where(AuditHead.id == 1).with_for_update()).one()
        with Session(engine) as writer:
            writer.execute(sa.text("SET LOCAL lock_timeout = '1ms'"))
            audit.record(writer, actor="system", action="received", request_id="f" * 32)
            writer.commit()  # the old chain locked the tip here and would time out
        sealer.rollback()
    with session_scope(postgres_url) as session:
        assert audit.verify(session).unsealed == 1


def test_two_sealers_at_once_never_fork_the_chain(postgres_url: str) -> None:
    """Two leaders sealing in the same second: every event sealed once, the chain intact."""
    migrate(postgres_url)
    _append(postgres_url, 200)
    uow = units_of_work(postgres_url)
    sealed: list[int] = []
    threads = [
        threading.Thread(target=lambda: sealed.append(audit.seal_all(uow, batch=7)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    audit.seal_all(uow)  # whatever a sealer that found the lock taken left
    with session_scope(postgres_url) as session:
        report = audit.verify(session)
    assert report.ok and report.events == 200 and report.unsealed == 0
