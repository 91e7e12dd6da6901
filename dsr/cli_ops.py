"""Ops commands: retention sweeps and the scheduler (registered on ``dsr.cli.app``)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import typer

from dsr.cli import JsonOpt, _emit, _runtime, app
from dsr.errors import InvalidInput, StoreError


@app.command()
def purge(
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would go; change nothing."),
    connector: list[str] = typer.Option([], "--connector", metavar="CONNECTOR",
                                        help="Only this store (repeatable)."),
    chunk_size: int | None = typer.Option(None, "--chunk-size", min=1,
                                          help="Rows per transaction (default: retention.yaml)."),
    as_of: datetime | None = typer.Option(
        None, "--as-of", metavar="YYYY-MM-DD[THH:MM:SS]",
        help="Cut-offs as of this UTC time; a future one needs --dry-run."),
    by: str = typer.Option("ops", "--by", help="Who runs it (audit log)."),
    as_json: bool = JsonOpt,
) -> None:
    """A retention sweep now, in this process; per-store counts."""
    from dsr import retention
    from dsr.db import migrate

    rt = _runtime()
    policy = retention.policy_for(rt)
    for name in connector:
        if name not in rt.connectors:
            raise InvalidInput(f"unknown connector {name!r}")
        if name not in policy.connectors:
            raise InvalidInput(f"no retention rule for connector {name!r}")
    now = datetime.now(UTC)
    if as_of is not None:
        as_of = as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of.astimezone(UTC)
        if as_of > now and not dry_run:
            raise InvalidInput("--as-of in the future would purge early; add --dry-run")
        now = as_of
    migrate(rt.db_url)  # the sweep writes PurgeRun rows
    stores: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for name in connector or policy.connectors:
        try:
            reports = retention.sweep(rt, name, now=now, dry_run=dry_run, chunk_size=chunk_size,
                                      by=by, policy=policy)
        except StoreError as err:  # one store down must not stop the others' sweeps
            errors.append({"connector": name, "error": str(err)})
            continue
        stores += [asdict(r) for r in reports]
    data = {"dry_run": dry_run, "as_of": now.isoformat(), "stores": stores, "errors": errors}
    _emit(data, as_json, _purge_text)
    if errors:
        raise typer.Exit(1)


def _purge_text(d: dict[str, Any]) -> str:
    lines = []
    for s in d["stores"]:
        where = f"{s['connector']}.{s['table']}"
        verb = f"would {s['action']}" if d["dry_run"] else s["action"]
        count = s["matched"] if d["dry_run"] else s["purged"]
        line = f"{where:<24} {verb} {count} (older than {s['cutoff']})"
        if s["skipped_held"]:
            line += f", {s['skipped_held']} held"
        if not s["done"]:
            line += ", stopped early: run again to continue"
        lines.append(line)
    lines += [f"{e['connector']:<24} FAILED: {e['error']}" for e in d["errors"]]
    return "\n".join(lines) or "no retention rules"


@app.command("scheduler")
def scheduler_cmd() -> None:
    """Run the scheduler: sweeps, watchdog, re-drive (one leader; a second one stands by)."""
    from dsr.db import migrate
    from scheduler.app import run

    rt = _runtime()
    migrate(rt.db_url)
    run(rt)
