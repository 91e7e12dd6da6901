"""``dsr seed`` with careless input: an absurd size, or a data folder holding someone's stores."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from demo.seed import seed
from dsr.errors import InvalidInput

SECRET = "seed-limits-test-key-0123"


def dsr(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dsr", *args], env=env, text=True, capture_output=True, timeout=60
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}
    e.update(DSR_VAR_DIR=str(tmp_path / "var"), DSR_DATA_DIR=str(tmp_path / "data"))
    return e


def _foreign_crm(data: Path) -> Path:
    """A CRM database someone else made, with a customer in it."""
    data.mkdir(parents=True, exist_ok=True)
    path = data / "crm.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id TEXT, email TEXT)")
        conn.execute("INSERT INTO customers VALUES ('KH1', 'real.person@example.vn')")
    return path


def test_an_absurd_size_is_refused_before_anything_is_touched(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A 23-digit customer count is one line, exit 2; the existing stores are left as they were."""
    assert dsr(env, "seed", "--customers", "3").returncode == 0
    crm = tmp_path / "data" / "crm.db"
    before = crm.read_bytes()
    done = dsr(env, "seed", "--customers", "99999999999999999999999")
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "--force" in done.stderr
    assert crm.read_bytes() == before


def test_the_limit_can_be_forced(tmp_path: Path) -> None:
    """Above the limit seeding needs force; with it, it runs."""
    with pytest.raises(InvalidInput, match="--force"):
        seed(tmp_path, 12, secret_key=SECRET, max_customers=10)
    assert not (tmp_path / "crm.db").exists()
    assert seed(tmp_path, 12, secret_key=SECRET, max_customers=10, force=True).crm_rows >= 12


def test_a_store_seed_did_not_create_is_never_reset(env: dict[str, str], tmp_path: Path) -> None:
    """`dsr seed` (reset by default) refuses a crm.db it did not create and deletes nothing."""
    crm = _foreign_crm(tmp_path / "data")
    before = crm.read_bytes()
    done = dsr(env, "seed", "--customers", "3")
    assert done.returncode == 2 and "not created by `dsr seed`" in done.stderr, done.stderr
    assert crm.read_bytes() == before
    assert not (tmp_path / "data" / "newsletter.db").exists()


def test_a_recordings_folder_seed_did_not_create_is_never_reset(tmp_path: Path) -> None:
    """A recordings folder holding someone's files (a PBX's monitor folder) is refused, and
    kept, by a reset."""
    day = tmp_path / "recordings" / "monitor" / "2025" / "01" / "02"
    day.mkdir(parents=True)
    (day / "call.wav").write_bytes(b"RIFF")
    with pytest.raises(InvalidInput, match="recordings folder"):
        seed(tmp_path, 3, secret_key=SECRET, reset=True)
    assert (day / "call.wav").read_bytes() == b"RIFF"


def test_stores_seed_created_are_reset(tmp_path: Path) -> None:
    """Seed's own stores are replaced by a reset, as before."""
    first = seed(tmp_path, 20, secret_key=SECRET, seed=1)
    second = seed(tmp_path, 8, secret_key=SECRET, seed=2, reset=True)
    assert first.crm_rows > second.crm_rows
