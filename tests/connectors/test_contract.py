"""The contract every connector passes: each demo store on SQLite, PostgreSQL and MariaDB, the
call archive (a PBX's call records) with its recordings in a real folder of WAV files."""

from __future__ import annotations

import csv
import json
import unicodedata
from pathlib import Path

import pytest

from connectors.base import Action, Connector, Operation, PurgeJob, PurgeReport, TaskResult
from connectors.sql import SqlStore
from connectors.sql_files import FILES
from dsr.errors import ConfigError, NotApplicable
from dsr.identity import (
    CUSTOMER_ID,
    EMAIL,
    PHONE,
    Identity,
    normalise_email,
    normalise_phone,
    suppression_hash,
)
from tests.connectors.stores import (
    A_CID,
    A_EMAIL,
    A_PHONE,
    BYSTANDER,
    N_OLD,
    NOBODY,
    SUBJECT,
    Harness,
    ListPolicy,
    admit_all,
)
from tests.connectors.stores import (
    B_EMAIL as BYSTANDER_EMAIL,
)

SUBJECT_VALUES = {EMAIL: A_EMAIL, PHONE: A_PHONE, CUSTOMER_ID: A_CID}
INJECTIONS = {"' OR 1=1 --", '"; DROP TABLE customers; --', "x') OR ('1'='1"}
NEW_NAME = "Nguyễn Văn Anh"
CHANGES = {
    "phone": "0903 111 222",
    "address": "12 Lý Thường Kiệt, Hoàn Kiếm, Hà Nội",
    "name": unicodedata.normalize("NFD", NEW_NAME),
}


def summary(result: TaskResult) -> list[tuple[str, Action, int]]:
    return [(o.table, o.action, o.count) for o in result.outcomes]


def records(connector: Connector, identity: Identity) -> dict[str, list[dict[str, object]]]:
    return connector.find(identity).records


def test_implements_the_protocol(store: Harness) -> None:
    """Every connector is a runtime Connector with labels in both languages and search kinds."""
    c = store.connector
    assert isinstance(c, Connector)
    assert set(c.labels) == {"vi", "en"}
    assert c.needs and set(store.by_kind) == set(c.needs)


def test_finds_by_each_identifier_kind_alone(store: Harness) -> None:
    """Each identifier kind the connector needs finds exactly the subject's records."""
    for kind in store.connector.needs:
        found = store.connector.find(Identity({kind: {SUBJECT_VALUES[kind]}}))
        assert found.count == store.by_kind[kind], kind
    assert store.connector.find(BYSTANDER).count == store.bystander_count


@pytest.mark.parametrize("typed", ["0912 345 678", "+84912345678", "84-912-345-678"])
def test_phone_notations_find_the_same_rows(store: Harness, typed: str) -> None:
    """S8: a phone in any notation (normalised or as typed) finds the same rows, or is refused
    as not applicable by a store that cannot search by phone."""
    c = store.connector
    if PHONE not in c.needs:
        with pytest.raises(NotApplicable):
            c.find(Identity({PHONE: {typed}}))
        return
    canonical = records(c, Identity({PHONE: {A_PHONE}}))
    assert normalise_phone(typed) == A_PHONE
    assert records(c, Identity({PHONE: {normalise_phone(typed)}})) == canonical
    assert records(c, Identity({PHONE: {typed}})) == canonical


def test_email_case_and_spaces_find_the_same_rows(store: Harness) -> None:
    """S8: `Nguyen.Van.A@Gmail.com ` and its lower-case form find the same rows."""
    c = store.connector
    typed = "Nguyen.Van.A@Gmail.com "
    if EMAIL not in c.needs:
        with pytest.raises(NotApplicable):
            c.find(Identity({EMAIL: {typed}}))
        return
    canonical = records(c, Identity({EMAIL: {A_EMAIL}}))
    assert canonical and normalise_email(typed) == A_EMAIL
    assert records(c, Identity({EMAIL: {normalise_email(typed)}})) == canonical
    assert records(c, Identity({EMAIL: {typed}})) == canonical


def test_injection_text_finds_nothing_and_breaks_nothing(store: Harness, staging: Path) -> None:
    """Identifiers holding SQL-injection text are bound values: nothing found, nothing changed."""
    before = {t: store.count(t) for t in store.tables}
    subject = store.connector.find(SUBJECT).count
    for kind in store.connector.needs:
        identity = Identity({kind: set(INJECTIONS)})
        assert store.connector.find(identity).count == 0
        result = store.connector.apply(Operation.ERASE, admit_all(identity), staging=staging)
        assert {o.action for o in result.outcomes} == {Action.NOT_FOUND}
    assert {t: store.count(t) for t in store.tables} == before
    assert store.connector.find(SUBJECT).count == subject


