"""``dsr connectors discover``: a reviewed-by-people proposal from a live database, read-only."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy import exc as sa_exc

from connectors.discover import discover
from connectors.readonly import mask_url, open_read_only
from connectors.recognise import recognise, shape
from connectors.sql_config import SqlConfig, parse_entry
from tests.connectors.dtest import (
    ENGINES,
    cli_env,
    create_shop,
    drop_shop,
    dsr,
    entries_of,
    fingerprint,
    pg_write_counters,
    url_for,
)

# Per run: two runs of this suite at once (CI and a laptop, two worktrees) share `products`.
PREFIX = f"disc{uuid.uuid4().hex[:6]}"


@pytest.fixture(params=ENGINES)
def shop(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, str, dict[str, str]]]:
    """The shop on one engine: (engine, url, table names by role); dropped afterwards."""
    engine = str(request.param)
    url = url_for(engine, tmp_path)
    names = create_shop(url, PREFIX)
    yield engine, url, names
    drop_shop(url, PREFIX)


def test_recognises_columns_from_values_and_follows_foreign_keys(
    shop: tuple[str, str, dict[str, str]],
) -> None:
    """E-mails in `contact`, phones in `misc` and caller ids are found by their values; a table
    referencing the customers is matched by customer id; one with no identifier is a child."""
    _, url, t = shop
    found = discover(url, region="VN", sample=200).to_json()
    tables, why = entries_of(found), found["reasons"]
    customers = tables[t["customers"]]
    assert customers["match"] == {"email": "contact", "phone": "misc", "customer_id": "id"}
    assert customers["provides"]["customer_id"] == "id"
    assert customers["rectifiable"]["name"] == "full_name"
    assert customers["rectifiable"]["address"] == "address"
    assert customers["changed_at"] == "updated_at"
    assert "parse as e-mail" in why[f"tables.{t['customers']}.match.email"]
    assert "mixed case" in why[f"tables.{t['customers']}.match.email"]
    assert "phone numbers for region VN" in why[f"tables.{t['customers']}.match.phone"]

    orders = tables[t["orders"]]
    assert orders["match"] == {"customer_id": "customer_id"}
    assert orders["changed_at"] == "date_updated_gmt"
    assert "foreign key" in why[f"tables.{t['orders']}.match.customer_id"]

    items = tables[t["order_items"]]
    assert items["parent"] == {"table": t["orders"], "column": "order_id"}
    assert "match" not in items
    names = [x["name"] for x in found["connector"]["tables"]]
    assert names.index(t["orders"]) < names.index(t["order_items"])  # parents first

    log = tables[t["order_log"]]  # no foreign key: linked by its name and values
    assert log["parent"] == {"table": t["orders"], "column": "order_id"}
    assert "no foreign key declares it" in why[f"tables.{t['order_log']}.parent"]

    calls = tables[t["calls"]]
    assert calls["match"] == {"phone": "clid"}  # '"Name" <0903111001>'
    assert calls["file"] == {"column": "recordingfile", "root": "<folder>"}
    assert "rectifiable" not in calls  # call records are history

    assert tables[t["loose"]]["match"] == {"email": "email"}
    assert {s["table"] for s in found["skipped"]} >= {t["products"]}
    for entry in tables.values():
        assert entry["erase"] == {"mode": "delete"}


def test_proposal_is_commented_yaml_that_the_connector_accepts(
    shop: tuple[str, str, dict[str, str]], tmp_path: Path
) -> None:
    """The CLI prints YAML with a reason beside each choice; it reads back as the --json entry,
    and the connector's own configuration model accepts it."""
    _, url, t = shop
    env = cli_env(tmp_path)
    text = dsr(env, "connectors", "discover", url, "--sample", "50")
    as_json = dsr(env, "connectors", "discover", url, "--json", "--sample", "50")
    assert text.returncode == 0 and as_json.returncode == 0, text.stderr + as_json.stderr
    doc = json.loads(as_json.stdout)
    assert set(doc) >= {"url", "backend", "region", "sample", "connector", "reasons", "skipped"}
    assert doc["sample"] == 50
    proposed = yaml.safe_load(text.stdout)
    assert len(proposed) == 1 and proposed[0].keys() == doc["connector"].keys()
    parse_entry(SqlConfig, proposed[0])
    # Other fixtures' tables in `products` may change between the two runs: compare ours.
    ours = [x for x in proposed[0]["tables"] if x["name"].startswith(f"dtest_{PREFIX}_")]
    assert ours == [x for x in doc["connector"]["tables"] if x["name"] in {y["name"] for y in ours}]
    assert len(ours) == 6  # all but the products table
    assert "parse as e-mail" in _comment_of(text.stdout, "email: contact")
    assert "phone numbers for region VN" in _comment_of(text.stdout, "phone: misc")
    assert f"#   {t['products']}: no e-mail" in text.stdout
    assert "decide: delete, anonymise" in text.stdout
    for i in (1, 2, 3):  # no stored value is printed
        assert f"hang{i}@" not in text.stdout.lower() and f"111 00{i}" not in text.stdout


