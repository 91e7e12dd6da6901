"""`dsr seed` and `dsr purge` draw progress bars on a terminal, and nothing for a pipe or --json."""

from __future__ import annotations

import errno
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from tests.cli.test_cli import dsr
from tests.cli.test_cli import env as env  # the shared fixture

BAR = "━"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_terminal(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run `dsr ARGS` with stdout and stderr on a pseudo-terminal; what a person would see."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dsr", *args],
        env=dict(env, TERM="xterm-256color", COLUMNS="120"),
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError as err:  # the child closed the terminal
            if err.errno != errno.EIO:
                raise
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    code = proc.wait(timeout=300)
    return code, _ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))


def test_seed_shows_a_bar_on_a_terminal_only(env: dict[str, str]) -> None:
    """On a terminal: a bar counting customers to the total, then the index builds; piped or with
    --json: the report alone, nothing on stderr."""
    code, screen = on_terminal(env, "seed", "--customers", "2500")
    assert code == 0, screen
    assert BAR in screen and "2500/2500 customers" in screen and "indexes" in screen
    piped = dsr(env, "seed", "--customers", "2500")
    assert piped.returncode == 0 and piped.stderr == "" and BAR not in piped.stdout
    assert json.loads(piped.stdout)["customers"] == 2500
    code, screen = on_terminal(env, "seed", "--customers", "2500", "--json")
    assert code == 0 and BAR not in screen
    assert json.loads(screen)["customers"] == 2500


def test_purge_shows_each_store_with_its_count(env: dict[str, str], tmp_path: Path) -> None:
    """On a terminal every rule gets a bar ending at the rows it purged; piped, none."""
    assert dsr(env, "seed", "--customers", "1500").returncode == 0
    planned = json.loads(dsr(env, "purge", "--dry-run", "--json").stdout)
    assert BAR not in dsr(env, "purge", "--dry-run").stdout
    code, screen = on_terminal(env, "purge")
    assert code == 0, screen
    for store in planned["stores"]:
        n = store["matched"]
        assert re.search(
            rf"{store['connector']}\.{store['table']}\s+{BAR}+\s+{n}/{n}\s+rows", screen
        )
    assert sum(s["matched"] for s in planned["stores"]) > 0
