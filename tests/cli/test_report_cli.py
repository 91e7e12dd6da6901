"""`dsr report` and `dsr report retention` at the command line: output, bad input, exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def dsr(var: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}
    env.update(DSR_VAR_DIR=str(var), DSR_LOG_FORMAT="json")
    return subprocess.run(
        [sys.executable, "-m", "dsr", *args], env=env, text=True, capture_output=True, timeout=300
    )


@pytest.mark.parametrize(
    "args, needle",
    [
        (["report", "--from", "2026-13-01"], "from is not a date"),
        (["report", "--from", "2026-12-31", "--to", "2026-01-01"], "ends before it starts"),
        (["report", "--jurisdiction", "mars"], "unknown jurisdiction"),
        (["report", "--format", "pdf"], "format is one of html, csv, json"),
        (["report", "retention", "--to", "yesterday"], "to is not a date"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    """A wrong date, period, jurisdiction or format: one stderr line, exit 2."""
    done = dsr(tmp_path / "var", *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], done.stderr


def test_the_report_of_an_empty_ledger_and_its_formats(tmp_path: Path) -> None:
    """--json is one object with the four kinds and the total; csv and html go to -o FILE."""
    var = tmp_path / "var"
    done = dsr(var, "report", "--from", "2026-01-01", "--to", "2026-12-31", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [k["kind"] for k in data["kinds"]] == [
        "access",
        "rectify",
        "erase",
        "complaint",
        "total",
    ]
    assert data["kinds"][-1]["received"] == 0
    out = tmp_path / "report.csv"
    assert dsr(var, "report", "--format", "csv", "-o", str(out)).returncode == 0
    assert out.read_text().startswith("section,name,figure,value\n")
    html = dsr(var, "report", "--language", "en")
    assert html.returncode == 0 and "<h1>Data-subject requests: yearly report</h1>" in html.stdout


def test_retention_exits_1_naming_the_rules_behind(tmp_path: Path) -> None:
    """Demo stores never swept: exit 1 and the rules behind on stderr; after `dsr purge`, 0."""
    var = tmp_path / "var"
    assert dsr(var, "seed", "--customers", "50").returncode == 0
    behind = dsr(var, "report", "retention", "--json")
    assert behind.returncode == 1
    assert "behind their rule: " in behind.stderr and "crm.customers" in behind.stderr
    assert {r["rule"] for r in json.loads(behind.stdout)["rules"] if r["flagged"]}
    assert dsr(var, "purge").returncode == 0
    assert dsr(var, "report", "retention", "--json").returncode == 0
