"""The four products' stores end to end (issue 21, item 5): access, rectify and erase through the
real pipeline (intake, a dramatiq worker on Redis, a PostgreSQL ledger, the reply received by
SMTP), each product's ``connectors.yaml`` entry its only connector, on the engine its upstream
uses (FreePBX's call records also on SQLite), for Lê Văn Cường, whose identifiers the fixture
wrote in many spellings beside decoys.

What is asserted is what the subject and the shop would notice: the ZIP in the reply holds
every row of his in every spelling and nobody else's; a correction is in the store's rows
(history excepted, and said so) and the new address finds him afterwards; an erasure leaves
his rows deleted or anonymised as the entry says, his recordings gone, open orders deferred,
everyone else's rows as they were, and a certificate saying what remains and why. (The call
records' entry has nothing rectifiable: calls are not corrected.)

Odoo's contact of his wife carries his home line: a search by the phone his own contacts give
reaches her contact, which is another account's, so Odoo's requests wait in ``needs_review``
until staff exclude it (the behaviour the identity assurance promises); the tests assert that
and then the outcome.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.sql_tables import REDACTED
from dsr.service import Caller
from dsr.spellings import stored_values
from tests.products.e2e_run import Launch, Product, decoys_in, launch, spellings, text
from tests.products.fresh import files, snapshot, without
from tests.products.people import CUONG, EMAIL, LAN, PHONE, Subject, phone_spellings

__all__ = ["launch"]  # the fixture, imported for pytest

NEW_EMAIL = "cuong.le.moi@example.vn"
NEW_NAME = "Lê Quốc Cường"
NEW_STREET = "5 Hai Bà Trưng, Huế"


def _db_rows(p: Product, subject: Subject) -> dict[str, list[dict[str, Any]]]:
    return {table: p.rows(table, keys) for table, keys in subject.rows.items()}


def _check_access(p: Product, request_id: str, subject: Subject) -> dict[str, bytes]:
    """The reply's bundle holds exactly the subject's rows, every spelling, no decoy's."""
    bundle = p.bundle(request_id, subject.person.email)
    exported = p.exported(bundle)
    want = {table: Counter(keys) for table, keys in subject.rows.items()}
    assert p.keys(exported) == want
    stored = _db_rows(p, subject)
    many = 0
    for kind in (EMAIL, PHONE):
        in_store = spellings(p.store, stored, kind, subject.value(kind))
        assert spellings(p.store, exported, kind, subject.value(kind)) == in_store, kind
        many += len(in_store)
    assert many >= 2, "the fixture writes the subject's identifiers several ways"
    assert decoys_in(p.store, exported) == []
    return bundle


def _erase_certificate(p: Product, request_id: str, subject: Subject) -> str:
    data = p.pipe.status(request_id)
    assert data["status"] == "completed"
    reply = text(p.reply(request_id, subject.person.email))
    assert "ERASURE CERTIFICATE" in reply
    assert "checked after the erasure by searching again" in reply
    return reply


def _task(p: Product, request_id: str) -> dict[str, Any]:
    (task,) = p.pipe.status(request_id)["tasks"]
    assert isinstance(task, dict)
    return task


# -- WooCommerce on MariaDB ---------------------------------------------------------------------


def test_woocommerce_access_finds_every_order_in_every_spelling(launch: Launch) -> None:
    """By his verified address: his account, its meta, his orders on the account (by the
    customer id the account gives) and as a guest (by the address), with their addresses and
    bookkeeping, come back, each e-mail as typed; nothing waits for review."""
    p = launch("woocommerce")
    cuong = p.store.seeded.subjects["cuong"]
    rid = p.submit("access", CUONG.email)
    assert p.settle(rid)["status"] == "completed"
    _check_access(p, rid, cuong)
    provenance = {(i["kind"], i["provenance"]) for i in p.status(rid)["identifiers"]}
    assert {("email", "verified"), ("customer_id", "derived")} <= provenance