def test_access_exports_json_and_csv_per_table(store: Harness, staging: Path) -> None:
    """Access writes one JSON and one CSV (with header) per table holding the subject's records."""
    result = store.connector.apply(Operation.ACCESS, admit_all(SUBJECT), staging=staging)
    assert summary(result) == store.access
    assert result.collected_from == store.collected_from
    assert result.records == sum(n for t, _, n in store.access if not t.endswith(FILES))
    for table, _, count in store.access:
        if table.endswith(FILES):  # the files the rows name, copied beside them
            folder = staging / "files" / table.removesuffix(FILES)
            assert len([p for p in folder.rglob("*") if p.is_file()]) == count
            continue
        rows = json.loads((staging / f"{table}.json").read_text("utf-8"))
        assert len(rows) == count
        # The stores' own columns only: no normalised copy of an identifier beside them.
        assert not any(k.endswith("_norm") for row in rows for k in row)
        with (staging / f"{table}.csv").open(encoding="utf-8", newline="") as handle:
            lines = list(csv.reader(handle))
        assert lines[0] == list(rows[0]) and len(lines) == count + 1


def test_access_for_an_unknown_subject_says_not_found(store: Harness, staging: Path) -> None:
    """A subject the store does not hold gets NOT_FOUND with count 0 and no files."""
    result = store.connector.apply(Operation.ACCESS, admit_all(NOBODY), staging=staging)
    assert result.records == 0
    assert {(o.action, o.count) for o in result.outcomes} == {(Action.NOT_FOUND, 0)}
    assert list(staging.iterdir()) == []


def test_rectify_changes_current_records_once(store: Harness, staging: Path) -> None:
    """Rectify updates current records (history untouched); the same request again is a no-op."""
    c = store.connector
    first = c.apply(Operation.RECTIFY, admit_all(SUBJECT), staging=staging, changes=CHANGES)
    assert summary(first) == store.rectify
    second = c.apply(Operation.RECTIFY, admit_all(SUBJECT), staging=staging, changes=CHANGES)
    assert Action.UPDATED not in {o.action for o in second.outcomes}
    assert {o.action for o in second.outcomes} <= {Action.UNCHANGED, Action.HISTORICAL}
    if "phone" in getattr(c, "rectifiable_fields", ()):
        # The identifier index followed the new phone: the subject is found by it.
        assert c.find(Identity({PHONE: {normalise_phone(CHANGES["phone"])}})).count > 0
    assert c.find(BYSTANDER).count == store.bystander_count


def test_rectified_names_are_stored_in_nfc(store: Harness, staging: Path) -> None:
    """A name typed in NFD is stored in NFC, and the NFC form then counts as already current."""
    c = store.connector
    if not isinstance(c, SqlStore) or "name" not in c.rectifiable_fields:
        result = c.apply(Operation.RECTIFY, admit_all(SUBJECT), staging=staging, changes=CHANGES)
        assert Action.UPDATED not in {o.action for o in result.outcomes}
        return
    c.apply(
        Operation.RECTIFY, admit_all(SUBJECT), staging=staging, changes={"name": CHANGES["name"]}
    )
    stored = [
        row[spec.rectifiable["name"]]
        for spec in c.config.tables
        if "name" in spec.rectifiable
        for row in c.find(SUBJECT).records.get(spec.name, [])
    ]
    assert NEW_NAME in stored
    assert unicodedata.normalize("NFD", NEW_NAME) not in stored
    again = c.apply(
        Operation.RECTIFY, admit_all(SUBJECT), staging=staging, changes={"name": NEW_NAME}
    )
    assert Action.UPDATED not in {o.action for o in again.outcomes}


def test_erase_removes_the_subject_and_only_the_subject(store: Harness, staging: Path) -> None:
    """Erase deletes or anonymises every record of the subject; a bystander keeps theirs."""
    result = store.connector.apply(Operation.ERASE, admit_all(SUBJECT), staging=staging)
    assert summary(result) == store.erase
    deferred = sum(n for _, action, n in store.erase if action is Action.DEFERRED)
    assert store.connector.find(SUBJECT).count == deferred  # still needed (an open order)
    assert store.connector.find(BYSTANDER).count == store.bystander_count


