"""The connector contract's essential properties on the four products' real schemas.

The contract suite (``tests/connectors/test_contract.py``) is written around its own subject
and bystander (``tests.connectors.stores``: fixed identifiers, fixed counts, rows a retention
sweep must take), which the product stores do not hold; so its properties are checked here on
each product store (a fresh copy per test, ``fresh``), with the connector its entry builds:

- ``find`` is read-only: it runs through connections the server refuses writes on;
- access exports only what the policy admits: searched by Cường's identifiers and by decoys'
  (a namesake, his wife), with only his rows admitted, the staging folder holds exactly his rows
  (and recordings), every other hit comes back as a candidate, and the store is unchanged;
- erase is idempotent: a second identical erasure leaves the store (and the recordings) as the
  first left it and erases nothing more (what was deferred is deferred again);
- rectify and erase change nothing outside the admitted rows, and no operation changes the
  schema (tables, columns, keys, indexes, triggers).

The policy (``Chosen``) is the contract suite's ``ListPolicy``: it admits by table and key, as
the core's scope policy would once it had judged the rows.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from connectors.base import Action, Match, Operation, TaskResult, Verdict
from connectors.sql import SqlStore
from dsr.identity import CUSTOMER_ID, EMAIL, PHONE, Identity
from tests.products.fresh import files, fresh_store, schema, snapshot, without
from tests.products.people import DECOYS, LAN, NAMESAKE, Subject
from tests.products.stores import STORES, ProductStore

SECRET = "contract-products-secret-key-0123456789"
NEW_NAME = "Lê Quốc Cường"
GONE = (Action.ERASED, Action.ANONYMISED)


class Chosen:
    """The core's policy as the contract suite plays it (``tests.connectors.stores.ListPolicy``):
    search by ``search``, admit what ``admit`` says, and remember every verdict given."""

    def __init__(
        self, search: Identity, admit: Callable[[Match], bool], trusted: Identity | None = None
    ) -> None:
        self.search = search
        self.trusted = search if trusted is None else trusted
        self.admit = admit
        self.asked: dict[tuple[str, str], Verdict] = {}

    def decide(self, matches: Sequence[Match]) -> list[Verdict]:
        verdicts = [Verdict.ADMIT if self.admit(m) else Verdict.OTHER_ACCOUNT for m in matches]
        for match, verdict in zip(matches, verdicts, strict=True):
            self.asked[(match.table, match.key)] = verdict
        return verdicts


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProductStore]:
    """Each product's store, fresh (the tests below change it)."""
    with fresh_store(str(request.param), tmp_path / "store") as fresh:
        yield fresh


def _connector(entry: dict[str, Any]) -> SqlStore:
    return SqlStore.from_config(entry, secret_key=SECRET, region="VN")


def _kinds(store: ProductStore) -> set[str]:
    """The identifier kinds the entry searches by."""
    return {kind for spec in store.entry["tables"] for kind in spec.get("match", {})}


def _search(store: ProductStore, cuong: Subject) -> Identity:
    """Cường's identifiers and a namesake's and his wife's, of the kinds the store searches by:
    the search hits his rows and theirs."""
    identity = Identity()
    for kind in _kinds(store) & {EMAIL, PHONE}:
        identity.add(kind, [cuong.value(kind), NAMESAKE.value(kind), LAN.value(kind)])
    if CUSTOMER_ID in _kinds(store) and CUSTOMER_ID in cuong.assigned:
        identity.add(CUSTOMER_ID, [cuong.value(CUSTOMER_ID)])
    return identity


def _his(store: ProductStore, cuong: Subject, search: Identity) -> Chosen:
    """A policy searching by ``search`` and admitting Cường's rows only."""
    own = {(table, key) for table, keys in cuong.rows.items() for key in keys}
    return Chosen(search, admit=lambda m: (m.table, m.key) in own, trusted=search)


def _run(connector: SqlStore, operation: Operation, policy: Chosen, staging: Path) -> TaskResult:
    changes = {"name": NEW_NAME} if operation is Operation.RECTIFY else None
    return connector.apply(operation, policy, staging=staging, changes=changes)


def read_only_url(url: str) -> str:
    """``url`` on which the server refuses every write: SQLite opened ``mode=ro``, PostgreSQL
    and MariaDB sessions whose transactions are all READ ONLY."""
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = Path(parsed.database or "").resolve()
        return f"sqlite:///file:{quote(str(path))}?mode=ro&uri=true"
    if backend == "postgresql":
        options = f"{parsed.query.get('options', '')} -c default_transaction_read_only=on"
        return parsed.update_query_dict({"options": options.strip()}).render_as_string(False)
    init = "SET SESSION TRANSACTION READ ONLY"
    return parsed.update_query_dict({"init_command": init}).render_as_string(False)


def _read_only_refusal(err: sa.exc.DBAPIError) -> bool:
    """Whether the server refused a statement for being a write on a read-only connection."""
    orig: Any = err.orig
    if isinstance(getattr(orig, "sqlstate", None), str):
        return bool(orig.sqlstate == "25006")  # PostgreSQL: read_only_sql_transaction
    if orig.args and isinstance(orig.args[0], int):
        return bool(orig.args[0] == 1792)  # MariaDB: ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
    return "readonly" in str(orig)  # SQLite: attempt to write a readonly database


def test_read_only_url_refuses_writes(store: ProductStore) -> None:
    """The read-only connections of the next test are refused a write by the server itself."""
    engine = sa.create_engine(read_only_url(store.url))
    table = store.tables[-1]  # a child table: no other row points at its rows
    try:
        with pytest.raises(sa.exc.DBAPIError) as refused, engine.begin() as conn:
            conn.execute(sa.delete(table))
    finally:
        engine.dispose()
    assert _read_only_refusal(refused.value), refused.value.orig