def test_woocommerce_access_by_phone_leaves_his_wifes_order_to_staff(launch: Launch) -> None:
    """By his verified address and phone: the phone in the order addresses also reaches the gift
    his wife ordered for him (her guest order, his name and phone on its shipping row); it is
    another account's, so it waits for staff, who exclude it: the bundle is his rows only."""
    # needs child-table match
    p = launch("woocommerce")
    cuong = p.store.seeded.subjects["cuong"]
    rid = p.submit("access", CUONG.email, phone=phone_spellings(CUONG.phone)[1])
    assert p.settle(rid)["status"] == "needs_review"
    candidates = p.status(rid)["candidates"]
    lans = [
        r["id"]
        for r in p.table("wp_wc_orders")
        if LAN.email in stored_values(EMAIL, r["billing_email"])
    ]
    assert [(c["table"], c["key"], c["reason"]) for c in candidates] == [
        ("wp_wc_orders", str(lans[0]), "other_account")
    ]
    assert p.review(rid)["status"] == "completed"
    _check_access(p, rid, cuong)
    assert "1 record not included (checked by our staff: not yours)" in text(
        p.reply(rid, CUONG.email)
    )


def test_woocommerce_rectify_rewrites_the_account_and_open_order_not_history(
    launch: Launch,
) -> None:
    """A new address and name: the account and the order still processing take them; completed
    and refunded orders keep what they said (reported as history); the new address then finds
    everything of his; nobody else's row changes."""
    p = launch("woocommerce")
    cuong = p.store.seeded.subjects["cuong"]
    before = snapshot(p.store)
    typed = {r["id"]: r for r in p.rows("wp_wc_orders", cuong.rows["wp_wc_orders"])}
    rid = p.submit("rectify", CUONG.email, changes={"email": NEW_EMAIL, "name": NEW_NAME})
    assert p.settle(rid)["status"] == "completed"
    (user,) = p.rows("wp_users", cuong.rows["wp_users"])
    assert (user["user_email"], user["display_name"]) == (NEW_EMAIL, NEW_NAME)
    orders = p.rows("wp_wc_orders", cuong.rows["wp_wc_orders"])
    (open_order,) = [o for o in orders if o["status"] == "wc-processing"]
    assert open_order["billing_email"] == NEW_EMAIL
    history = [o for o in orders if o is not open_order]
    assert len(history) == 4
    assert history == [typed[o["id"]] for o in history]  # as typed then, row for row
    reply = text(p.reply(rid, CUONG.email))
    assert "historical records" in reply and "wp_wc_orders" in reply
    assert without(snapshot(p.store), cuong.rows) == without(before, cuong.rows)

    again = p.submit("access", NEW_EMAIL)
    assert p.settle(again)["status"] == "completed"
    # Everything of his: the account by its new address, the guest orders under the old one
    # (kept as a former address of the account).
    found = p.keys(p.exported(p.bundle(again, NEW_EMAIL)))
    assert found == {table: Counter(keys) for table, keys in cuong.rows.items()}
    provenance = {(i["kind"], i["provenance"]) for i in p.status(again)["identifiers"]}
    assert ("email", "former") in provenance


