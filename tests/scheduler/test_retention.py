"""Retention rules and sweeps on the seeded demo stores (the call archive with its recordings
among them), on every SQL engine."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import Session, col, select

from config.settings import CONFIG_DIR
from connectors.sql_tables import REDACTED
from dsr.core.ledger import audit, holds
from dsr.core.ledger.db import get_engine
from dsr.core.ledger.models import AuditEvent, PurgeRun
from dsr.core.ops import retention
from dsr.core.ops.retention import PurgeRequest
from dsr.core.runtime.process import Runtime
from dsr.errors import ConfigError, InvalidInput
from dsr.identity import suppression_hash
from tests.scheduler.stores import NOW, Stores, aged, held, identifiers, settings

REDACT = ("recipient_name", "shipping_address")
NULLED = ("shipping_phone",)


def _live(row: dict[str, Any]) -> bool:
    """An order not yet anonymised (the connector's own test of a live row)."""
    return any(row[c] is None or row[c] != REDACTED for c in REDACT) or any(
        row[c] is not None for c in NULLED
    )


def _sweep_all(stores: Stores, **kw: Any) -> dict[str, Any]:
    policy = retention.policy_for(stores.rt)
    return {
        r.table: r
        for c in policy.connectors
        for r in retention.sweep(stores.rt, c, PurgeRequest(as_of=NOW, **kw), by="test")
    }


def _hold_aged_subjects(stores: Stores, before: dict[str, Any]) -> dict[str, set[str]]:
    """Put on hold one subject with aged rows in each store; their identifiers."""

    def first(table: str, kind: str, extra: Any = lambda r: True) -> str:
        return sorted(
            value
            for r in before[table].values()
            if aged(table, r) and extra(r)
            for value in identifiers(table, kind, r)
        )[0]

    emails = {
        first("customers", "email"),
        first("subscribers", "email"),
        first("orders", "email", _live),
    }
    phone = first("cdr", "phone")
    with Session(get_engine(stores.rt.db_url)) as session:
        for email in sorted(emails):
            holds.add(session, email=email, phone=None, reason="dispute", by="test")
        holds.add(session, email=None, phone=phone, reason="dispute", by="test")
        session.commit()
    return {"email": emails, "phone": {phone}}


def test_shipped_rules_are_the_documented_defaults() -> None:
    """config/retention.yaml holds one rule per demo store with the issue's periods and timings."""
    policy = retention.policy_for(Runtime())
    rules = {r.connector: r for r in policy.rules}
    assert set(rules) == {"recordings", "newsletter", "crm", "orders"}
    assert (rules["recordings"].table, rules["recordings"].column) == ("cdr", "calldate")
    assert rules["recordings"].days == 180
    assert (rules["newsletter"].only_when_set, rules["newsletter"].days) == ("unsubscribed_at", 30)
    assert (rules["crm"].column, rules["crm"].days) == ("last_activity_at", 1096)
    assert (rules["orders"].action, rules["orders"].fiscal_year_end) == ("anonymise", True)
    assert (policy.chunk_size, policy.reminder_days) == (5000, (7, 2))
    assert policy.schedule["sweep"] == "0 2 * * *" and policy.timezone == "Asia/Ho_Chi_Minh"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"connector": "billing"}, "unknown connector 'billing'"),
        ({"table": "invoices"}, "unknown table 'invoices'"),
    ],
)
def test_rule_naming_an_unknown_store_is_a_config_error(
    tmp_path: Path, change: dict[str, str], problem: str
) -> None:
    """A rule naming a connector or table that connectors.yaml lacks stops start-up."""
    document = yaml.safe_load((CONFIG_DIR / "retention.yaml").read_text("utf-8"))
    document["rules"].append(
        {
            "connector": "crm",
            "table": "customers",
            "column": "last_activity_at",
            "days": 1,
            **change,
        }
    )
    path = tmp_path / "retention.yaml"
    path.write_text(yaml.safe_dump(document), "utf-8")
    rt = Runtime(settings(tmp_path, "sqlite://", retention_file=path))
    with pytest.raises(ConfigError, match=problem):
        retention.policy_for(rt)


