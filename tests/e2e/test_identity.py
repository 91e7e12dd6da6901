"""Identity assurance end to end (issue 10): only data proven to be the subject's is acted on.

Real servers: a PostgreSQL ledger, Redis with a dramatiq worker, aiosmtpd, and the seeded demo
stores (SQLite files, the call archive's recordings in a folder of WAV files).
"""

from __future__ import annotations

import json
import re
import zipfile
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from demo.seed import DEMO_CUSTOMER_ID, DEMO_NEW_PHONE, DEMO_SUBJECT
from demo.stores import stamp
from dsr.core.ledger import paths
from dsr.service import Caller, Service
from dsr.service.views import dump
from dsr.spellings import stored_values
from tests.e2e.accounts import shared_phones
from tests.e2e.conftest import Pipeline, until
from tests.family import add_family_account

EMAIL = DEMO_SUBJECT["email"]
PHONE = DEMO_SUBJECT["phone"]
STRANGER = "stranger@example.net"
SETTLED = ("completed", "needs_review", "needs_attention")


def _store(p: Pipeline, name: str) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{p.rt.settings.resolved_data_dir / name}")


def _one(p: Pipeline, db: str, sql: str, **params: Any) -> Any:
    engine = _store(p, db)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).all()
    finally:
        engine.dispose()


def _exec(p: Pipeline, db: str, sql: str, **params: Any) -> None:
    engine = _store(p, db)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(sql), params)
    finally:
        engine.dispose()


def _service(p: Pipeline) -> Service:
    from workers.actors import enqueue

    return Service(p.rt, enqueue)


def _text(message: Any) -> str:
    return str(message.get_body(preferencelist=("plain",)).get_content())


def _reply(p: Pipeline, request_id: str, to: str) -> Any:
    found = until(
        lambda: [m for m in p.smtp.to(to) if m["Message-ID"].startswith(f"<{request_id}.reply@")]
    )
    assert len(found) == 1
    return found[0]


def _submit_with_code(p: Pipeline, kind: str, email: str, **kw: Any) -> str:
    """File as the subject would (no staff vouching) and enter the code from the inbox."""
    rid = p.submit(kind, email, verified=False, by=None, **kw)
    mail = until(
        lambda: [m for m in p.smtp.to(email) if f"<{rid}.verification-" in m["Message-ID"]]
    )
    code = re.search(r"\b(\d{6})\b", _text(mail[0]))
    assert code is not None
    _service(p).verify(rid, code.group(1), by=Caller.staff("t"))
    return rid


def _subject_snapshot(p: Pipeline) -> dict[str, Any]:
    """Everything the stores hold about the demo subject (a stranger must change none of it)."""
    monitor = p.rt.settings.resolved_data_dir / "recordings" / "monitor"
    return {
        "crm": _one(
            p, "crm.db", "select * from customers where customer_id=:c", c=DEMO_CUSTOMER_ID
        ),
        "newsletter": [
            r
            for r in _one(p, "newsletter.db", "select * from subscribers order by id")
            if EMAIL in stored_values("email", r.email)  # the list keeps it as typed
        ],
        "orders": _one(
            p, "orders.db", "select * from orders where customer_id=:c", c=DEMO_CUSTOMER_ID
        ),
        "calls": _one(
            p,
            "recordings/cdr.db",
            "select * from cdr where uniqueid like 'CALL-DEMO-000%' order by uniqueid",
        ),
        "recordings": sorted(
            (str(f.relative_to(monitor)), f.read_bytes()) for f in monitor.rglob("*CALL-DEMO-*")
        ),
    }


def _exported_text(p: Pipeline, request_id: str) -> str:
    """Every file staged or bundled for a request, as text (names included)."""
    root = paths.request_dir(p.rt.settings.resolved_export_dir, request_id)
    chunks = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix != ".eml":
            chunks.append(str(path.relative_to(root)))
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as zf:
                    chunks += zf.namelist()
                    chunks += [zf.read(n).decode("utf-8", "replace") for n in zf.namelist()]
            else:
                chunks.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(chunks)


@pytest.mark.parametrize("kind", ["access", "rectify", "erase"])
def test_stranger_with_a_customers_phone_gets_nothing(pipeline: Pipeline, kind: str) -> None:
    """A stranger who proves only their own address and types a customer's phone reads, changes,
    exports and deletes nothing of that customer; the request completes as any other would
    (issue 22: no oracle), and staff see the hits as low-priority candidates."""
    before = _subject_snapshot(pipeline)
    extra: dict[str, Any] = {"phone": PHONE}
    if kind == "rectify":
        extra["changes"] = {"email": "taken.over@example.net", "address": "1 Đường Giả, Hà Nội"}
    rid = _submit_with_code(pipeline, kind, STRANGER, **extra)
    data = pipeline.wait(rid, *SETTLED)
    exported = _exported_text(pipeline, rid)
    assert DEMO_SUBJECT["name"] not in exported and "CALL-DEMO" not in exported
    assert _subject_snapshot(pipeline) == before
    assert data["status"] == "completed"
    status = dump(_service(pipeline).status(rid, by=Caller.staff("t")))
    provenance = {(i["kind"], i["provenance"]) for i in status["identifiers"]}
    assert ("email", "verified") in provenance and ("phone", "asserted") in provenance
    assert "0912" not in json.dumps(status["identifiers"])  # values are masked
    stores = {c["store"] for c in status["candidates"]}
    assert {"crm", "recordings"} <= stores
    assert all(c["reason"] in ("other_account", "unproven") for c in status["candidates"])
    assert not any(c["blocks_reply"] for c in status["candidates"])
    text = _text(_reply(pipeline, rid, STRANGER))
    assert DEMO_SUBJECT["name"] not in text and "0912" not in text


