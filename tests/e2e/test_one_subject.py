"""One subject, one request at a time: identical requests join, others wait their turn."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from demo.seed import DEMO_SUBJECT, seed
from demo.smtp_sink import MailSink
from dsr.core.intake.filing import Submission
from dsr.core.ledger import audit
from dsr.core.ledger.db import get_engine, migrate, session_scope
from dsr.core.ledger.models import Request
from dsr.core.pipeline import dispatch
from dsr.core.runtime.process import Runtime
from dsr.core.runtime.steps import Step
from dsr.service import Caller, Service
from dsr.service.views import dump
from tests.e2e.conftest import make_settings
from tests.e2e.drive import drive

EMAIL = DEMO_SUBJECT["email"]


def _service(tmp_path: Path, db_url: str, port: int) -> tuple[Service, list[Step]]:
    settings = make_settings(tmp_path, db_url, port)
    seed(settings.resolved_data_dir, 20, secret_key=settings.keys.suppression, reset=True)
    rt = Runtime(settings)
    migrate(rt.db_url)
    sent: list[Step] = []
    return Service(rt, sent.extend), sent


def test_five_identical_erase_requests_at_once_are_one(
    tmp_path: Path, postgres_url: str, smtp: MailSink
) -> None:
    """5 identical erase requests filed at once make one request, one certificate."""
    svc, sent = _service(tmp_path, postgres_url, smtp.port)
    results: list[dict[str, Any]] = []
    barrier = threading.Barrier(5)

    def file() -> None:
        barrier.wait()
        filed = svc.submit(
            Submission("erase", f" {EMAIL.upper()}", verified=True, by="staff"),
            by=Caller.staff("t"),
        )
        results.append(dump(filed))

    threads = [threading.Thread(target=file) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Session(get_engine(svc.rt.db_url)) as session:
        rows = session.exec(select(Request).where(Request.email == EMAIL)).all()
    assert len(rows) == 1
    assert {r["id"] for r in results} == {rows[0].id}
    assert sorted(r.get("duplicate_of") is not None for r in results) == [False] + [True] * 4

    drive(svc.rt, sent)
    assert dump(svc.status(rows[0].id, by=_ops()))["status"] == "completed"
    replies = [m for m in smtp.to(EMAIL) if ".reply@" in m["Message-ID"]]
    assert len(replies) == 1
    svc.rt.close()


def test_second_request_for_a_subject_waits_for_the_first(
    tmp_path: Path, postgres_url: str, smtp: MailSink
) -> None:
    """An access filed while an erase of the same subject is in the stores waits, then runs."""
    svc, sent = _service(tmp_path, postgres_url, smtp.port)
    erase = dump(
        svc.submit(Submission("erase", EMAIL, verified=True, by="staff"), by=Caller.staff("t"))
    )["id"]
    access = dump(
        svc.submit(Submission("access", EMAIL, verified=True, by="staff"), by=Caller.staff("t"))
    )["id"]
    with session_scope(svc.rt.db_url) as session:
        first = dispatch.dispatch(session, svc.rt, erase)
    with session_scope(svc.rt.db_url) as session:
        assert dispatch.dispatch(session, svc.rt, access) == []  # waits its turn
    assert dump(svc.status(access, by=_ops()))["status"] == "verified"
    drive(svc.rt, first + [s for s in sent if s.actor == "deliver"])
    assert dump(svc.status(erase, by=_ops()))["status"] == "completed"
    assert dump(svc.status(access, by=_ops()))["status"] == "completed"  # dispatched by the erase
    access_reply = [m for m in smtp.to(EMAIL) if m["Message-ID"].startswith(f"<{access}.reply@")]
    assert len(access_reply) == 1
    svc.rt.close()


def _ops() -> Caller:
    return Caller.staff("test")


def test_erasure_after_an_erasure_says_already_erased(
    tmp_path: Path, postgres_url: str, smtp: MailSink
) -> None:
    """A second erasure of a subject reports the stores the first one emptied as already erased,
    never contradicting the first certificate."""
    svc, sent = _service(tmp_path, postgres_url, smtp.port)
    first = dump(
        svc.submit(
            Submission("erase", EMAIL, verified=True, by="staff", language="en"),
            by=Caller.staff("t"),
        )
    )
    drive(svc.rt, sent)
    sent.clear()
    second = dump(
        svc.submit(
            Submission(
                "erase", EMAIL, name="Nguyễn Văn An", verified=True, by="staff", language="en"
            ),
            by=Caller.staff("t"),
        )
    )
    assert second["id"] != first["id"] and "duplicate_of" not in second
    drive(svc.rt, sent)
    (reply,) = [m for m in smtp.to(EMAIL) if m["Message-ID"].startswith(f"<{second['id']}.reply@")]
    text = reply.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "already erased on" in text and first["id"][:8] in text
    svc.rt.close()


def test_different_requests_at_once_on_a_fresh_ledger_are_all_filed(
    tmp_path: Path, postgres_url: str, smtp: MailSink
) -> None:
    """The very first requests of a ledger, filed at once, are all accepted (audit chain tip)."""
    svc, _ = _service(tmp_path, postgres_url, smtp.port)
    results: list[dict[str, Any]] = []
    barrier = threading.Barrier(5)

    def file(n: int) -> None:
        barrier.wait()
        results.append(
            dump(
                svc.submit(
                    Submission("access", f"first.{n}@example.com", verified=True, by="s"),
                    by=Caller.staff("t"),
                )
            )
        )

    threads = [threading.Thread(target=file, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r["id"] for r in results}) == 5
    with session_scope(svc.rt.db_url) as session:
        assert audit.verify(session).ok
    svc.rt.close()
