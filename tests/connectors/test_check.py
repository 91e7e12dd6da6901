"""``dsr connectors check``: does each configured SQL store fit its live database? Read-only."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from connectors import purge_log
from connectors.sampling import sample
from tests.connectors.dtest import (
    ENGINES,
    NAMES,
    UNREADABLE_PHONE,
    N,
    cli_env,
    create_shop,
    drop_shop,
    dsr,
    email_of,
    fingerprint,
    phone_of,
    url_for,
)

# Per run: two runs of this suite at once (CI and a laptop, two worktrees) share `products`.
PREFIX = f"chk{uuid.uuid4().hex[:6]}"
Shop = tuple[str, str, dict[str, str]]


@pytest.fixture(params=ENGINES)
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shop]:
    """The shop on one engine: (engine, url, table names by role); dropped afterwards."""
    engine = str(request.param)
    url = url_for(engine, tmp_path)
    names = create_shop(url, PREFIX)
    yield engine, url, names
    drop_shop(url, PREFIX)


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    """The folder the calls' recording files are in."""
    root = tmp_path / "recordings"
    root.mkdir()
    for i in range(1, N + 1):
        (root / f"out-{i}-20260105.wav").write_bytes(b"RIFF")
    return root


def shop_entry(url: str, t: dict[str, str], root: Path, **changes: Any) -> dict[str, Any]:
    """The shop's connectors.yaml entry, in the configuration's current shape."""
    tables: list[dict[str, Any]] = [
        {
            "name": t["customers"],
            "key": "id",
            "match": {"email": ["contact"], "phone": "misc", "customer_id": "id"},
            "provides": {"customer_id": "id", "email": "contact"},
            "owner": ["customer_id", "email"],
            "rectifiable": {"name": "full_name", "email": "contact", "phone": "misc"},
            "changed_at": "updated_at",
            "collected_at": "created_at",
            "erase": {"mode": "delete"},
        },
        {
            "name": t["orders"],
            "key": "id",
            "match": {"customer_id": "customer_id"},
            "null_when": {"customer_id": [0]},
            "owner": ["customer_id"],
            "changed_at": "date_updated_gmt",
            "erase": {"mode": "anonymise", "columns": {"total": "null"}},
        },
        {
            "name": t["order_items"],
            "key": "id",
            "parent": {"table": t["orders"], "column": "order_id"},
            "erase": {"mode": "keep"},
        },
        {
            "name": t["calls"],
            "key": "uniqueid",
            "match": {"phone": "clid"},
            "file": {"column": "recordingfile", "root": str(root)},
            "erase": {"mode": "delete"},
        },
    ]
    entry = {"name": "shop", "kind": "sql", "url": url, "tables": tables}
    entry.update(changes)
    return entry


def run_check(tmp_path: Path, entries: list[dict[str, Any]], *args: str) -> tuple[int, str, str]:
    """``dsr connectors check`` over a connectors file holding ``entries``."""
    path = tmp_path / "connectors.yaml"
    path.write_text(yaml.safe_dump({"connectors": entries}, allow_unicode=True), encoding="utf-8")
    done = dsr(cli_env(tmp_path, DSR_CONNECTORS_FILE=str(path)), "connectors", "check", *args)
    return done.returncode, done.stdout, done.stderr


def tables_of(report: dict[str, Any], store: str = "shop") -> dict[str, dict[str, Any]]:
    connector = next(c for c in report["connectors"] if c["name"] == store)
    return {t["name"]: t for t in connector["tables"]}


def assert_no_stored_value(text: str) -> None:
    """Nothing a customer typed appears: no address, number or name."""
    lowered = text.lower()
    for i in range(1, N + 1):
        assert email_of(i).strip().lower() not in lowered
        assert phone_of(i) not in text and f"0903111{i:03d}" not in text
    assert not any(name in text for name in NAMES)
    assert UNREADABLE_PHONE not in text