def test_erasing_twice_changes_nothing_and_says_so(store: Harness, staging: Path) -> None:
    """A second identical erasure changes nothing and says so: NOT_FOUND with count 0, or the
    records still deferred (an open order) deferred again."""
    store.connector.apply(Operation.ERASE, admit_all(SUBJECT), staging=staging)
    snapshot = store.snapshot()
    again = store.connector.apply(Operation.ERASE, admit_all(SUBJECT), staging=staging)
    deferred = [o for o in store.erase if o[1] is Action.DEFERRED]
    assert [
        (o.table, o.action, o.count) for o in again.outcomes if o.action != Action.NOT_FOUND
    ] == (deferred)
    assert all(o.count == 0 for o in again.outcomes if o.action is Action.NOT_FOUND)
    assert again.records == sum(n for _, _, n in deferred)
    assert store.snapshot() == snapshot


def _no_sweep(store: Harness) -> bool:
    """A store without a retention sweep refuses one at once, naming itself."""
    if store.sweeps:
        return False
    with pytest.raises(ConfigError, match=store.connector.name):
        store.connector.purge(PurgeJob(store.rule, now=store.purge_now, held=store.held))
    assert not store.connector.retention_tables
    return True


def test_purge_dry_run_changes_nothing(store: Harness) -> None:
    """A dry-run sweep counts the aged rows (and held ones it would skip) and changes nothing."""
    if _no_sweep(store):
        return
    store.add_purge_rows()
    protected, old = store.protected(), store.old_live()
    report = store.connector.purge(
        PurgeJob(store.rule, now=store.purge_now, held=store.held, dry_run=True, chunk_size=3)
    )
    assert (report.matched, report.purged, report.skipped_held) == (N_OLD, 0, 1)
    assert report.dry_run and report.done and report.chunks == 0
    assert store.protected() == protected and store.old_live() == old


def test_purge_takes_aged_rows_and_spares_young_and_held(store: Harness) -> None:
    """A sweep purges exactly the rows older than the cutoff, in chunks, sparing held subjects."""
    if _no_sweep(store):
        return
    store.add_purge_rows()
    protected = store.protected()
    total = {t: store.count(t) for t in store.tables}
    report = store.connector.purge(
        PurgeJob(store.rule, now=store.purge_now, held=store.held, chunk_size=3)
    )
    assert (report.matched, report.purged, report.skipped_held) == (N_OLD, N_OLD, 1)
    # 7 rows from 3 keys per chunk: more than one chunk (fast chunks grow, so 2 or 3).
    assert report.done and 2 <= report.chunks <= 3
    assert store.old_live() == 0
    assert store.protected() == protected
    if store.purge_deletes:
        assert store.count(store.rule.table) == total[store.rule.table] - N_OLD
    else:
        assert {t: store.count(t) for t in store.tables} == total
    rerun = store.connector.purge(PurgeJob(store.rule, now=store.purge_now, held=store.held))
    assert (rerun.matched, rerun.purged, rerun.done) == (0, 0, True)


def test_purge_killed_half_way_resumes_to_the_same_end(store: Harness) -> None:
    """A sweep stopped after one chunk reports not done; rerun, it finishes and spares the young."""
    if _no_sweep(store):
        return
    store.add_purge_rows()
    protected = store.protected()
    first = store.connector.purge(
        PurgeJob(store.rule, now=store.purge_now, held=store.held, chunk_size=3, max_chunks=1)
    )
    assert (first.purged, first.chunks, first.done) == (3, 1, False)
    assert store.old_live() == N_OLD - 3
    second = store.connector.purge(
        PurgeJob(store.rule, now=store.purge_now, held=store.held, chunk_size=3)
    )
    assert (second.matched, second.purged, second.done) == (N_OLD - 3, N_OLD - 3, True)
    assert store.old_live() == 0
    assert store.protected() == protected


def test_purge_counts_each_chunk_in_the_store_with_its_rows(store: Harness) -> None:
    """With a run id, every committed chunk is counted in the store in its own transaction, so
    a sweep that dies right after a commit (before the ledger hears of it) is still counted."""
    if _no_sweep(store):
        return

    class Died(Exception):
        pass

    def die(report: PurgeReport) -> None:
        raise Died  # the process is gone between the store's commit and the ledger's

    store.add_purge_rows()
    with pytest.raises(Died):
        store.connector.purge(
            PurgeJob(
                store.rule,
                now=store.purge_now,
                held=store.held,
                chunk_size=3,
                on_chunk=die,
                run_id="r1",
            )
        )
    assert store.connector.purged_in("r1") == {store.rule.table: 3}  # the first chunk committed
    assert store.connector.purged_in("r2") == {}
    rest = store.connector.purge(PurgeJob(store.rule, now=store.purge_now, held=store.held))
    assert rest.purged == N_OLD - 3 and store.old_live() == 0  # 3 + the rest: every aged row
    store.connector.forget_run("r1")
    assert store.connector.purged_in("r1") == {}


