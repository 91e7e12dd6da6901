"""S2, S3, S4 and S7 end to end, read from the e-mails the SMTP server received."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from demo.seed import DEMO_CALLER_ONLY, DEMO_CUSTOMER_ID, DEMO_NEW_PHONE, DEMO_SUBJECT
from dsr.core.intake import filing
from dsr.core.ledger.db import get_engine
from dsr.core.ledger.models import utcnow
from dsr.errors import InvalidInput
from dsr.identity import suppression_hash
from dsr.service import Caller, Service
from dsr.service.views import dump
from dsr.spellings import stored_values
from tests.e2e.accounts import shared_phones
from tests.e2e.conftest import Pipeline, until

EMAIL = DEMO_SUBJECT["email"]


def _store(p: Pipeline, name: str) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{p.rt.settings.resolved_data_dir / name}")


def _holding(p: Pipeline, db: str, table: str, email: str) -> list[sa.Row[Any]]:
    """The rows of ``table`` whose ``email`` column holds ``email`` in any spelling."""
    engine = _store(p, db)
    try:
        with engine.connect() as c:
            rows = c.execute(sa.text(f"select * from {table}")).all()  # test-owned names
    finally:
        engine.dispose()
    return [r for r in rows if email in stored_values("email", r.email)]


def _reply(p: Pipeline, request_id: str, to: str = EMAIL):  # type: ignore[no-untyped-def]
    found = [m for m in p.smtp.to(to) if m["Message-ID"].startswith(f"<{request_id}.reply@")]
    assert len(found) == 1, f"expected one reply, got {len(found)}"
    return found[0]


def _text(message) -> str:  # type: ignore[no-untyped-def]
    return message.get_body(preferencelist=("plain",)).get_content()


def test_erase_certificate_and_store_state(pipeline: Pipeline) -> None:
    """S2: CRM row deleted, list entry removed and suppressed, orders anonymised, calls deleted."""
    rid = pipeline.submit("erase", EMAIL, phone=DEMO_SUBJECT["phone"])
    pipeline.wait(rid)
    text = _text(_reply(pipeline, rid))
    assert "Luật Kế toán" in text  # the legal basis for keeping anonymised orders
    assert not _holding(pipeline, "crm.db", "customers", EMAIL)
    assert not _holding(pipeline, "newsletter.db", "subscribers", EMAIL)
    with _store(pipeline, "newsletter.db").connect() as c:
        h = suppression_hash(EMAIL, pipeline.rt.settings.keys.suppression)
        assert (
            c.execute(
                sa.text("select count(*) from suppression where email_hash=:h"), {"h": h}
            ).scalar()
            == 1
        )
    with _store(pipeline, "orders.db").connect() as c:
        kept = c.execute(
            sa.text("select status, email, shipping_phone, total from orders where customer_id=:c"),
            {"c": DEMO_CUSTOMER_ID},
        ).all()
    delivered = [r for r in kept if r.status == "delivered"]
    assert delivered and all(r.shipping_phone is None and r.total is not None for r in delivered)
    assert not any(stored_values("email", r.email) for r in delivered)  # a hash, no address
    # The pending order is still needed to deliver it: deferred, and the certificate says so.
    assert all(r.shipping_phone is not None for r in kept if r.status != "delivered")
    assert "đơn hàng chưa giao" in text
    # The subject's calls are gone from the PBX's records, and their recordings from its disk.
    with _store(pipeline, "recordings/cdr.db").connect() as c:
        calls = c.execute(sa.text("select uniqueid from cdr where uniqueid like 'CALL-DEMO-%'"))
        assert sorted(u for (u,) in calls) == ["CALL-DEMO-0003", "CALL-DEMO-0004"]
    monitor = pipeline.rt.settings.resolved_data_dir / "recordings" / "monitor"
    assert not list(monitor.rglob("*-CALL-DEMO-000[12].wav"))


def test_second_erasure_changes_nothing_and_says_so(pipeline: Pipeline) -> None:
    """S2: erasing twice deletes nothing more; the second certificate says nothing remained but
    the open order the first one deferred, deferred again."""
    first = pipeline.submit("erase", EMAIL, phone=DEMO_SUBJECT["phone"])
    pipeline.wait(first)
    with _store(pipeline, "orders.db").connect() as c:
        before = c.execute(sa.text("select * from orders order by id")).all()
    second = pipeline.submit("erase", EMAIL, phone=DEMO_SUBJECT["phone"])
    data = pipeline.wait(second)
    assert all(t["records"] == 0 for t in data["tasks"] if t["connector"] != "orders")
    with _store(pipeline, "orders.db").connect() as c:
        assert c.execute(sa.text("select * from orders order by id")).all() == before
    text = _text(_reply(pipeline, second))  # a certificate is still sent
    assert "đơn hàng chưa giao" in text


def test_rectify_updates_current_records_only(pipeline: Pipeline) -> None:
    """S3: CRM and undelivered orders change; delivered orders don't; partners are named."""
    rid = pipeline.submit(
        "rectify", EMAIL, changes={"phone": DEMO_NEW_PHONE, "address": "1 Lê Lợi, Huế"}
    )
    pipeline.wait(rid)
    reply = _reply(pipeline, rid)
    assert "chỉnh sửa" in reply["Subject"]  # Vietnamese survives the SMTP round trip intact
    text = _text(reply)
    assert "Giao Hàng Nhanh" in text and "Viettel Post" in text
    (row,) = _holding(pipeline, "crm.db", "customers", EMAIL)
    assert (row.phone, row.address) == ("+84903111222", "1 Lê Lợi, Huế")
    with _store(pipeline, "orders.db").connect() as c:
        rows = c.execute(
            sa.text("select status, shipping_address from orders where customer_id=:c"),
            {"c": DEMO_CUSTOMER_ID},
        ).all()
    assert any(r.status == "delivered" and r.shipping_address != "1 Lê Lợi, Huế" for r in rows)
    assert any(r.status != "delivered" and r.shipping_address == "1 Lê Lợi, Huế" for r in rows)


