"""A deferred record erased by a later sweep tells its partners, then the subject (issue 23).

The seeded subject's delivered order DH00000001 went with GHN (e-mail); the open DH00000002 is
with Viettel Post, here reached by a webhook on a real local HTTP server. The erasure anonymises
the first and defers the second; once the order is delivered, the retention sweep erases it and
Viettel Post must hear of it, as the erasure would have told it, and the subject is told so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from demo.seed import DEMO_SUBJECT
from demo.smtp_sink import MailSink
from dsr.core.ledger.db import get_engine
from dsr.core.ledger.models import Alert, Outbox
from dsr.service import Caller, Service
from tests.e2e.conftest import Pipeline, until
from tests.e2e.test_notices import (
    SECRET,
    Hook,
    _connectors_file,
    _mails,
    _running,
    _text,
    _webhook_server,
    deliver_open_order,
)

EMAIL = DEMO_SUBJECT["email"]


def _sweep(p: Pipeline) -> None:
    from workers.actors import enqueue

    Service(p.rt, enqueue).purge(by=Caller.staff("ops"), connectors=["orders"])


def _follow_ups(p: Pipeline, request_id: str) -> list[EmailMessage]:
    """The follow-ups the subject received (one per sweep that erased deferred records)."""
    prefix = f"<{request_id}.deferred-erased-"
    return [m.message for m in p.smtp.messages() if str(m.message["Message-ID"]).startswith(prefix)]


def _outbox(p: Pipeline, request_id: str) -> dict[str, Outbox]:
    with Session(get_engine(p.rt.db_url)) as session:
        rows = session.exec(select(Outbox).where(Outbox.request_id == request_id)).all()
        return {r.purpose: r for r in rows}


@contextmanager
def _erased_with_open_order(
    tmp_path: Path, postgres_url: str, smtp: MailSink, hook: Hook, language: str = "vi"
) -> Iterator[tuple[Pipeline, str]]:
    """Viettel Post on a webhook; an erasure done with its open order deferred, then the order
    delivered: the sweep has work to do."""
    with _webhook_server(hook) as url:

        def to_webhook(r: dict[str, Any]) -> None:
            r.pop("email")
            r["webhook"] = {"url": url}

        cfg = _connectors_file(tmp_path, to_webhook)
        with _running(
            tmp_path,
            postgres_url,
            smtp,
            connectors_file=cfg,
            webhook_secrets={"viettel_post": SECRET},
        ) as p:
            rid = p.submit("erase", EMAIL, phone=DEMO_SUBJECT["phone"], language=language)
            p.wait(rid)
            assert hook.received == []  # the open order is deferred: Viettel Post told nothing
            assert _mails(p, rid, "notice-ghn-1")
            deliver_open_order(p)
            yield p, rid


@pytest.mark.parametrize("language", ["vi", "en"])
def test_sweep_erasing_a_deferred_order_tells_its_partner_then_the_subject(
    tmp_path: Path, postgres_url: str, smtp: MailSink, language: str
) -> None:
    """Erase with an open order deferred; once delivered, the sweep erases it: its partner's
    webhook gets the erase notice for that order, the subject one follow-up in their language
    naming it; a second sweep and redelivered messages send nothing more."""
    from dsr.core.pipeline import redrive
    from dsr.core.runtime import steps
    from workers.actors import enqueue

    hook = Hook()
    with _erased_with_open_order(tmp_path, postgres_url, smtp, hook, language) as (p, rid):
        _sweep(p)
        until(lambda: _follow_ups(p, rid), timeout=90)

        assert len(hook.received) == 1
        headers, body = hook.received[0]
        notice = json.loads(body)
        assert notice["type"] == "dsr.notice.erase" and notice["request_id"] == rid
        assert [r["references"] for r in notice["records"]] == [["DH00000002"]]
        assert EMAIL not in body.decode()
        assert notice["reply_by"]  # a date to confirm by, as the erasure's notices give
        assert headers["x-dsr-delivery"].startswith(f"<{rid}.deferred-viettel_post-")
        assert len(_mails(p, rid, "notice-ghn-1")) == 1  # GHN's order went before: not again
        (follow_up,) = _follow_ups(p, rid)
        assert follow_up["To"] == EMAIL
        text = _text(follow_up)
        assert rid in text and ("Đơn hàng" if language == "vi" else "Orders") in text
        if language == "vi":
            assert "dữ liệu tạm hoãn nay đã được xóa" in str(follow_up["Subject"])
            assert "ẩn danh hóa 1 bản ghi" in text
            assert "Viettel Post: đã được chúng tôi thông báo ngày" in text
        else:
            assert "the deferred data is now erased" in str(follow_up["Subject"])
            assert "anonymised 1 record" in text
            assert "Viettel Post: told by us on" in text
        assert "Giao Hàng Nhanh" not in text  # only the partners of what was erased now

        # Again: a second sweep finds nothing left; redelivered steps send nothing more.
        _sweep(p)
        ours = [r for purpose, r in _outbox(p, rid).items() if purpose.startswith("deferred")]
        assert len(ours) == 2 and {r.status for r in ours} == {"sent"}
        enqueue([steps.deliver(r.id) for r in ours])
        with Session(get_engine(p.rt.db_url)) as session:
            enqueue(redrive.stuck(session, p.rt, older_than_seconds=0))
        time.sleep(5)  # the worker has taken them: anything sent again has arrived
        assert len(hook.received) == 1
        assert len(_follow_ups(p, rid)) == 1


def test_a_partner_refusing_the_deferred_notice_alerts_ops(
    tmp_path: Path, postgres_url: str, smtp: MailSink
) -> None:
    """The partner's webhook refuses (410): not retried, ops alerted, and the subject's
    follow-up says that partner could not be told yet (never that it was)."""
    hook = Hook(status=410)
    with _erased_with_open_order(tmp_path, postgres_url, smtp, hook) as (p, rid):
        _sweep(p)
        until(lambda: _follow_ups(p, rid), timeout=90)
        until(lambda: _mails(p, rid, "ops-deferred_notice_failed-viettel_post-1"))
        assert len(hook.received) == 1
        text = _text(_follow_ups(p, rid)[0])
        assert "Viettel Post: chúng tôi chưa thông báo được cho bên này" in text
        assert "đã được chúng tôi thông báo" not in text
        with Session(get_engine(p.rt.db_url)) as session:
            reasons = [a.reason for a in session.exec(select(Alert)) if a.request_id == rid]
        assert reasons == ["deferred_notice_failed"]