def test_woocommerce_erase_anonymises_orders_and_defers_the_open_one(launch: Launch) -> None:
    """His account and its meta are deleted; completed and refunded orders are anonymised and
    kept (accounting law, until the retention date), their bookkeeping kept; the order still
    processing is deferred, untouched; other customers' rows are as they were; the certificate
    says what remains and why."""
    p = launch("woocommerce")
    cuong = p.store.seeded.subjects["cuong"]
    before = snapshot(p.store)
    rid = p.submit("erase", CUONG.email)
    assert p.settle(rid)["status"] == "completed"
    reply = _erase_certificate(p, rid, cuong)
    after = snapshot(p.store)
    assert without(after, cuong.rows) == without(before, cuong.rows)
    assert not p.rows("wp_users", cuong.rows["wp_users"])
    assert not p.rows("wp_usermeta", cuong.rows["wp_usermeta"])
    orders = p.rows("wp_wc_orders", cuong.rows["wp_wc_orders"])
    assert len(orders) == 5  # kept under the accounting law
    open_order = next(o for o in orders if o["status"] == "wc-processing")
    assert open_order["customer_id"] == int(cuong.value("customer_id"))
    for order in orders:
        if order is open_order:
            continue
        assert order["customer_id"] is None and order["ip_address"] is None
        assert "@" not in str(order["billing_email"])  # a keyed hash, no address
        assert order["total_amount"] is not None
    addresses = p.rows("wp_wc_order_addresses", cuong.rows["wp_wc_order_addresses"])
    for row in addresses:
        if row["order_id"] == open_order["id"]:
            assert row["phone"] is not None  # the courier still needs it
        else:
            assert row["phone"] is None and row["email"] is None
            assert row["first_name"] == REDACTED
    kept = p.rows("wp_wc_order_operational_data", cuong.rows["wp_wc_order_operational_data"])
    assert len(kept) == 5
    assert "deferred" in reply and "open order" in reply
    assert "anonymised 4 records" in reply and "Luật Kế toán 2015" in reply
    assert "Retention ends on" in reply
    assert "deferred, still needed" in reply
    assert _task(p, rid)["status"] == "done"


# -- listmonk on PostgreSQL ---------------------------------------------------------------------


def test_listmonk_access_finds_both_imports_of_his_address(launch: Launch) -> None:
    """His address was imported twice (once in capitals, once with a leading space: listmonk's
    LOWER(email) index saw two addresses); both subscribers and their list subscriptions come
    back, and nobody else's."""
    p = launch("listmonk")
    cuong = p.store.seeded.subjects["cuong"]
    rid = p.submit("access", CUONG.email)
    assert p.settle(rid)["status"] == "completed"
    _check_access(p, rid, cuong)


def test_listmonk_rectify_changes_his_name_on_both_subscribers(launch: Launch) -> None:
    """A new name reaches both of his subscribers, stored in NFC; nobody else's row changes."""
    p = launch("listmonk")
    cuong = p.store.seeded.subjects["cuong"]
    before = snapshot(p.store)
    rid = p.submit("rectify", CUONG.email, changes={"name": NEW_NAME})
    assert p.settle(rid)["status"] == "completed"
    rows = p.rows("subscribers", cuong.rows["subscribers"])
    assert {r["name"] for r in rows} == {NEW_NAME}
    assert without(snapshot(p.store), cuong.rows) == without(before, cuong.rows)
    reply = text(p.reply(rid, CUONG.email))
    assert "table subscribers: name (2 records)" in reply


def test_listmonk_rectify_changes_his_address(launch: Launch) -> None:
    """His address is on two subscribers (imported twice: listmonk's unique index is on
    LOWER(email), which a leading space defeats), and both cannot take the same new address:
    the request waits in needs_attention, with a task error saying why and no reply, and
    nothing is half-written. Once the duplicate is merged in listmonk, ops retry and the new
    address finds his subscriptions; the old one no longer does."""
    p = launch("listmonk")
    cuong = p.store.seeded.subjects["cuong"]
    keys = cuong.rows["subscribers"]
    before = p.rows("subscribers", keys)
    rid = p.submit("rectify", CUONG.email, changes={"email": NEW_EMAIL})
    data = p.settle(rid)
    assert data["status"] == "needs_attention"
    assert any("duplicate rows" in (t["error"] or "") for t in data["tasks"])
    assert p.rows("subscribers", keys) == before
    sent = [str(m["Message-ID"]) for m in p.pipe.smtp.to(CUONG.email)]
    assert not [m for m in sent if m.startswith(f"<{rid}.reply@")]
    with p.store.engine.begin() as conn:  # what listmonk's "merge" leaves: one subscriber
        keep, *dupes = sorted(keys, key=int)
        conn.execute(
            sa.text("UPDATE subscriber_lists SET subscriber_id = :k WHERE subscriber_id = :d"),
            [{"k": int(keep), "d": int(d)} for d in dupes],
        )
        conn.execute(
            sa.text("DELETE FROM subscribers WHERE id = :d"), [{"d": int(d)} for d in dupes]
        )
    p.service.retry(rid, by=Caller.staff("ops"))
    assert p.settle(rid)["status"] == "completed"
    assert not spellings(
        p.store, {"subscribers": p.rows("subscribers", [keep])}, EMAIL, CUONG.email
    )
    again = p.submit("access", NEW_EMAIL)
    assert p.settle(again)["status"] == "completed"
    assert p.keys(p.exported(p.bundle(again, NEW_EMAIL))).get("subscribers")


