"""Random small worlds of accounts sharing identifiers, on real stores, through the whole core.

Each example builds the four demo stores (SQLite files, the PBX's recordings as WAV files) holding a
few accounts that share phones and e-mails, guest orders, list entries and calls; then a
requester proves one e-mail address with the one-time code, types any phone they like, and files
an access, rectify or erase request that runs inline through intake, verification, dispatch,
every connector task and fan-in (the reply is built, not sent). Whatever was asserted, no record
outside the verified subject's accounts is exported, changed or deleted.

Whose a record is, in these worlds (the ground truth the test holds the system to): a CRM row
is its account's, and an account is the subject's when its e-mail is the verified one; an order
with a customer id is that account's; a guest order is its e-mail's owner's, or, without one,
its phone's; a list entry is its e-mail's; a call is its phone's. A phone is the subject's alone
when the subject's accounts have it and no other account does.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from config.settings import Settings
from demo.stores import cdr, create_store, customers, orders, subscribers
from dsr.core.intake import filing
from dsr.core.ledger import paths
from dsr.core.ledger.db import get_engine, migrate
from dsr.core.runtime.process import Runtime
from dsr.identity import suppression_hash
from dsr.service import Caller, Service
from dsr.service.views import dump
from tests.connectors.stores import call, write_wav
from tests.inline import code_from_outbox, inline

EMAILS = ["an@example.com", "binh@example.com", "chi@example.com"]
PHONES = ["+84911000001", "+84911000002"]  # few: accounts share them often
STRANGER = "stranger@example.net"
SECRET = "worlds-secret-key-0123456789abcdef"
WHEN = datetime(2025, 3, 1, 9, 0)


@dataclass(frozen=True)
class World:
    accounts: list[tuple[str | None, str | None]]  # (email, phone); customer id K<i>
    guests: list[tuple[str | None, str | None, str]]  # guest orders: (email, phone, status)
    orders: list[tuple[int, str]]  # (account index, or -1 for an unknown id; status)
    subscribers: list[str]
    calls: list[str]
    kind: str
    verified: str
    asserted: str | None


def _maybe(values: list[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.sampled_from(values))


worlds = st.builds(
    World,
    accounts=st.lists(
        st.tuples(_maybe(EMAILS), st.one_of(st.sampled_from(PHONES), st.none())),
        min_size=1,
        max_size=4,
    ),
    guests=st.lists(
        st.tuples(_maybe(EMAILS), _maybe(PHONES), st.sampled_from(["delivered", "pending"])),
        max_size=2,
    ),
    orders=st.lists(
        st.tuples(st.integers(-1, 3), st.sampled_from(["delivered", "pending"])), max_size=4
    ),
    subscribers=st.lists(st.sampled_from([*EMAILS, "lead@example.com"]), max_size=3, unique=True),
    calls=st.lists(st.sampled_from([*PHONES, "+84911000009"]), min_size=1, max_size=4),
    kind=st.sampled_from(["access", "rectify", "erase"]),
    verified=st.sampled_from([*EMAILS, STRANGER]),
    asserted=_maybe(PHONES),
)


def _build(world: World, data: Path) -> None:
    for store in ("crm", "newsletter", "orders"):
        engine = sa.create_engine(f"sqlite:///{data / store}.db")
        create_store(engine, store)
        with engine.begin() as conn:
            if store == "crm":
                for i, (email, phone) in enumerate(world.accounts):
                    conn.execute(
                        sa.insert(customers).values(
                            customer_id=f"K{i}", full_name=f"Khách {i}", email=email,
                            phone=phone, address=f"{i} Lê Lợi", status="active",
                            created_at=WHEN,
                        )
                    )  # fmt: skip
            elif store == "newsletter":
                for email in world.subscribers:
                    conn.execute(
                        sa.insert(subscribers).values(email=email, name="x", subscribed_at=WHEN)
                    )
            else:
                rows: list[tuple[str | None, str | None, str | None, str]] = [
                    (f"K{i}" if i >= 0 else "K99", None, None, s) for i, s in world.orders
                ]
                rows += [(None, e, p, s) for e, p, s in world.guests]
                for n, (cid, email, phone, status) in enumerate(rows):
                    conn.execute(
                        sa.insert(orders).values(
                            order_no=f"O{n}", customer_id=cid, email=email,
                            recipient_name="Người nhận", shipping_address="1 Hàng Bài",
                            shipping_phone=phone, status=status, total=100, created_at=WHEN,
                        )
                    )  # fmt: skip
        engine.dispose()
    root = data / "recordings"
    root.mkdir()
    engine = sa.create_engine(f"sqlite:///{root / 'cdr.db'}")
    create_store(engine, "recordings")
    with engine.begin() as conn:
        for n, phone in enumerate(world.calls):
            name = f"2025/03/01/call-{n}.wav"
            conn.execute(sa.insert(cdr).values(call(f"call-{n}", phone, WHEN, name)))
            write_wav(root / "monitor" / name, seconds=0.01)
    engine.dispose()


def _subjects(world: World) -> dict[str, set[str]]:
    """The ground truth: keys of each table's records that are the verified subject's."""
    mine = {i for i, (email, _) in enumerate(world.accounts) if email == world.verified}
    phones = {world.accounts[i][1] for i in mine} - {None}
    others = {p for i, (_, p) in enumerate(world.accounts) if i not in mine}
    alone = phones - others
    rows: list[tuple[str | None, str | None, str | None]] = [
        (f"K{i}" if i >= 0 else "K99", None, None) for i, _ in world.orders
    ]
    rows += [(None, e, p) for e, p, _ in world.guests]
    order_keys = set()
    for n, (cid, email, phone) in enumerate(rows, start=1):
        if cid is not None:
            ok = cid in {f"K{i}" for i in mine}
        elif email is not None:
            ok = email == world.verified
        else:
            ok = phone in alone
        if ok:
            order_keys.add(str(n))
    return {
        "customers": {str(i + 1) for i in mine},
        "orders": order_keys,
        "subscribers": {
            str(n) for n, e in enumerate(world.subscribers, start=1) if e == world.verified
        },
        "cdr": {f"call-{n}" for n, p in enumerate(world.calls) if p in alone},
    }


STORE_OF = {"customers": "crm", "subscribers": "newsletter", "orders": "orders"}


def _snapshot(data: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for table, store in STORE_OF.items():
        engine = sa.create_engine(f"sqlite:///{data / store}.db")
        with engine.connect() as conn:
            out[table] = {
                str(r[0]): tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {table}"))
            }
        engine.dispose()
    engine = sa.create_engine(f"sqlite:///{data / 'recordings' / 'cdr.db'}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT uniqueid, * FROM cdr"))
        out["cdr"] = {str(r[0]): tuple(r) for r in rows}
    engine.dispose()
    monitor = data / "recordings" / "monitor"
    out["files"] = {p.stem: p.read_bytes() for p in monitor.rglob("*.wav")}
    return out


def _exported(export_dir: Path, request_id: str) -> dict[str, set[str]]:
    """Keys of every record staged for the request's export, by table."""
    out: dict[str, set[str]] = {}
    root = paths.staging_root(export_dir, request_id)
    for path in root.glob("*/*.json"):
        rows = json.loads(path.read_text("utf-8"))
        key = "uniqueid" if path.stem == "cdr" else "id"
        out.setdefault(path.stem, set()).update(str(r[key]) for r in rows)
    for wav in root.glob("*/files/cdr/**/*.wav"):
        out.setdefault("cdr", set()).add(wav.stem)
    return out