def test_sweep_takes_everything_aged_and_nothing_young_or_held(demo: Stores) -> None:
    """A sweep deletes or anonymises exactly the aged rows, sparing young rows and held subjects."""
    before = demo.snapshot()
    values = _hold_aged_subjects(demo, before)
    reports = _sweep_all(demo, chunk_size=7)
    after = demo.snapshot()

    for table in ("customers", "subscribers", "cdr"):
        old = {k: r for k, r in before[table].items() if aged(table, r)}
        gone = {k for k, r in old.items() if not held(table, r, values)}
        spared = set(old) - gone
        assert gone and spared, table  # the data exercises both sides of the boundary
        assert set(after[table]) == set(before[table]) - gone
        assert all(after[table][k] == before[table][k] for k in after[table])
        assert (reports[table].purged, reports[table].matched) == (len(gone), len(gone))
        assert reports[table].skipped_held == len(spared) and reports[table].done

    orders, after_orders = before["orders"], after["orders"]
    changed = {
        k
        for k, r in orders.items()
        if aged("orders", r) and _live(r) and not held("orders", r, values)
    }
    assert changed and set(after_orders) == set(orders)
    for key, row in after_orders.items():
        if key in changed:
            assert all(row[c] == REDACTED for c in REDACT) and all(row[c] is None for c in NULLED)
            assert (row["total"], row["created_at"]) == (
                orders[key]["total"],
                orders[key]["created_at"],
            )
        else:
            assert row == orders[key]
    assert reports["orders"].purged == len(changed) and reports["orders"].skipped_held >= 1
    assert after["order_items"] == before["order_items"]

    deleted = {
        email
        for k, r in before["subscribers"].items()
        if k not in after["subscribers"]
        for email in identifiers("subscribers", "email", r)
    }
    assert {suppression_hash(e, demo.rt.settings.keys.suppression) for e in deleted} <= set(
        after["suppression"]
    )
    # A swept call's recording went with it; every other recording stayed.
    gone = {r["recordingfile"] for k, r in before["cdr"].items() if k not in after["cdr"]}
    assert gone - {""} and after["files"] == before["files"] - gone

    with Session(get_engine(demo.rt.db_url)) as session:
        runs = list(session.exec(select(PurgeRun).where(col(PurgeRun.dry_run).is_(False))))
        assert sorted(r.connector for r in runs) == ["crm", "newsletter", "orders", "recordings"]
        assert all(r.finished_at and r.report["status"] == "finished" for r in runs)
        events = list(
            session.exec(select(AuditEvent).where(AuditEvent.action == "retention_purged"))
        )
        assert {e.detail["table"]: e.detail["purged"] for e in events} == {
            t: r.purged for t, r in reports.items()
        }
        assert audit.verify(session).ok


def test_dry_run_reports_what_would_go_and_changes_nothing(demo: Stores) -> None:
    """A dry run counts the aged rows per store and leaves every row and file as it was."""
    before = demo.snapshot()
    reports = _sweep_all(demo, dry_run=True)
    assert demo.snapshot() == before
    for table in ("customers", "subscribers", "cdr"):
        expected = sum(aged(table, r) for r in before[table].values())
        assert (reports[table].matched, reports[table].purged) == (expected, 0)
    with Session(get_engine(demo.rt.db_url)) as session:
        assert all(r.dry_run for r in session.exec(select(PurgeRun)))
        assert not list(
            session.exec(select(AuditEvent).where(AuditEvent.action == "retention_purged"))
        )


@pytest.mark.parametrize("demo", ["sqlite"], indirect=True)
def test_lifting_a_hold_lets_the_next_sweep_take_the_rows(demo: Stores) -> None:
    """Held rows survive the sweep; once the hold is lifted, the next sweep removes them."""
    before = demo.snapshot()
    phone = sorted(
        p for r in before["cdr"].values() if aged("cdr", r) for p in identifiers("cdr", "phone", r)
    )[0]
    mine = {
        k
        for k, r in before["cdr"].items()
        if aged("cdr", r) and phone in identifiers("cdr", "phone", r)
    }
    with Session(get_engine(demo.rt.db_url)) as session:
        hold_id = holds.add(
            session,
            email=None,
            phone=phone,
            reason="court order",
            by="test",
            connectors=["recordings"],
        ).id
        session.commit()
    retention.sweep(demo.rt, "recordings", PurgeRequest(as_of=NOW))
    assert mine <= set(demo.snapshot()["cdr"])
    with Session(get_engine(demo.rt.db_url)) as session:
        holds.lift(session, hold_id, by="test")
        session.commit()
    (report,) = retention.sweep(demo.rt, "recordings", PurgeRequest(as_of=NOW))
    assert report.purged == len(mine) and not mine & set(demo.snapshot()["cdr"])


@pytest.mark.parametrize("demo", ["sqlite"], indirect=True)
def test_sweep_refuses_an_unknown_connector(demo: Stores) -> None:
    """Sweeping a connector that does not exist is bad input, and nothing is recorded."""
    with pytest.raises(InvalidInput):
        retention.sweep(demo.rt, "billing", PurgeRequest(as_of=NOW))
    with Session(get_engine(demo.rt.db_url)) as session:
        assert not list(session.exec(select(PurgeRun)))


@pytest.mark.parametrize("demo", ["sqlite"], indirect=True)
def test_max_chunks_stops_early_and_a_rerun_finishes(demo: Stores) -> None:
    """A sweep stopped after a chunk reports itself incomplete; the next run finishes the job."""
    policy = replace(retention.policy_for(demo.rt), chunk_size=3)
    (first,) = retention.sweep(demo.rt, "crm", PurgeRequest(as_of=NOW, max_chunks=1), policy=policy)
    (second,) = retention.sweep(demo.rt, "crm", PurgeRequest(as_of=NOW), policy=policy)
    assert (first.done, first.chunks, second.done) == (False, 1, True)
    assert first.purged + second.purged == first.matched
    with Session(get_engine(demo.rt.db_url)) as session:
        statuses = [
            r.report["status"]
            for r in session.exec(select(PurgeRun).order_by(col(PurgeRun.started_at)))
        ]
    assert statuses == ["incomplete", "finished"]
