"""Review that can be decided: ops see, per undecided candidate, what its store holds of it.

SQLite ledger and the seeded demo stores (real SQLite databases read through the SQL
connector), a second CRM account on the demo subject's phone line; steps run inline.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select
from structlog.testing import capture_logs

from demo.seed import DEMO_SUBJECT
from dsr.core.identity import candidate_details
from dsr.core.ledger.apikeys import Role
from dsr.core.ledger.db import get_engine
from dsr.core.ledger.models import AuditEvent, RequestCandidate
from dsr.errors import PermissionDenied
from dsr.service import Caller
from dsr.service.views import dump
from tests.core.conftest import STAFF, Core
from tests.family import add_family_account

SUPPORT = Caller("agent-a", Role.SUPPORT, owner="key-a")
LAST_SEEN = datetime(2025, 6, 30, 8, 15)


def _needs_review(core: Core) -> str:
    """An erasure for the demo subject, whose phone the family account also holds."""
    data_dir = core.rt.settings.resolved_data_dir
    add_family_account(data_dir)
    engine = sa.create_engine(f"sqlite:///{data_dir / 'crm.db'}")
    with engine.begin() as conn:  # the product's own "last seen" of the family account
        conn.execute(
            sa.text("update customers set last_activity_at = :at where customer_id = 'KH999999'"),
            {"at": LAST_SEEN},
        )
    engine.dispose()
    request_id = core.submit("erase", phone=DEMO_SUBJECT["phone"])
    core.drain(times=5)
    assert core.status(request_id)["status"] == "needs_review"
    return request_id


def test_ops_see_name_identifiers_and_dates_of_each_candidate_masked(core: Core) -> None:
    """The family account's CRM row is shown with its masked name, the phone that hit it, its
    other identifiers masked, its creation date and last activity; no plain value anywhere."""
    request_id = _needs_review(core)
    with capture_logs() as logs:
        found = [dump(c) for c in core.service.candidate_details(request_id, by=STAFF)]
    crm = [c for c in found if c["ref"].startswith("crm:customers:")]
    assert len(crm) == 1, found
    row = crm[0]
    assert row["detail"] == "shown"
    assert row["name"] == "N***** T** M**"  # Nguyễn Thị Mai
    assert row["matched"] == [{"kind": "phone", "value": "+84 9** *** 678"}]
    assert {"kind": "email", "value": "m***@example.com"} in row["others"]
    assert {"kind": "customer_id", "value": "KH****99"} in row["others"]
    assert all(o["kind"] != "phone" for o in row["others"])  # the phone is the one that hit
    assert row["created_at"] == "2024-01-01T00:00:00Z"
    assert row["last_activity_at"] == "2025-06-30T08:15:00Z"
    shown = json.dumps(found, ensure_ascii=False) + json.dumps(logs, default=str)
    for plain in ("Mai", "mai@example.com", "KH999999", "912345678"):
        assert plain not in shown
    with Session(get_engine(core.rt.db_url)) as session:
        events = list(
            session.exec(select(AuditEvent).where(AuditEvent.action == "candidates_read"))
        )
    assert [(e.actor, e.request_id, e.detail["read"]) for e in events] == [
        ("test-staff", request_id, len(found))
    ]


def test_support_get_no_details(core: Core) -> None:
    """Support may not read the records (the page says the request waits for ops)."""
    request_id = _needs_review(core)
    with pytest.raises(PermissionDenied):
        core.service.candidate_details(request_id, by=SUPPORT)


def test_a_store_that_cannot_read_one_record_says_so() -> None:
    """A store without ``describe`` (or with no such table) is "unavailable", never empty."""
    row = RequestCandidate(
        request_id="r" * 32,
        connector="lists",
        table_name="members",
        record_key="7",
        reason="other_account",
        matched=[{"kind": "email", "hash": "0" * 64, "masked": "ma***@example.com"}],
    )
    found = candidate_details.describe({"lists": object()}, [row], "secret")  # type: ignore[dict-item]
    assert found[0]["detail"] == "unavailable" and found[0]["name"] is None
    assert candidate_details.describe({}, [row], "secret")[0]["detail"] == "unavailable"
