"""Retention you can show: how far each rule is behind, what sweeps purged, what holds keep."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from dsr.core.ledger.db import session_scope
from dsr.core.ledger.models import PurgeRun, utcnow
from dsr.core.ops import report_render, retention_report
from dsr.service import reports
from dsr.service.metrics_retention import RetentionCollector
from tests.core.conftest import STAFF, Core


def by_rule(doc: reports.Document) -> dict[str, dict]:
    return {r["rule"]: r for r in doc.data["rules"]}


def test_a_store_never_swept_is_flagged_and_a_sweep_clears_it(core: Core) -> None:
    """The demo stores hold records far past their rules: every rule is flagged (past its limit
    by more than one sweep interval); after a sweep none is, and this month shows what went."""
    before = reports.retention(core.service, by=STAFF, fmt="json")
    rules = by_rule(before)
    assert set(before.flagged) == set(rules) == {
        "recordings.cdr", "newsletter.subscribers", "crm.customers", "orders.orders",
    }  # fmt: skip
    for rule in rules.values():
        assert rule["over_days"] > before.data["sweep_interval_days"] and rule["due_now"] > 0
    swept = core.service.purge(by=STAFF)
    after = reports.retention(core.service, by=STAFF, fmt="json")
    assert after.flagged == []
    assert all(r["due_now"] == 0 and (r["over_days"] or 0) <= 0 for r in by_rule(after).values())
    months = after.data["months"]
    assert len(months) == 12
    this = months[-1]
    purged = sum(s.purged for s in swept.stores)
    assert this["total"] == purged > 0
    assert all(m["total"] == 0 for m in months[:-1])


def test_rows_held_back_by_a_legal_hold_are_counted_with_its_reason_and_end(core: Core) -> None:
    """A hold on the owner of the oldest aged CRM account: the sweep keeps it, the report counts
    it as held back with the hold's reason and end, and it does not make the rule look behind."""
    store = core.rt.connectors["crm"]
    engine: sa.Engine = store.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        email = conn.execute(
            sa.text("SELECT email FROM customers ORDER BY last_activity_at LIMIT 1")
        ).scalar_one()
    until = utcnow() + timedelta(days=200)
    core.service.hold_add(email=email, phone=None, reason="Vụ kiện 12/2026", by=STAFF, until=until)
    core.service.purge(by=STAFF, connectors=["crm"])
    crm = by_rule(reports.retention(core.service, by=STAFF, fmt="json"))["crm.customers"]
    assert crm["held_back"] >= 1 and crm["due_now"] == 0 and not crm["flagged"]
    assert crm["holds"] == [{"reason": "Vụ kiện 12/2026", "until": until.isoformat()}]
    html = reports.retention(core.service, by=STAFF, fmt="html", lang="vi").text
    assert "Vụ kiện 12/2026" in html and "Số dòng được giữ lại do lệnh giữ pháp lý" in html


def test_failed_and_superseded_sweeps_are_listed(core: Core) -> None:
    """Sweeps whose record says failed or superseded are listed; finished ones and dry runs not."""
    now = utcnow()
    with core.service.session():
        pass  # the ledger's schema
    with session_scope(core.rt.db_url) as session:
        for status, dry in (("failed", False), ("superseded", False), ("finished", False),
                            ("failed", True)):  # fmt: skip
            report = {"status": status, "stores": [], "error": "StoreError"}
            if status == "superseded":
                report["superseded_by"] = "f" * 32
            session.add(PurgeRun(connector="crm", dry_run=dry, started_at=now, report=report))
    data = reports.retention(core.service, by=STAFF, fmt="json").data
    assert sorted(s["status"] for s in data["sweeps"]) == ["failed", "superseded"]
    rows = report_render.csv_rows(retention_report.retention(core.rt))
    assert "sweeps," in rows and ",status,superseded" in rows


def test_the_flag_is_a_prometheus_metric(core: Core) -> None:
    """dsr_retention_overdue{store, table} is 1 for each flagged rule, 0 once swept (after the
    collector's cache expires)."""
    collector = RetentionCollector(core.service._retention_flags, ttl=0)

    def values() -> dict[tuple[str, str], float]:
        (family,) = list(collector.collect())
        assert family.name == "dsr_retention_overdue"
        return {(s.labels["store"], s.labels["table"]): s.value for s in family.samples}

    assert values()[("crm", "customers")] == 1.0
    core.service.purge(by=STAFF)
    assert set(values().values()) == {0.0}


@pytest.mark.parametrize(
    "crontab, days",
    [("0 2 * * *", 1.0), ("*/15 * * * *", 15 / 1440), ("0 * * * *", 1 / 24), ("0 3 * * 0", 7.0),
     ("0 3 1 * *", 31.0), ("* * * * *", 1 / 1440)],
)  # fmt: skip
def test_the_sweep_interval_of_a_crontab(crontab: str, days: float) -> None:
    """How often the sweep runs, from the scheduler's crontab line: what "one interval" is."""
    assert retention_report.sweep_interval_days(crontab) == pytest.approx(days)