def test_a_fitting_store_is_ok_with_a_stable_json_shape(
    shop: Shop, recordings: Path, tmp_path: Path
) -> None:
    """Everything configured exists, keys are unique, privileges fit: exit 0; the JSON has the
    documented structure, the plans, the privileges and the spelling survey; nothing written."""
    engine, url, t = shop
    before = fingerprint(url, list(t.values()))
    recordings_entry = {"name": "recordings", "kind": "recordings", "root": str(recordings)}
    code, out, err = run_check(
        tmp_path, [shop_entry(url, t, recordings), recordings_entry], "--json"
    )
    assert code == 0, out + err
    report = json.loads(out)
    assert report["ok"] is True
    shop_report = next(c for c in report["connectors"] if c["name"] == "shop")
    assert {"name", "ok", "problems", "tables", "own_tables"} <= set(shop_report)
    assert shop_report["problems"] == []
    skipped = next(c for c in report["connectors"] if c["name"] == "recordings")
    assert skipped["ok"] is True and "not a SQL store" in skipped["skipped"]

    tables = tables_of(report)
    for table in tables.values():
        keys = {"name", "columns_ok", "key_unique", "lookups", "privileges", "spellings"}
        assert keys <= set(table)
        assert table["columns_ok"] is True

    customers = tables[t["customers"]]
    assert customers["key_unique"] is True and customers["key_basis"] == "primary key"
    by_key, since = customers["lookups"]
    assert by_key["query"] == "key" and by_key["index_available"] is True
    assert by_key["proposal"] is None and by_key["plan"]
    if engine != "postgres":  # PostgreSQL rightly scans 31 rows, having said an index exists
        assert by_key["access"] == "index"
    assert since["query"] == "changed_at" and since["index_available"] is True
    assert since["proposal"] is None
    assert customers["privileges"]["needed"].keys() == {"SELECT", "UPDATE", "DELETE"}
    assert customers["privileges"]["missing"] == []

    orders = tables[t["orders"]]
    changed = next(lk for lk in orders["lookups"] if lk["query"] == "changed_at")
    assert changed["access"] == "scan" and changed["index_available"] is False
    assert (
        changed["proposal"].startswith("CREATE INDEX") and "date_updated_gmt" in changed["proposal"]
    )
    assert any("CREATE INDEX" in w for w in shop_report["warnings"])
    assert set(orders["privileges"]["needed"]) == {"SELECT", "UPDATE"}  # anonymise

    items = tables[t["order_items"]]
    assert [lk["query"] for lk in items["lookups"]] == ["key", "parent"]
    assert next(o["name"] for o in shop_report["own_tables"]) == purge_log.NAME
    assert fingerprint(url, list(t.values())) == before


def test_spelling_survey_names_shapes_never_values(
    shop: Shop, recordings: Path, tmp_path: Path
) -> None:
    """Per kind: the share of each spelling, phone formats as shapes, what matching cannot read
    (a warning, not a problem); no stored value in the JSON or the table."""
    _, url, t = shop
    entries = [shop_entry(url, t, recordings)]
    code, out, err = run_check(tmp_path, entries, "--json")
    assert code == 0, out + err
    spellings = tables_of(json.loads(out))[t["customers"]]["spellings"]

    email = spellings["email"]
    assert email["columns"] == ["contact"] and email["sampled"] == N + 1
    assert email["shares"]["mixed case"] == pytest.approx(20 / 31, abs=0.001)
    assert email["shares"]["leading/trailing spaces"] == pytest.approx(6 / 31, abs=0.001)
    assert email["covered"] is False and email["uncovered"] == [{"shape": "A", "rows": 1}]
    assert "mixed case" in email["summary"] and "not an address: 1 of 31" in email["summary"]

    phone = spellings["phone"]
    shapes = {f["shape"] for f in phone["formats"]}
    assert {"0999 999 999", "+84 999-999-999", "0999.999.999", "(+84) 999 999 999"} <= shapes
    assert phone["uncovered"] == [{"shape": "A", "rows": 1}]
    assert "4 formats" not in phone["summary"] and "not parseable for region VN" in phone["summary"]
    calls = tables_of(json.loads(out))[t["calls"]]["spellings"]["phone"]
    assert calls["covered"] is True and "inside other text" in calls["summary"]

    code, human, err = run_check(tmp_path, entries, "--sample", "5")
    assert code == 0, err
    assert "email:" in human and "covered" in human and "dsr_purge_log" in human
    assert_no_stored_value(out)
    assert_no_stored_value(human)