def test_unverified_request_waits_for_the_code(pipeline: Pipeline) -> None:
    """S4: nothing is searched until the code sent to the address on file comes back."""
    rid = pipeline.submit("access", EMAIL, verified=False, by=None)
    assert pipeline.status(rid)["status"] == "awaiting_verification"
    assert pipeline.status(rid)["tasks"] == []
    code_mail = until(
        lambda: [m for m in pipeline.smtp.to(EMAIL) if ".verification-" in m["Message-ID"]]
    )
    code = re.search(r"\b(\d{6})\b", _text(code_mail[0])).group(1)  # type: ignore[union-attr]
    wrong = "000000" if code != "000000" else "111111"
    from workers.actors import enqueue

    service = Service(pipeline.rt, enqueue)
    with pytest.raises(InvalidInput, match="wrong verification code"):
        service.verify(rid, wrong, by=Caller.staff("t"))
    assert dump(service.status(rid, by=Caller.staff("t")))["status"] == "awaiting_verification"
    service.verify(rid, code, by=Caller.staff("t"))
    pipeline.wait(rid)
    assert _reply(pipeline, rid)["To"] == EMAIL


def test_overdue_reply_is_flagged_to_ops(pipeline: Pipeline) -> None:
    """S7: a request past due_at is listed overdue, and its late reply is flagged to ops first."""
    with Session(get_engine(pipeline.rt.db_url), expire_on_commit=False) as session:
        request, follow = filing.submit(
            session,
            pipeline.rt,
            filing.validate(pipeline.rt, filing.Submission("access", EMAIL, verified=True, by="t")),
            now=utcnow() - timedelta(days=40),
        )
        session.commit()
    assert request.due_at < utcnow()
    from workers.actors import enqueue

    enqueue(follow)
    data = pipeline.wait(request.id)
    assert data["late"] is True
    received = [r.message["Message-ID"] for r in pipeline.smtp.messages()]
    alert = f"<{request.id}.ops-late_reply@"
    reply = f"<{request.id}.reply@"
    order = [m.split("@")[0] + "@" for m in received if m.startswith((alert, reply))]
    assert order == [alert, reply]  # ops were told before the late reply went out


def test_caller_only_in_archive_is_found_by_phone(pipeline: Pipeline) -> None:
    """S8: a person with no CRM row is found in the call archive by phone, in any notation."""
    rid = pipeline.submit("access", DEMO_CALLER_ONLY["email"], phone="84-987-654-321")
    data = pipeline.wait(rid)
    records = {t["connector"]: t["records"] for t in data["tasks"]}
    assert records["crm"] == 0 and records["recordings"] == 2
    assert _reply(pipeline, rid, DEMO_CALLER_ONLY["email"])


def test_two_crm_rows_are_both_found(pipeline: Pipeline) -> None:
    """S8: a person with two CRM rows (e-mail on one, phone on both) gets both, once staff
    confirm the second account is theirs (two customer ids: it waits in needs_review)."""
    shared = shared_phones(pipeline.rt.settings.resolved_data_dir)[0]
    rid = pipeline.submit("access", shared.emails[0], phone=shared.phone)
    pipeline.wait(rid, "needs_review")
    from dsr.service import Caller, Service
    from workers.actors import enqueue

    svc = Service(pipeline.rt, enqueue)
    refs = [c["ref"] for c in pipeline.status(rid)["candidates"] if c["store"] == "crm"]
    svc.review(rid, include=refs, exclude=[], exclude_all=True, by=Caller.staff("t"))
    data = pipeline.wait(rid)
    assert {t["connector"]: t["records"] for t in data["tasks"]}["crm"] == 2