def _comment_of(text: str, line_start: str) -> str:
    """The comment beside a YAML line, or in the comment lines just above it."""
    lines = text.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.strip().startswith(line_start))
    block = [lines[at]]
    while lines[at - 1].strip().startswith("#"):
        at -= 1
        block.insert(0, lines[at])
    return " ".join(block)


def test_discover_writes_nothing(shop: tuple[str, str, dict[str, str]], tmp_path: Path) -> None:
    """Every table's rows are the same afterwards; PostgreSQL counts no insert, update or delete;
    the SQLite file is byte for byte the same."""
    engine, url, t = shop
    names = list(t.values())
    before = fingerprint(url, names)
    sqlite_file = Path(sa.make_url(url).database or "") if engine == "sqlite" else None
    raw = sqlite_file.read_bytes() if sqlite_file else b""
    counters: dict[str, tuple[int, int, int]] = {}
    if engine == "postgres":  # the setup's inserts reach the counters a moment after its commit
        inserted = {name: rows for name, (rows, _) in before.items()}
        for _ in range(50):
            counters = pg_write_counters(url, names)
            if {name: c[0] for name, c in counters.items()} == inserted:
                break
            time.sleep(0.2)
        assert dict(counters.items()) == {n: (r, 0, 0) for n, r in inserted.items()}

    done = dsr(cli_env(tmp_path), "connectors", "discover", url, "--json")
    assert done.returncode == 0, done.stderr

    assert fingerprint(url, names) == before
    if sqlite_file is not None:
        assert hashlib.sha256(sqlite_file.read_bytes()).digest() == hashlib.sha256(raw).digest()
        assert not Path(f"{sqlite_file}-journal").exists()
    if engine == "postgres":
        time.sleep(1.2)
        assert pg_write_counters(url, names) == counters


def test_its_connection_refuses_writes(shop: tuple[str, str, dict[str, str]]) -> None:
    """The engine itself refuses a write on the connection discover and check use."""
    _, url, t = shop
    engine = open_read_only(url)
    try:
        with engine.connect() as conn, pytest.raises(sa_exc.DBAPIError):
            conn.execute(sa.text(f"DELETE FROM {t['products']}"))
    finally:
        engine.dispose()
    assert fingerprint(url, [t["products"]])[t["products"]][0] == 10


def test_bad_urls_are_one_line_exit_2_and_create_nothing(tmp_path: Path) -> None:
    """Not a URL, an unsupported engine, a missing SQLite file: exit 2, and no file appears."""
    env = cli_env(tmp_path)
    missing = tmp_path / "no-such.db"
    for url, needle in [
        ("not a url", "not a database url"),
        ("oracle://u@h/db", "unsupported"),
        (f"sqlite:///{missing}", "no sqlite file"),
    ]:
        done = dsr(env, "connectors", "discover", url)
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and needle in done.stderr.lower()
    assert not missing.exists()


def test_unreachable_server_masks_the_password(tmp_path: Path) -> None:
    """A server that does not answer: exit 1, and the password never reaches the output."""
    url = "postgresql+psycopg://app:s3cret-pw@127.0.0.1:1/shop?connect_timeout=2"
    done = dsr(cli_env(tmp_path), "connectors", "discover", url)
    assert done.returncode == 1
    assert "s3cret-pw" not in done.stderr + done.stdout and "***" in done.stderr
    assert mask_url(url).startswith("postgresql+psycopg://app:***@")


def test_values_recognised_whatever_the_column_is_called() -> None:
    """Recognition reads values: a caller id counts as a phone; PBX extensions are left out;
    shapes keep no digit of a number."""
    clids = ['"Le Van Cuong" <0903111222>', '"Reception" <101>', '"Tran Binh" <+84 912 345 678>']
    found = recognise("clid", clids, region="VN")
    assert found is not None and found.kind == "phone" and found.sampled == 2
    assert "internal extensions" in found.why and "caller id" in found.why
    emails = recognise("x", ["a@b.vn", "C@D.VN", "nope"], region="VN")
    assert emails is not None and emails.kind == "email"
    assert recognise("x", ["Áo thun", "Quần jean", "Áo thun"], region="VN") is None
    assert shape('"Le Van Cuong" <0903111222>') == '"A" <0999999999>'
    assert shape("+84 903-111-222") == "+84 999-999-999"


def test_an_empty_database_proposes_no_tables(tmp_path: Path) -> None:
    """A database with no table gives an entry whose table list is empty, not missing."""
    empty = tmp_path / "empty.db"
    sa.create_engine(f"sqlite:///{empty}").connect().close()
    found = discover(f"sqlite:///{empty}", region="VN")
    assert yaml.safe_load(found.to_yaml())[0]["tables"] == []
    assert found.to_json()["connector"]["tables"] == [] and found.skipped == []