# -- the policy: a connector acts on what the core admits, and on nothing else ------------------

HITS_MANY = Identity(
    {k: SUBJECT.get(k) | BYSTANDER.get(k) for k in (EMAIL, PHONE, CUSTOMER_ID)}
)  # hits the subject, the subject's second account and the bystander


def _key(store: Harness, table: str) -> str:
    """The field a table's records are known by (its configured key)."""
    return store.key_of(table)


def _keyed(store: Harness) -> dict[str, dict[str, tuple[object, ...]]]:
    """Every data table's records by key (as text), as the store holds them now."""
    return store.keyed()


def _files(store: Harness) -> dict[str, bytes]:
    """The files under the store's file root (its recordings), by path below it."""
    root = store.extra.get("root")
    if root is None:
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(Path(root).rglob("*.wav"))}


def _run(store: Harness, operation: Operation, policy: ListPolicy, staging: Path) -> TaskResult:
    changes = CHANGES if operation is Operation.RECTIFY else None
    return store.connector.apply(operation, policy, staging=staging, changes=changes)


@pytest.mark.parametrize("operation", list(Operation))
def test_a_policy_admitting_nothing_leaves_everything_untouched(
    store: Harness, staging: Path, operation: Operation
) -> None:
    """Whatever the identifiers hit, nothing is exported, changed or deleted when the policy
    admits nothing, and every record hit comes back as a candidate."""
    before, files = _keyed(store), _files(store)
    policy = ListPolicy(HITS_MANY, admit=lambda m: False, trusted=Identity())
    result = _run(store, operation, policy, staging)
    assert _keyed(store) == before and _files(store) == files
    assert list(staging.iterdir()) == []
    assert result.records == 0 and not any(result.provides.values.values())
    assert result.changes == [] and result.deferred == []
    assert policy.asked, "the connector never asked the policy"
    assert {(c.match.table, c.match.key) for c in result.candidates} == set(policy.asked)
    if "suppression" in store.tables:
        assert store.count("suppression") == 0


@pytest.mark.parametrize("operation", list(Operation))
def test_only_the_records_the_policy_admits_are_touched(
    store: Harness, staging: Path, operation: Operation
) -> None:
    """The policy admits one record per table: only it (and its child rows) may be exported,
    changed or deleted; every refused record, its child rows and its files stay as they were,
    and each refused record is reported as a candidate."""
    found = store.connector.find(HITS_MANY).records
    keep = {t: min(str(r[_key(store, t)]) for r in rows) for t, rows in found.items() if rows}
    policy = ListPolicy(HITS_MANY, admit=lambda m: keep.get(m.table) == m.key, trusted=Identity())
    before, files = _keyed(store), _files(store)
    result = _run(store, operation, policy, staging)
    after = _keyed(store)
    refused = {t: policy.refused(t) for t in found if any(a[0] == t for a in policy.asked)}
    assert any(refused.values()), "the fixture must hit more than one record"
    for table, keys in refused.items():
        for key in keys:
            assert after[table].get(key) == before[table][key], (table, key)
    for child, parent in (("order_items", "orders"),):
        if child in before:
            fk = 1  # order_items.order_id
            for key, row in before[child].items():
                if str(row[fk]) in refused[parent]:
                    assert after[child].get(key) == row
    reported = {(c.match.table, c.match.key) for c in result.candidates}
    assert reported == {(t, k) for t, keys in refused.items() for k in keys}
    assert {(c.table, c.key) for c in result.changes} <= set(keep.items())
    calls = {str(r["uniqueid"]): r for r in found.get("cdr", [])}
    for key in refused.get("cdr", set()):
        name = str(calls[key]["recordingfile"])
        assert _files(store).get(name) == files[name]
    if operation is Operation.ACCESS:
        for table, key in keep.items():
            if table not in refused:
                continue  # a child table: it follows its parent
            rows = json.loads((staging / f"{table}.json").read_text("utf-8"))
            assert {str(r[_key(store, table)]) for r in rows} == {key}
    if "suppression" in store.tables:
        bystander = suppression_hash(BYSTANDER_EMAIL, "contract-suite-secret-key")
        assert not store.rows(f"SELECT 1 FROM suppression WHERE email_hash = '{bystander}'")