def test_listmonk_erase_deletes_his_subscriptions(launch: Launch) -> None:
    """Both subscribers and every list subscription of theirs are deleted, nobody else's; the
    certificate says nothing of his remains."""
    p = launch("listmonk")
    cuong = p.store.seeded.subjects["cuong"]
    before = snapshot(p.store)
    rid = p.submit("erase", CUONG.email)
    assert p.settle(rid)["status"] == "completed"
    reply = _erase_certificate(p, rid, cuong)
    assert not p.rows("subscribers", cuong.rows["subscribers"])
    assert not p.rows("subscriber_lists", cuong.rows["subscriber_lists"])
    assert without(snapshot(p.store), cuong.rows) == without(before, cuong.rows)
    assert "erased 2 records" in reply and "nothing about you remains" in reply


# -- Odoo on PostgreSQL -------------------------------------------------------------------------


def _lan(p: Product) -> str:
    """The ref of his wife's contact (her address, his home line as its phone)."""
    (pid,) = [
        r["id"] for r in p.table("res_partner") if LAN.email in stored_values(EMAIL, r["email"])
    ]
    return f"odoo:res_partner:{pid}"


def _staff_exclude_lan(p: Product, request_id: str) -> dict[str, Any]:
    """The request waits for staff: his phone (read from his own contacts) reaches his wife's
    contact, another account; staff exclude it and the request carries on."""
    data = p.settle(request_id)
    assert data["status"] == "needs_review"
    candidates = p.status(request_id)["candidates"]
    assert [(c["ref"], c["reason"]) for c in candidates] == [(_lan(p), "other_account")]
    assert candidates[0]["matched"][0]["kind"] == PHONE
    return p.review(request_id)


def test_odoo_access_leaves_his_wifes_contact_to_staff(launch: Launch) -> None:
    """His contacts (main, delivery, invoice and the sign-up duplicate) and their sales orders
    come back once staff exclude his wife's contact, which his home line reached."""
    p = launch("odoo")
    cuong = p.store.seeded.subjects["cuong"]
    rid = p.submit("access", CUONG.email)
    assert _staff_exclude_lan(p, rid)["status"] == "completed"
    _check_access(p, rid, cuong)
    assert "1 record not included (checked by our staff: not yours)" in text(
        p.reply(rid, CUONG.email)
    )


def test_odoo_rectify_rewrites_his_contacts(launch: Launch) -> None:
    """A new e-mail address, name and street reach all four of his contacts (after staff exclude
    his wife's); hers and everyone else's stay as they were; the new address then finds his."""
    p = launch("odoo")
    cuong = p.store.seeded.subjects["cuong"]
    before = snapshot(p.store)
    changes = {"email": NEW_EMAIL, "name": NEW_NAME, "address": NEW_STREET}
    rid = p.submit("rectify", CUONG.email, changes=changes)
    assert _staff_exclude_lan(p, rid)["status"] == "completed"
    reply = text(p.reply(rid, CUONG.email))
    assert "table res_partner: address, email address, name (4 records)" in reply
    assert "1 record not included (checked by our staff: not yours)" in reply
    rows = p.rows("res_partner", cuong.rows["res_partner"])
    assert {(r["email"], r["name"], r["street"]) for r in rows} == {
        (NEW_EMAIL, NEW_NAME, NEW_STREET)
    }
    assert without(snapshot(p.store), cuong.rows) == without(before, cuong.rows)
    again = p.submit("access", NEW_EMAIL)
    assert _staff_exclude_lan(p, again)["status"] == "completed"
    found = p.keys(p.exported(p.bundle(again, NEW_EMAIL)))
    assert found == {table: Counter(keys) for table, keys in cuong.rows.items()}


