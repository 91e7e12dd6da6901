"""Ops commands: retention sweeps, legal holds, the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer

from cli.app import JsonOpt, app, emit, service
from cli.progress import bars, wanted
from dsr.service import Caller, PurgeRequest

hold_app = typer.Typer(no_args_is_help=True, help="Legal holds.")
audit_app = typer.Typer(no_args_is_help=True, help="The audit log.")
app.add_typer(hold_app, name="hold")
app.add_typer(audit_app, name="audit")


@app.command()
def purge(
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would go; change nothing."),
    connector: list[str] = typer.Option(
        [], "--connector", metavar="CONNECTOR", help="Only this store (repeatable)."
    ),
    chunk_size: int | None = typer.Option(
        None, "--chunk-size", min=1, help="Rows per transaction (default: retention.yaml)."
    ),
    as_of: datetime | None = typer.Option(
        None,
        "--as-of",
        metavar="YYYY-MM-DD[THH:MM:SS]",
        help="Cut-offs as of this UTC time; a future one needs --dry-run.",
    ),
    by: str = typer.Option("ops", "--by", help="Who runs it (audit log)."),
    as_json: bool = JsonOpt,
) -> None:
    """A retention sweep now, in this process; per-store counts (a progress bar on a terminal)."""
    svc = service()
    with bars(wanted(as_json)) as progress:
        data = svc.purge(
            PurgeRequest(as_of=as_of, dry_run=dry_run, chunk_size=chunk_size),
            by=Caller.staff(by),
            connectors=connector,
            progress=progress,
        )
    emit(data, as_json, _purge_text)
    if data.errors:
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


@hold_app.command("add")
def hold_add(
    email: str | None = typer.Option(None, "--email"),
    phone: str | None = typer.Option(None, "--phone"),
    reason: str = typer.Option(..., "--reason"),
    until: datetime | None = typer.Option(None, "--until", formats=["%Y-%m-%d"]),
    connector: list[str] = typer.Option([], "--connector"),
    by: str = typer.Option("ops", "--by"),
    as_json: bool = JsonOpt,
) -> None:
    """Put a subject on legal hold."""
    data = service().hold_add(
        email=email,
        phone=phone,
        reason=reason,
        by=Caller.staff(by),
        until=until.replace(tzinfo=UTC) if until else None,
        connectors=connector,
    )
    emit(data, as_json, lambda d: d["id"])


def hold_line(h: dict[str, Any]) -> str:
    """One hold: whose, which stores, until when, who placed it and why."""
    whose = " / ".join(v for v in (h["email"], h["phone"]) if v)
    stores = ", ".join(h["connectors"]) if h["connectors"] else "all stores"
    until = h["until"] or "lifted by hand"
    return (
        f"{h['id']}  {whose}  stores: {stores}  until {until}  "
        f"by {h['created_by']} on {h['created_at']}: {h['reason']}"
    )


@hold_app.command("list")
def hold_list(as_json: bool = JsonOpt) -> None:
    """Active legal holds."""
    emit(
        service().hold_list(by=Caller.staff("cli")),
        as_json,
        lambda rows: "\n".join(hold_line(h) for h in rows) or "no holds",
    )


@hold_app.command("lift")
def hold_lift(hold_id: str, by: str = typer.Option("ops", "--by"), as_json: bool = JsonOpt) -> None:
    """Lift a legal hold."""
    emit(
        service().hold_lift(hold_id, by=Caller.staff(by)),
        as_json,
        lambda d: (
            f"already lifted {d['id']} (on {d['lifted_at']})"
            if d["already_lifted"]
            else f"lifted {d['id']}"
        ),
    )


@audit_app.command("verify")
def audit_verify(as_json: bool = JsonOpt) -> None:
    """Check the audit log's hash chain; exit 1 at the first broken link."""
    report = service().audit_verify(by=Caller.staff("cli"))
    emit(
        report,
        as_json,
        lambda d: (
            f"audit chain ok: {d['events']} events"
            if d["ok"]
            else f"audit chain BROKEN at event {d['first_broken']}: {d['problem']}"
        ),
    )
    if not report.ok:
        raise typer.Exit(1)