@settings(
    max_examples=40,
    deadline=None,
    # Each example builds real stores: shrinking would take minutes; the failing world is
    # printed as found.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds)
def test_nothing_outside_the_verified_subjects_accounts_is_touched(world: World) -> None:
    """Whatever the requester asserts, no record outside the verified subject's accounts is
    exported, changed or deleted without a staff decision."""
    with tempfile.TemporaryDirectory(prefix="dsr-world-") as folder:
        base = Path(folder)
        data = base / "data"
        data.mkdir()
        _build(world, data)
        ledger = f"sqlite:///{base / 'ledger.db'}"  # its own: identity history is per world
        migrate(ledger)
        rt = Runtime(
            Settings(
                database_url=ledger,
                data_dir=data,
                export_dir=base / "exports",
                var_dir=base / "var",
                secret_key=SecretStr(SECRET),
            )
        )
        try:
            svc = Service(rt, inline(rt))
            before = _snapshot(data)
            mine = _subjects(world)
            sub = filing.Submission(
                world.kind,
                world.verified,
                phone=world.asserted,
                changes={"address": "9 Tràng Tiền", "phone": "+84911000007"}
                if world.kind == "rectify"
                else {},
            )
            rid = dump(svc.submit(sub, by=Caller.staff("t")))["id"]
            svc.verify(
                rid, code_from_outbox(rt.settings.resolved_export_dir, rid), by=Caller.staff("t")
            )
            status = dump(svc.status(rid, by=Caller.staff("t")))["status"]
            # Replying: the reply is built (it is not sent here); or waiting for staff.
            assert status in ("replying", "needs_review"), status
            after = _snapshot(data)
            for table in ("customers", "orders", "subscribers", "cdr"):
                for key, row in before[table].items():
                    if key not in mine[table]:
                        assert after[table].get(key) == row, (table, key)
            for stem, recording in before["files"].items():
                if stem not in mine["cdr"]:
                    assert after["files"].get(stem) == recording, stem
            for table, keys in _exported(rt.settings.resolved_export_dir, rid).items():
                assert keys <= mine.get(table, set()), (table, keys - mine.get(table, set()))
            if world.kind == "erase":
                outsiders = {e for e in EMAILS if e != world.verified}
                engine = sa.create_engine(f"sqlite:///{data / 'newsletter.db'}")
                with engine.connect() as conn:
                    hashes = set(
                        conn.execute(sa.text("SELECT email_hash FROM suppression")).scalars()
                    )
                engine.dispose()
                assert not hashes & {suppression_hash(e, SECRET) for e in outsiders}
                # The subject's own accounts are erased, not merely left alone.
                assert not set(after["customers"]) & mine["customers"]
        finally:
            rt.close()
            get_engine(ledger).dispose()