def test_shared_family_phone_erases_only_the_subject(pipeline: Pipeline) -> None:
    """Two accounts share one phone: erasing one (e-mail and phone vouched for by staff) leaves
    the other account, and the calls from the shared line wait for a staff decision."""
    add_family_account(pipeline.rt.settings.resolved_data_dir)
    rid = pipeline.submit("erase", EMAIL, phone=PHONE)
    pipeline.wait(rid, *SETTLED)
    assert pipeline.status(rid)["status"] == "needs_review"
    assert _one(pipeline, "crm.db", "select full_name from customers where customer_id='KH999999'")
    assert not _one(
        pipeline, "crm.db", "select 1 from customers where customer_id=:c", c=DEMO_CUSTOMER_ID
    )
    calls = _one(
        pipeline, "recordings/cdr.db", "select 1 from cdr where uniqueid like 'CALL-DEMO-000%'"
    )
    assert len(calls) == 4  # the shared line's calls are candidates, not erased
    status = dump(_service(pipeline).status(rid, by=Caller.staff("t")))
    reasons = {(c["store"], c["reason"]) for c in status["candidates"]}
    assert ("crm", "other_account") in reasons and ("recordings", "shared_identifier") in reasons
    _service(pipeline).review(rid, include=[], exclude=[], exclude_all=True, by=Caller.staff("lan"))
    pipeline.wait(rid)
    assert _one(pipeline, "crm.db", "select 1 from customers where customer_id='KH999999'")
    text = _text(_reply(pipeline, rid, EMAIL))
    assert "Nguyễn Thị Mai" not in text and "mai@" not in text


def test_duplicate_accounts_wait_for_review_then_complete(pipeline: Pipeline) -> None:
    """S8: one person with two CRM accounts (same phone, two e-mails) reaches needs_review; staff
    include the second account, and its orders are then found too."""
    shared = next(
        s for s in shared_phones(pipeline.rt.settings.resolved_data_dir) if len(s.customer_ids) == 2
    )
    email, phone, second = shared.emails[0], shared.phone, shared.customer_ids[1]
    rid = pipeline.submit("access", email, phone=phone)
    pipeline.wait(rid, *SETTLED)
    status = dump(_service(pipeline).status(rid, by=Caller.staff("t")))
    assert status["status"] == "needs_review"
    crm = [c for c in status["candidates"] if c["store"] == "crm"]
    assert len(crm) == 1 and crm[0]["reason"] == "other_account"
    assert crm[0]["matched"][0]["kind"] == "phone" and "*" in crm[0]["matched"][0]["value"]
    _service(pipeline).review(
        rid, include=[crm[0]["ref"]], exclude=[], exclude_all=True, by=Caller.staff("lan")
    )
    data = pipeline.wait(rid, *SETTLED)
    assert data["status"] == "completed"
    assert {t["connector"]: t["records"] for t in data["tasks"]}["crm"] == 2
    idents = dump(_service(pipeline).status(rid, by=Caller.staff("t")))["identifiers"]
    assert ("customer_id", "derived") in {(i["kind"], i["provenance"]) for i in idents}
    expected_orders = _one(
        pipeline, "orders.db", "select count(*) from orders where customer_id=:c", c=second
    )[0][0]
    bundle = zipfile.ZipFile(paths.bundle(pipeline.rt.settings.resolved_export_dir, rid))
    exported = bundle.read("orders/orders.json").decode() if expected_orders else ""
    assert exported.count(second) >= expected_orders


