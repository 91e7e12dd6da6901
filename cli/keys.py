"""``dsr apikey``: keys for the HTTP API and the staff page."""

from __future__ import annotations

import typer

from cli.app import JsonOpt, app, emit, service
from dsr.service import Caller

apikey_app = typer.Typer(no_args_is_help=True, help="API keys for `dsr api`.")
app.add_typer(apikey_app, name="apikey")


@apikey_app.command("create")
def apikey_create(
    role: str = typer.Option(..., "--role", help="support or ops"),
    name: str = typer.Option(..., "--name", help="Who uses it (audit log)."),
    by: str = typer.Option("cli", "--by", help="Who creates it (audit log)."),
    as_json: bool = JsonOpt,
) -> None:
    """Create an API key; the key is printed once and never stored."""
    data = service().key_create(name=name, role=role, by=Caller.staff(by))
    if not as_json:
        typer.echo("Store this key now; it cannot be shown again.", err=True)
    emit(data, as_json, lambda d: d["key"])


@apikey_app.command("list")
def apikey_list(as_json: bool = JsonOpt) -> None:
    """API keys (never the keys themselves)."""
    emit(
        service().key_list(by=Caller.staff("cli")),
        as_json,
        lambda rows: (
            "\n".join(
                f"{d['id']}  {d['role']:<7} {d['name']}"
                + ("  (revoked)" if d["revoked_at"] else "")
                for d in rows
            )
            or "no API keys"
        ),
    )


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: str, by: str = typer.Option("cli", "--by"), as_json: bool = JsonOpt
) -> None:
    """Revoke an API key by id; requests with it get 401 from then on."""
    emit(service().key_revoke(key_id, by=Caller.staff(by)), as_json, lambda d: f"revoked {d['id']}")