def test_find_is_read_only(store: ProductStore) -> None:
    """Every known subject and every decoy, by each kind the store searches by, is looked up
    through connections that cannot write; the known subjects' rows come back; nothing changed."""
    before, audio, shape = snapshot(store), files(store), schema(store.engine)
    entry = {**store.entry, "url": read_only_url(store.url)}
    connector = _connector(entry)
    try:
        for subject in store.seeded.subjects.values():
            for kind in subject.hits:
                found = connector.find(subject.identity(kind))
                assert found.count, (subject.person.handle, kind)
        for decoy in DECOYS:
            for kind in _kinds(store) & {EMAIL, PHONE}:
                connector.find(Identity({kind: {decoy.value(kind)}}))
    finally:
        connector.close()
    assert snapshot(store) == before and files(store) == audio
    assert schema(store.engine) == shape


def _staged(staging: Path, key: dict[str, str]) -> dict[str, Counter[str]]:
    return {
        path.stem: Counter(str(row[key[path.stem]]) for row in json.loads(path.read_text("utf-8")))
        for path in staging.glob("*.json")
    }


def test_access_exports_only_what_is_admitted(store: ProductStore, tmp_path: Path) -> None:
    """Searched by Cường's and two decoys' identifiers, only his rows admitted: the staging
    folder holds his rows (and his recordings) and nothing else; every hit of someone else's
    is a candidate; the store is unchanged."""
    cuong = store.seeded.subjects["cuong"]
    policy = _his(store, cuong, _search(store, cuong))
    before, audio = snapshot(store), files(store)
    staging = tmp_path / "staging"
    staging.mkdir()
    connector = _connector(store.entry)
    try:
        result = _run(connector, Operation.ACCESS, policy, staging)
    finally:
        connector.close()
    assert _staged(staging, store.keys) == {t: Counter(keys) for t, keys in cuong.rows.items()}
    refused = {(t, k) for (t, k), verdict in policy.asked.items() if verdict is not Verdict.ADMIT}
    assert refused, "the decoys' identifiers must hit someone else's rows"
    assert {(c.match.table, c.match.key) for c in result.candidates} == refused
    copied = staging / "files" / "cdr"
    if store.root is not None:
        got = {str(p.relative_to(copied)) for p in copied.rglob("*") if p.is_file()}
        assert got == {str(f.relative_to(store.root)) for f in cuong.files}
    else:
        assert not copied.exists()
    assert snapshot(store) == before and files(store) == audio


@pytest.mark.parametrize("operation", [Operation.RECTIFY, Operation.ERASE])
def test_nothing_outside_the_admitted_rows_changes(
    store: ProductStore, tmp_path: Path, operation: Operation
) -> None:
    """Rectify (a new name) and erase touch Cường's rows at most: every other row, and every
    recording not of his calls, is as it was; the schema is unchanged."""
    cuong = store.seeded.subjects["cuong"]
    policy = _his(store, cuong, _search(store, cuong))
    before, audio, shape = snapshot(store), files(store), schema(store.engine)
    connector = _connector(store.entry)
    try:
        result = _run(connector, operation, policy, tmp_path)
    finally:
        connector.close()
    assert without(snapshot(store), cuong.rows) == without(before, cuong.rows)
    mine = {str(f.relative_to(store.root)) for f in cuong.files} if store.root else set()
    assert {k: v for k, v in files(store).items() if k not in mine} == {
        k: v for k, v in audio.items() if k not in mine
    }
    assert schema(store.engine) == shape
    assert {c.key for c in result.changes} <= {k for keys in cuong.rows.values() for k in keys}


def test_erase_is_idempotent(store: ProductStore, tmp_path: Path) -> None:
    """A second identical erasure leaves the store and the recordings as the first left them,
    erases nothing more, and defers again what the first deferred (an open order)."""
    cuong = store.seeded.subjects["cuong"]
    search = _search(store, cuong)
    shape = schema(store.engine)
    connector = _connector(store.entry)
    try:
        first = _run(connector, Operation.ERASE, _his(store, cuong, search), tmp_path)
        after, audio = snapshot(store), files(store)
        second = _run(connector, Operation.ERASE, _his(store, cuong, search), tmp_path)
    finally:
        connector.close()
    assert [o for o in first.outcomes if o.count and o.action in GONE], "nothing was erased"
    assert snapshot(store) == after and files(store) == audio
    deferred = [(o.table, o.count) for o in first.outcomes if o.action is Action.DEFERRED]
    done_again = [
        (o.table, o.action, o.count)
        for o in second.outcomes
        if o.count and o.action is not Action.DEFERRED
    ]
    assert done_again == []
    assert [(o.table, o.count) for o in second.outcomes if o.action is Action.DEFERRED] == deferred
    assert schema(store.engine) == shape


def test_admitting_nothing_touches_nothing(store: ProductStore, tmp_path: Path) -> None:
    """With a policy admitting nothing, an erasure changes no row and no recording, and every
    record hit is reported as a candidate."""
    cuong = store.seeded.subjects["cuong"]
    search = _search(store, cuong)
    policy = Chosen(search, admit=lambda m: False, trusted=Identity())
    before, audio = snapshot(store), files(store)
    connector = _connector(store.entry)
    try:
        result = _run(connector, Operation.ERASE, policy, tmp_path)
    finally:
        connector.close()
    assert snapshot(store) == before and files(store) == audio
    assert result.records == 0 and policy.asked
    assert {(c.match.table, c.match.key) for c in result.candidates} == set(policy.asked)
