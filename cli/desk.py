"""The desk's commands: find a caller's requests (``dsr list --email/--phone``) and end one."""

from __future__ import annotations

from typing import Any

import typer

from cli.app import JsonOpt, app, emit, full_id, service
from dsr.service import Caller


def _found_line(f: dict[str, Any]) -> str:
    done = f"  completed {f['completed_at']}" if f.get("completed_at") else ""
    return (
        f"{f['id']}  {f['kind']:<9} {f['status']:<22} received {f['received_at']}"
        f"  due {f['due_at']}{done}"
    )


def found_requests(*, email: str | None, phone: str | None, as_json: bool) -> None:
    """Requests matching the caller's identifiers (exact, through the ledger's keyed hashes)."""
    rows = service().find_requests(by=Caller.staff("cli"), email=email, phone=phone)
    emit(
        rows,
        as_json,
        lambda found: "\n".join(_found_line(f) for f in found) or "no requests",
    )


@app.command()
def cancel(
    request_id: str,
    reason: str = typer.Option(..., "--reason", help="Why it ends (audit log)."),
    by: str = typer.Option("ops", "--by", help="The staff member (audit log)."),
    as_json: bool = JsonOpt,
) -> None:
    """End an open request (not one whose reply is being sent); the audit log keeps why."""
    svc = service()
    caller = Caller.staff(by)
    full = full_id(request_id, caller)
    emit(
        svc.cancel(full, reason=reason, by=caller),
        as_json,
        lambda d: f"{d['id']} canceled",
    )
