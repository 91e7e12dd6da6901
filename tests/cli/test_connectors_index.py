"""``dsr connectors index``: the identifier index is built ahead of the workers, then caught up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

CONFIG = """
connectors:
  - name: shop
    kind: sql
    url: "sqlite:///{db}"
    tables:
      - name: customer
        key: id
        match: {{email: email, phone: phone}}
        changed_at: updated
        erase: {{mode: delete}}
"""


def _dsr(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dsr", *args], env=env, text=True, capture_output=True, timeout=120
    )


def test_index_builds_then_catches_up(tmp_path: Path) -> None:
    """The first run reads the table whole; the next reads only what changed since."""
    db = tmp_path / "shop.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE customer (id INTEGER PRIMARY KEY, email TEXT, phone TEXT, "
                "updated TIMESTAMP)"
            )
        )
        conn.execute(
            sa.text("INSERT INTO customer VALUES (:i, :e, '0903 111 222', '2026-01-01')"),
            [{"i": i, "e": f"Khach.{i}@Example.VN"} for i in range(1, 301)],
        )
    engine.dispose()
    (tmp_path / "connectors.yaml").write_text(CONFIG.format(db=db))
    env = dict(os.environ)
    env.update(
        DSR_VAR_DIR=str(tmp_path / "var"),
        DSR_CONNECTORS_FILE=str(tmp_path / "connectors.yaml"),
        DSR_LOG_FORMAT="json",
    )
    env.pop("DSR_DATABASE_URL", None)
    first = _dsr(env, "connectors", "index", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["tables"][0] | {"seconds": 0} == {
        "connector": "shop",
        "table": "customer",
        "rows": 300,
        "full": True,
        "seconds": 0,
    }
    assert (tmp_path / "var" / "identifier-index.db").stat().st_mode & 0o777 == 0o600
    again = _dsr(env, "connectors", "index", "--json")
    table = json.loads(again.stdout)["tables"][0]
    assert (table["rows"], table["full"]) == (0, False)  # nothing changed since
    unknown = _dsr(env, "connectors", "index", "nope")
    assert unknown.returncode == 2 and "unknown connector" in unknown.stderr
