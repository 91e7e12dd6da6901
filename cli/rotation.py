"""``dsr keys``: rotate the master secret (key file) or the suppression key chain."""

from __future__ import annotations

from typing import Any

import typer

from cli.app import JsonOpt, app, emit, service
from dsr.service import Caller
from dsr.service.keys import rotate_master, rotate_suppression

keys_app = typer.Typer(no_args_is_help=True, help="Rotate secrets (see README, Security).")
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def rotate(
    grace_days: int = typer.Option(7, "--grace-days", help="Days the old secret still verifies."),
    by: str = typer.Option("ops", "--by", help="Who rotates it (audit log)."),
    as_json: bool = JsonOpt,
) -> None:
    """A new master secret in the key file (sessions, download links, codes)."""
    data = rotate_master(service(), grace_days=grace_days, by=Caller.staff(by))
    emit(
        data,
        as_json,
        lambda d: f"rotated; the old secret verifies until {d['previous_accepted_until']}",
    )


def _suppression_text(d: dict[str, Any]) -> str:
    counts = ", ".join(f"{name}: {n}" for name, n in d["stores"].items()) or "no lists"
    text = f"suppression lists re-keyed ({counts}); the chain has {d['keys_in_chain']} keys"
    if d["key_source"] == "environment":
        text += (
            "\nnow set DSR_SUPPRESSION_KEY to its old value, a comma, and DSR_SUPPRESSION_KEY_NEXT;"
            "\nunset DSR_SUPPRESSION_KEY_NEXT, and restart every process"
        )
    return text


@keys_app.command("rotate-suppression")
def rotate_suppression_cmd(
    by: str = typer.Option("ops", "--by", help="Who rotates it (audit log)."),
    as_json: bool = JsonOpt,
) -> None:
    """Re-key every suppression list with a new key (stop workers, scheduler and API first)."""
    data = rotate_suppression(service(), by=Caller.staff(by))
    emit(data, as_json, _suppression_text)