def test_missing_tables_and_columns_exit_1(shop: Shop, recordings: Path, tmp_path: Path) -> None:
    """A column the store does not have, a table it does not have, a suppression list that is
    not there, a file root that is no folder: each a problem, exit 1."""
    _, url, t = shop
    entry = shop_entry(url, t, recordings, suppression={"table": "dtest_chk_supp", "column": "h"})
    entry["tables"][0]["match"]["phone"] = ["misc", "phone_norm"]
    entry["tables"][3]["file"]["root"] = str(recordings / "missing")
    entry["tables"].append(
        {
            "name": "dtest_chk_nothing",
            "key": "id",
            "match": {"email": "e"},
            "erase": {"mode": "delete"},
        }
    )
    code, out, err = run_check(tmp_path, [entry], "--json")
    assert code == 1, out + err
    report = json.loads(out)
    problems = report["connectors"][0]["problems"]
    assert f"{t['customers']}: no column phone_norm" in problems
    assert "dtest_chk_nothing: no such table" in problems
    assert any("dtest_chk_supp" in p and "no such table" in p for p in problems)
    assert any("is not a folder" in p for p in problems)
    assert report["ok"] is False and report["connectors"][0]["ok"] is False
    tables = tables_of(report)
    assert tables[t["customers"]]["columns_ok"] is False
    assert tables[t["customers"]]["missing_columns"] == ["phone_norm"]
    assert tables["dtest_chk_nothing"]["exists"] is False


def test_a_duplicate_key_exits_1_and_a_child_keyed_by_its_parent_is_exempt(
    shop: Shop, recordings: Path, tmp_path: Path
) -> None:
    """With no primary key or unique index, the key is probed: a duplicate is a problem, a
    key unique today only a warning; a child keyed by its parent column is not probed."""
    _, url, t = shop
    entry = shop_entry(url, t, recordings)
    entry["tables"][2]["key"] = "order_id"  # the child, keyed by its parent column
    loose = {"name": t["loose"], "match": {"email": "email"}, "erase": {"mode": "keep"}}
    entry["tables"] += [{**loose, "key": "dup"}]
    code, out, err = run_check(tmp_path, [entry], "--json")
    assert code == 1, out + err
    store = json.loads(out)["connectors"][0]
    assert store["problems"] == [f"{t['loose']}: key dup is not unique (duplicate values exist)"]
    tables = tables_of(json.loads(out))
    assert tables[t["loose"]]["key_unique"] is False
    assert tables[t["order_items"]]["key_unique"] is None
    assert "exempt" in tables[t["order_items"]]["key_basis"]

    entry["tables"][-1] = {**loose, "key": "ref"}
    code, out, err = run_check(tmp_path, [entry], "--json")
    assert code == 0, out + err
    store = json.loads(out)["connectors"][0]
    assert tables_of(json.loads(out))[t["loose"]]["key_unique"] is True
    assert any("unique today but nothing keeps it so" in w for w in store["warnings"])


@pytest.fixture(params=["postgres", "mariadb"])
def server_shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shop]:
    """The shop on a server with accounts (SQLite has none)."""
    engine = str(request.param)
    url = url_for(engine, tmp_path)
    names = create_shop(url, PREFIX)
    yield engine, url, names
    drop_shop(url, PREFIX)