def test_rectified_phone_is_still_searched_on_erasure(pipeline: Pipeline) -> None:
    """Rectify the phone, then erase by e-mail alone: calls under the old number are erased,
    and the certificate does not claim the archive held nothing."""
    fix = pipeline.submit("rectify", EMAIL, changes={"phone": DEMO_NEW_PHONE})
    pipeline.wait(fix)
    rid = pipeline.submit("erase", EMAIL)
    data = pipeline.wait(rid)
    assert {t["connector"]: t["records"] for t in data["tasks"]}["recordings"] == 2
    assert not _one(
        pipeline,
        "recordings/cdr.db",
        "select 1 from cdr where uniqueid in ('CALL-DEMO-0001', 'CALL-DEMO-0002')",
    )
    monitor = pipeline.rt.settings.resolved_data_dir / "recordings" / "monitor"
    assert not list(monitor.rglob("*-CALL-DEMO-000[12].wav"))  # their recordings with them
    status = dump(_service(pipeline).status(rid, by=Caller.staff("t")))
    assert ("phone", "former") in {(i["kind"], i["provenance"]) for i in status["identifiers"]}
    text = _text(_reply(pipeline, rid, EMAIL))
    recordings = text.split("Ghi âm cuộc gọi hỗ trợ")[1].split("\n\n")[0]
    assert "không tìm thấy dữ liệu" not in recordings
    # The erasure took the identity history with it: a later request no longer knows the number.
    again = pipeline.submit("access", EMAIL)
    pipeline.wait(again)
    later = dump(_service(pipeline).status(again, by=Caller.staff("t")))
    assert "former" not in {i["provenance"] for i in later["identifiers"]}


def test_rectified_email_still_finds_records_under_the_old_address(pipeline: Pipeline) -> None:
    """Rectify the e-mail; an access by the new address still finds a guest order placed under
    the old one (no customer id), because the old address is a former identifier."""
    _exec(
        pipeline,
        "orders.db",
        "insert into orders (order_no, customer_id, email, recipient_name, "
        "shipping_address, status, total, created_at, updated_at) values ('GUEST-OLD', NULL, "
        ":e, 'Nguyễn Văn An', '9 Hàng Bài, Hà Nội', 'delivered', 120000, :now, :written)",
        e=EMAIL,
        now=datetime(2025, 1, 5),
        written=stamp(),
    )
    new = "an.nguyen.moi@example.com"
    fix = pipeline.submit("rectify", EMAIL, changes={"email": new})
    pipeline.wait(fix)
    rid = pipeline.submit("access", new)
    pipeline.wait(rid)
    bundle = zipfile.ZipFile(paths.bundle(pipeline.rt.settings.resolved_export_dir, rid))
    assert "GUEST-OLD" in bundle.read("orders/orders.json").decode()
    status = dump(_service(pipeline).status(rid, by=Caller.staff("t")))
    assert ("email", "former") in {(i["kind"], i["provenance"]) for i in status["identifiers"]}


def test_erasure_removes_earlier_exports_and_revokes_their_links(pipeline: Pipeline) -> None:
    """An erasure deletes the subject's earlier bundle, staged files and e-mail copies, and the
    folders they were in; the earlier download link then answers 410 Gone, and the certificate
    says so."""
    import warnings

    warnings.filterwarnings("ignore", message=".*install `httpx2`")
    from fastapi.testclient import TestClient

    from api import create_app
    from dsr.core.replies.links import make_download_token

    first = pipeline.submit("access", EMAIL, phone=PHONE)
    pipeline.wait(first)
    folder = paths.request_dir(pipeline.rt.settings.resolved_export_dir, first)
    assert paths.bundle(pipeline.rt.settings.resolved_export_dir, first).is_file()
    assert list(folder.rglob("*.eml"))
    token = make_download_token(first, pipeline.rt.settings)
    rid = pipeline.submit("erase", EMAIL, phone=PHONE)
    pipeline.wait(rid)
    left = [p for p in folder.rglob("*") if p.is_file()]
    assert left == []
    assert not folder.exists()  # no empty outbox/ left to say a request existed (issue 22)
    from workers.actors import enqueue

    with TestClient(create_app(pipeline.rt, enqueue=enqueue)) as client:
        gone = client.get(f"/exports/{token}")
    assert gone.status_code == 410
    text = _text(_reply(pipeline, rid, EMAIL))
    assert "liên kết tải xuống" in text


def test_open_order_is_deferred_then_finished_by_the_sweep(pipeline: Pipeline) -> None:
    """An undelivered order keeps its shipping details on erasure (deferred, "open order");
    once delivered, the retention sweep anonymises it."""
    rid = pipeline.submit("erase", EMAIL, phone=PHONE)
    pipeline.wait(rid)
    rows = dict(
        _one(
            pipeline,
            "orders.db",
            "select order_no, shipping_address from orders where customer_id=:c",
            c=DEMO_CUSTOMER_ID,
        )
    )
    assert rows["DH00000002"] and "đã xoá" not in rows["DH00000002"]
    assert "đã xoá" in rows["DH00000001"]
    text = _text(_reply(pipeline, rid, EMAIL))
    assert "đơn hàng chưa giao" in text
    _exec(
        pipeline,
        "orders.db",
        "update orders set status='delivered', updated_at=:now where order_no='DH00000002'",
        now=stamp(),
    )
    _service(pipeline).purge(by=Caller.staff("t"), connectors=["orders"])
    after = dict(
        _one(
            pipeline,
            "orders.db",
            "select order_no, shipping_address from orders where customer_id=:c",
            c=DEMO_CUSTOMER_ID,
        )
    )
    assert "đã xoá" in after["DH00000002"]
