"""``dsr approve`` and ``dsr grant-export``: the second pair of eyes on a staff vouch."""

from __future__ import annotations

from typing import Any

import typer

from cli.app import JsonOpt, app, emit, full_id, service
from dsr.service import Caller


def _line(data: dict[str, Any]) -> str:
    return f"{data['id']} {data['status']} (vouched by {data['vouched_by']})"


@app.command()
def approve(
    request_id: str,
    by: str = typer.Option("ops", "--by", help="The approver (not who vouched)."),
    as_json: bool = JsonOpt,
) -> None:
    """A second staff member approves a vouched access or erasure; it goes on to its stores."""
    caller = Caller.staff(by)
    emit(service().approve(full_id(request_id, caller), by=caller), as_json, _line)


@app.command("grant-export")
def grant_export(
    request_id: str,
    by: str = typer.Option(..., "--by", help="The ops member granting it (audit log)."),
    as_json: bool = JsonOpt,
) -> None:
    """Let the key that filed a staff-vouched access download its export (audited)."""
    caller = Caller.staff(by)
    data = service().grant_export(full_id(request_id, caller), by=caller)
    emit(data, as_json, lambda d: f"{d['id']}: the filing key may download the export")