@pytest.fixture
def select_only(server_shop: Shop) -> Iterator[str]:
    """The shop's URL for a new account that may only SELECT from the shop's tables."""
    engine_name, url, t = server_shop
    user, password = f"dtest_reader_{uuid.uuid4().hex[:8]}", "Reader-pw-7f3a"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if engine_name == "postgres":
            conn.execute(sa.text(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'"))
        else:
            conn.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"))
        for name in t.values():
            grantee = user if engine_name == "postgres" else f"'{user}'@'%'"
            conn.execute(sa.text(f"GRANT SELECT ON {name} TO {grantee}"))
    reader = sa.make_url(url).set(username=user, password=password)
    yield reader.render_as_string(hide_password=False)
    with admin.connect() as conn:
        if engine_name == "postgres":
            conn.execute(sa.text(f"DROP OWNED BY {user}"))
            conn.execute(sa.text(f"DROP ROLE {user}"))
        else:
            conn.execute(sa.text(f"DROP USER '{user}'@'%'"))
    admin.dispose()


def test_a_missing_privilege_exits_1(
    server_shop: Shop, select_only: str, recordings: Path, tmp_path: Path
) -> None:
    """An account with SELECT only, where the entry rectifies, deletes and anonymises: one
    problem per missing privilege, exit 1, and the account's password printed nowhere."""
    _, _, t = server_shop
    code, out, err = run_check(tmp_path, [shop_entry(select_only, t, recordings)], "--json")
    assert code == 1, out + err
    problems = json.loads(out)["connectors"][0]["problems"]
    assert f"{t['customers']}: the account lacks UPDATE (needed for rectifiable)" in problems
    assert f"{t['customers']}: the account lacks DELETE (needed for erase mode delete)" in problems
    assert f"{t['orders']}: the account lacks UPDATE (needed for erase mode anonymise)" in problems
    assert f"{t['calls']}: the account lacks DELETE (needed for erase mode delete)" in problems
    assert not any(t["order_items"] in p for p in problems)  # erase mode keep: SELECT is enough
    privileges = tables_of(json.loads(out))[t["customers"]]["privileges"]
    assert privileges["granted"]["SELECT"] is True and privileges["missing"] == ["UPDATE", "DELETE"]
    code, human, err = run_check(tmp_path, [shop_entry(select_only, t, recordings)])
    assert code == 1 and "UPDATE missing" in human
    assert "Reader-pw-7f3a" not in out + err + human


def test_the_purge_log_is_named_as_the_systems_own(tmp_path: Path, recordings: Path) -> None:
    """The table a sweep keeps inside the store is listed with what it is and what the account
    may do to it."""
    url = url_for("sqlite", tmp_path)
    t = create_shop(url, PREFIX)
    engine = sa.create_engine(url)
    purge_log.ensure(engine)
    engine.dispose()
    code, out, err = run_check(tmp_path, [shop_entry(url, t, recordings)], "--json")
    assert code == 0, out + err
    own = json.loads(out)["connectors"][0]["own_tables"]
    assert own[0]["name"] == purge_log.NAME and own[0]["exists"] is True
    assert "purge log" in own[0]["purpose"] and own[0]["privileges"]["missing"] == []


def test_one_connector_by_name_and_an_unknown_name(tmp_path: Path, recordings: Path) -> None:
    """NAME checks that connector only; a name not in the file is bad input (exit 2)."""
    url = url_for("sqlite", tmp_path)
    t = create_shop(url, PREFIX)
    entries = [shop_entry(url, t, recordings), {**shop_entry(url, t, recordings), "name": "copy"}]
    code, out, _ = run_check(tmp_path, entries, "copy", "--json")
    assert code == 0 and [c["name"] for c in json.loads(out)["connectors"]] == ["copy"]
    code, out, err = run_check(tmp_path, entries, "nosuch")
    assert code == 2 and out == "" and "no connector named 'nosuch'" in err


def test_samples_are_spread_over_the_whole_table(tmp_path: Path) -> None:
    """A sample along an integer key reaches the newest rows too, not only the first ones."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'big.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT)"))
        conn.execute(
            sa.text("INSERT INTO big VALUES (:id, :v)"),
            [{"id": i, "v": None if i % 2 else "x"} for i in range(1, 5001)],
        )
    with engine.connect() as conn:
        rows = sample(conn, "big", ["id", "v"], 100, key="id", not_null="v")
        first = sample(conn, "big", ["id"], 100)
    engine.dispose()
    keys = [r[0] for r in rows]
    assert len(keys) == 100 and min(keys) < 500 and max(keys) > 4500
    assert all(tuple(r)[1] == "x" for r in rows)
    assert max(r[0] for r in first) <= 100