def test_odoo_erase_anonymises_contacts_and_keeps_orders(launch: Launch) -> None:
    """His contacts are anonymised (sales orders point at them), his sales orders kept under the
    accounting law; his wife's contact (excluded by staff) and everyone else's are untouched."""
    p = launch("odoo")
    cuong = p.store.seeded.subjects["cuong"]
    before = snapshot(p.store)
    rid = p.submit("erase", CUONG.email)
    assert _staff_exclude_lan(p, rid)["status"] == "completed"
    reply = _erase_certificate(p, rid, cuong)
    assert without(snapshot(p.store), cuong.rows) == without(before, cuong.rows)
    for row in p.rows("res_partner", cuong.rows["res_partner"]):
        assert (row["email"], row["phone"], row["mobile"]) == (None, None, None)
        assert row["name"] == REDACTED
    orders = p.rows("sale_order", cuong.rows["sale_order"])
    assert len(orders) == 4
    assert "anonymised 4 records" in reply and "retained 4 records under a legal duty" in reply
    assert "Luật Kế toán 2015" in reply and "Retention ends on" in reply
    # The search again still reaches his wife's contact by his home line: said, not erased.
    assert "still found 1 record in table res_partner" in reply
    assert "1 record not included (checked by our staff: not yours)" in reply


# -- FreePBX call records and recordings, on MariaDB and SQLite --------------------------------

CDR = ["asterisk_mariadb", "asterisk_sqlite"]


@pytest.mark.parametrize("name", CDR)
def test_cdr_access_brings_the_recordings(launch: Launch, name: str) -> None:
    """By his phone (vouched for by staff): every call leg of his in every way the PBX wrote
    the number, and the recording of each (the one the PBX's clean-up removed excepted), in the
    bundle under files/cdr/YYYY/MM/DD/."""
    p = launch(name)
    cuong = p.store.seeded.subjects["cuong"]
    rid = p.submit("access", CUONG.email, phone=phone_spellings(CUONG.phone)[0])
    assert p.settle(rid)["status"] == "completed"
    bundle = _check_access(p, rid, cuong)
    prefix = f"{p.connector}/files/cdr/"
    audio = {n.removeprefix(prefix): data for n, data in bundle.items() if n.startswith(prefix)}
    assert p.store.root is not None
    assert audio == {str(f.relative_to(p.store.root)): f.read_bytes() for f in cuong.files}


@pytest.mark.parametrize("name", CDR)
def test_cdr_erase_removes_calls_and_recordings(launch: Launch, name: str) -> None:
    """Every call leg of his is deleted with its recording; the decoys' calls (a number one
    digit off, a landline holding his digits, his wife's mobile) and recordings stay."""
    p = launch(name)
    cuong = p.store.seeded.subjects["cuong"]
    before, audio = snapshot(p.store), files(p.store)
    rid = p.submit("erase", CUONG.email, phone=CUONG.phone)
    assert p.settle(rid)["status"] == "completed"
    reply = _erase_certificate(p, rid, cuong)
    assert not p.rows("cdr", cuong.rows["cdr"])
    assert not [f for f in cuong.files if f.exists()]
    assert without(snapshot(p.store), cuong.rows) == without(before, cuong.rows)
    assert p.store.root is not None
    mine = {str(f.relative_to(p.store.root)) for f in cuong.files}
    assert files(p.store) == {k: v for k, v in audio.items() if k not in mine}
    assert f"table cdr: erased {len(cuong.rows['cdr'])} records" in reply
    assert f"table cdr files: erased {len(cuong.files)} records" in reply
    assert "nothing about you remains" in reply
