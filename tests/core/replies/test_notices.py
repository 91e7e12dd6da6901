"""Notices to third parties, without a broker: what they say, who gets one, the ledger table."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import Session, SQLModel, select

from config.settings import Settings
from connectors.base import Action, Operation, Outcome, Shared, TaskResult
from dsr.core.intake import filing
from dsr.core.ledger.db import get_engine, migrate, session_scope
from dsr.core.ledger.models import Notice, Outbox, Request, RequestStatus
from dsr.core.replies import notices
from dsr.core.replies.templates import ReplyContext, StoreReport, render_notice
from dsr.core.runtime.process import Runtime

CTX = ReplyContext(
    request_id="0a1b2c3d4e5f67890a1b2c3d4e5f6789",
    kind="rectify",
    language="en",
    company="Demo Company",
    received_at=datetime(2026, 3, 2, 3, 0, tzinfo=UTC),
    due_at=datetime(2026, 3, 17, 16, 59, tzinfo=UTC),
    changes={},
)


def test_notice_carries_references_and_new_values_only() -> None:
    """A rectify notice names the orders and the new details, escaped in HTML, nothing else."""
    evil = "<b>1 Lê Lợi</b>"
    msg = render_notice(
        CTX,
        recipient="Viettel Post",
        records=[{"label": "Order number", "action": "updated", "references": ["DH00000002"]}],
        fields=["address"],
        new_values={"address": evil},
        reply_by=datetime(2026, 3, 7, 3, 0, tzinfo=UTC),
    )
    assert msg["Subject"] == (
        "[Demo Company] Notice of personal data correction, request 0a1b2c3d: "
        "please correct your copy"
    )
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "Order number DH00000002: open, we updated it" in text
    assert f"address: {evil}" in text and "by 7 March 2026" in text
    assert "<b>1" not in html and "&lt;b&gt;1 Lê Lợi&lt;/b&gt;" in html


def _runtime(tmp_path: Path) -> Runtime:
    settings = Settings(
        var_dir=tmp_path / "var", data_dir=tmp_path / "data", export_dir=tmp_path / "exports"
    )
    rt = Runtime(settings)
    migrate(rt.db_url)
    return rt


def _orders_report(shared: list[Shared]) -> StoreReport:
    result = TaskResult(Operation.ERASE, 2, [Outcome("orders", Action.ANONYMISED, 2)])
    result.shared = shared
    return StoreReport("orders", {"en": "Orders"}, "done", result.to_json(), [], None)


def test_an_unlisted_partner_is_never_dropped(tmp_path: Path) -> None:
    """Records a store says went to a courier the file does not know: ops are alerted and the
    request waits, while the known couriers' notices are queued."""
    rt = _runtime(tmp_path)
    with session_scope(rt.db_url) as session:
        request, _ = filing.submit(
            session,
            rt,
            filing.validate(
                rt, filing.Submission("erase", "an@example.com", verified=True, by="t")
            ),
        )
        request.status = RequestStatus.REPLYING
        session.add(request)
        session.flush()
        report = _orders_report(
            [
                Shared("orders", Action.ANONYMISED, ["DH1"], ["name"], "Giao Hàng Nhanh (GHN)"),
                Shared("orders", Action.ANONYMISED, ["DH2"], ["name"], "J&T Express"),
            ]
        )
        settled = notices.settle(session, rt, request, [report])
        request_id = request.id
    assert settled.notices is None
    with Session(get_engine(rt.db_url)) as session:
        rows = {
            n.name: n
            for n in session.exec(select(Notice).where(Notice.request_id == request_id)).all()
        }
        assert {k: n.status for k, n in rows.items()} == {
            "Giao Hàng Nhanh (GHN)": "pending",
            "J&T Express": "no_contact",
            "Viettel Post": "not_needed",
        }
        assert rows["Viettel Post"].reason == "no_records"
        final = session.get(Request, request_id)
        assert final is not None and final.status == "needs_attention"
        purposes = {
            o.purpose
            for o in session.exec(select(Outbox).where(Outbox.request_id == request_id)).all()
        }
    unlisted = rows["J&T Express"].recipient
    assert {"notice:ghn:1", f"ops:notice_no_contact:{unlisted}-1"} <= purposes
    assert {s.actor for s in settled.steps} == {"deliver"}
    rt.close()


def test_notices_migration_matches_the_model(tmp_path: Path) -> None:
    """Alembic's notices table is exactly the model's (no drift between the two)."""
    rt = _runtime(tmp_path)
    engine = sa.create_engine(rt.db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert [d for d in diff if "notices" in repr(d)] == []
    engine.dispose()
    rt.close()
