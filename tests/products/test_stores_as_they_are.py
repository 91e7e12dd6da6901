"""The SQL connector on the products' own tables, configured only by their YAML entries.

For each product, the entry is loaded with ``SqlStore.from_config`` and searched with one of a
known subject's identifiers in its canonical spelling: every row of theirs that holds it
(with its child rows) must come back, in whatever spelling the row holds it, and nothing of
anyone else's except rows that hold the very same identifier (Cường's wife's contact carries
his home number). A decoy's identifiers (a namesake, a number one digit off, a landline whose
digits contain his number, his local part at another domain) must find none of their rows.

The call archive's recordings must come with its calls from where FreePBX keeps them
(``root/YYYY/MM/DD/<recordingfile>``, the date being the file name's own).

Written against the connector being built for issue 21 (raw columns, ``null_when``,
``changed_at``, ``file``, ``match`` lists); nothing here is marked as expected to fail.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from connectors.base import Found
from connectors.sql import SqlStore
from dsr.identity import Identity
from tests.products.people import CUSTOMER_ID, DECOYS, EMAIL, PHONE
from tests.products.stores import ProductStore

SECRET = "k" * 32
# (store, known subject, identifier kind): each kind the store's entry searches by.
CASES = [
    *(("woocommerce", h, EMAIL) for h in ("cuong", "ha", "khoa")),
    *(("woocommerce", h, CUSTOMER_ID) for h in ("cuong", "ha")),
    *(("woocommerce", h, PHONE) for h in ("cuong", "ha", "khoa")),
    *(("listmonk", h, EMAIL) for h in ("cuong", "ha")),
    *(("odoo", h, kind) for h in ("cuong", "ha", "khoa") for kind in (EMAIL, PHONE)),
    *(
        (s, h, PHONE)
        for s in ("asterisk_mariadb", "asterisk_sqlite")
        for h in ("cuong", "ha", "khoa")
    ),
]
STORES = ("woocommerce", "listmonk", "odoo", "asterisk_mariadb", "asterisk_sqlite")


@contextmanager
def _connector(store: ProductStore) -> Iterator[SqlStore]:
    connector = SqlStore.from_config(store.entry, secret_key=SECRET, region="VN")
    try:
        yield connector
    finally:
        connector.close()


def _keys(store: ProductStore, found: Found) -> dict[str, Counter[str]]:
    """The rows found, by table, as their keys (the entry's key column) in text."""
    return {
        table: Counter(str(row[store.keys[table]]) for row in rows)
        for table, rows in found.records.items()
        if rows
    }


def _diff(got: dict[str, Counter[str]], want: dict[str, Counter[str]]) -> str:
    lines = []
    for table in sorted(set(got) | set(want)):
        missing = want.get(table, Counter()) - got.get(table, Counter())
        extra = got.get(table, Counter()) - want.get(table, Counter())
        if missing or extra:
            lines.append(
                f"{table}: missing {sorted(missing.elements())}, extra {sorted(extra.elements())}"
            )
    return "; ".join(lines)


@pytest.mark.parametrize(("name", "handle", "kind"), CASES)
def test_every_spelling_found_and_nobody_elses(
    request: pytest.FixtureRequest, name: str, handle: str, kind: str
) -> None:
    store: ProductStore = request.getfixturevalue(f"{name}_store")
    subject = store.seeded.subjects[handle]
    with _connector(store) as connector:
        found = connector.find(subject.identity(kind))
    got = _keys(store, found)
    want = {table: Counter(keys) for table, keys in subject.hits[kind].items()}
    assert got == want, _diff(got, want)


@pytest.mark.parametrize("name", STORES)
def test_decoys_find_none_of_the_known_subjects_rows(
    request: pytest.FixtureRequest, name: str
) -> None:
    store: ProductStore = request.getfixturevalue(f"{name}_store")
    theirs = {
        (table, key)
        for subject in store.seeded.subjects.values()
        for table, keys in subject.rows.items()
        for key in keys
    }
    searched_by = {k for spec in store.entry["tables"] for k in spec.get("match", {})}
    with _connector(store) as connector:
        for decoy in DECOYS:
            for kind in sorted(searched_by & {EMAIL, PHONE}):
                found = connector.find(Identity({kind: {decoy.value(kind)}}))
                hit = {(t, k) for t, keys in _keys(store, found).items() for k in keys}
                assert not hit & theirs, (decoy.handle, kind, sorted(hit & theirs))


def test_woocommerce_guest_orders_belong_to_no_account(woocommerce_store: ProductStore) -> None:
    """``customer_id`` 0 means "a guest": searching for it finds no order (``null_when``)."""
    with _connector(woocommerce_store) as connector:
        found = connector.find(Identity({CUSTOMER_ID: {"0"}}))
    assert not _keys(woocommerce_store, found).get("wp_wc_orders")


@pytest.mark.parametrize("name", ["asterisk_mariadb", "asterisk_sqlite"])
@pytest.mark.parametrize("handle", ["cuong", "ha", "khoa"])
def test_recordings_found_with_the_calls(
    request: pytest.FixtureRequest, name: str, handle: str
) -> None:
    """``file: {column: recordingfile, root}``: the recordings of the subject's calls come with
    them, where FreePBX keeps them (``root/YYYY/MM/DD/<recordingfile>``); the row whose file the
    PBX's clean-up removed names none that exists."""
    store: ProductStore = request.getfixturevalue(f"{name}_store")
    subject = store.seeded.subjects[handle]
    with _connector(store) as connector:
        found = connector.find(subject.identity(PHONE))
    assert sorted(found.files.get("cdr", [])) == sorted(subject.files)
