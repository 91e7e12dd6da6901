"""Long work reports its progress through a plain callback: seeding, and retention sweeps."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from demo.seed import CHUNK, seed, store_paths
from dsr.core.ledger.db import get_engine, migrate
from dsr.core.ops.retention import PurgeRequest
from dsr.core.runtime.progress import Progress
from dsr.service import Caller, Service
from dsr.service.views import dump
from tests.scheduler.stores import NOW, seeded_stores


def test_seed_reports_people_written_then_indexes(tmp_path: Path) -> None:
    """Each chunk of people written is reported, growing to the total; then each index build."""
    heard: list[Progress] = []
    customers = CHUNK * 2 + 7
    seed(tmp_path / "data", customers, secret_key="s" * 20, reset=True, progress=heard.append)
    people = [p for p in heard if p.task == "customers"]
    done = [p.done for p in people]
    assert done == sorted(done) and done[-1] == customers and len(set(done)) >= 3
    assert all(p.total == customers and p.unit == "customers" for p in people)
    assert people[-1].finished and not any(p.finished for p in people[:-1])
    indexes = [p for p in heard if p.task == "indexes"]
    last = indexes[-1]
    assert last.finished and last.total is not None and last.done == last.total > 0
    assert heard.index(people[-1]) < heard.index(indexes[0])


def test_purge_reports_each_rule_with_its_counts(tmp_path: Path) -> None:
    """Every rule is announced, counted up chunk by chunk, then finished with the rows purged
    (the dry run: would purge)."""
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    stores = seeded_stores(tmp_path, ledger, None)
    migrate(ledger)
    svc = Service(stores.rt, lambda _steps: None)
    for dry_run in (True, False):
        heard: list[Progress] = []
        result = dump(
            svc.purge(
                PurgeRequest(as_of=NOW, dry_run=dry_run),
                by=Caller.staff("t"),
                progress=heard.append,
            )
        )
        rules = [f"{s['connector']}.{s['table']}" for s in result["stores"]]
        assert list(dict.fromkeys(p.task for p in heard if not p.finished)) == rules
        for rule in rules:  # chunk by chunk, a rule's count only grows
            counts = [p.done for p in heard if p.task == rule]
            assert counts == sorted(counts)
        finished = {p.task: p for p in heard if p.finished}
        for s in result["stores"]:
            count = s["matched"] if dry_run else s["purged"]
            p = finished[f"{s['connector']}.{s['table']}"]
            assert (p.done, p.total, p.failed) == (count, max(count, s["matched"]), False)
        assert sum(p.done for p in finished.values()) > 0
    stores.close()
    get_engine(ledger).dispose()


def test_a_failing_store_is_reported_failed_and_the_others_finish(tmp_path: Path) -> None:
    """The CRM's table is gone: its rule ends failed, every other store's rule finishes."""
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    stores = seeded_stores(tmp_path, ledger, None)
    migrate(ledger)
    crm = sa.create_engine(f"sqlite:///{store_paths(stores.data_dir)['crm']}")
    with crm.begin() as conn:
        conn.execute(sa.text("DROP TABLE customers"))
    crm.dispose()
    heard: list[Progress] = []
    result = dump(
        Service(stores.rt, lambda _steps: None).purge(
            PurgeRequest(as_of=NOW), by=Caller.staff("t"), progress=heard.append
        )
    )
    assert [e["connector"] for e in result["errors"]] == ["crm"]
    ends = {p.task: p.failed for p in heard if p.finished}
    assert ends == {
        "recordings.cdr": False,
        "newsletter.subscribers": False,
        "crm.customers": True,
        "orders.orders": False,
    }
    stores.close()
    get_engine(ledger).dispose()
