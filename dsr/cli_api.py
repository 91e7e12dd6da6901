"""API commands: ``dsr api`` and ``dsr apikey`` (registered on ``dsr.cli.app``)."""

from __future__ import annotations

from typing import Any

import typer

from dsr.cli import JsonOpt, _emit, _ledger, _runtime, app

apikey_app = typer.Typer(no_args_is_help=True, help="API keys for `dsr api`.")
app.add_typer(apikey_app, name="apikey")


@app.command()
def api(host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
        port: int = typer.Option(8000, "--port", min=1, max=65535)) -> None:
    """Serve the HTTP API and the support-staff web page."""
    import uvicorn

    from api import create_app
    from dsr.db import migrate

    rt = _runtime()
    migrate(rt.db_url)
    # log_config=None keeps our redacting logging in charge; the access log is ours too
    # (api.app logs the route template, never a raw path that may hold a download token).
    uvicorn.run(create_app(rt), host=host, port=port, log_config=None, access_log=False,
                proxy_headers=True)


def _key_json(row: Any, key: str | None = None) -> dict[str, Any]:
    from dsr.views import iso

    data = {"id": row.id, "name": row.name, "role": row.role,
            "created_at": iso(row.created_at), "revoked_at": iso(row.revoked_at)}
    if key is not None:
        data["key"] = key
    return data


@apikey_app.command("create")
def apikey_create(role: str = typer.Option(..., "--role", help="support or ops"),
                  name: str = typer.Option(..., "--name", help="Who uses it (audit log)."),
                  as_json: bool = JsonOpt) -> None:
    """Create an API key; the key is printed once and never stored."""
    from dsr import apikeys
    from dsr.errors import InvalidInput

    if role not in apikeys.Role.__members__.values():
        raise InvalidInput(f"unknown role {role!r} (support, ops)")  # before the ledger exists
    rt = _runtime()
    with _ledger(rt) as session:
        row, key = apikeys.create(session, name=name, role=role)
        data = _key_json(row, key)
    if not as_json:
        typer.echo("Store this key now; it cannot be shown again.", err=True)
    _emit(data, as_json, lambda d: d["key"])


@apikey_app.command("list")
def apikey_list(as_json: bool = JsonOpt) -> None:
    """API keys (never the keys themselves)."""
    from dsr import apikeys

    rt = _runtime()
    with _ledger(rt) as session:
        data = [_key_json(row) for row in apikeys.listing(session)]
    _emit(data, as_json, lambda rows: "\n".join(
        f"{d['id']}  {d['role']:<7} {d['name']}" + ("  (revoked)" if d["revoked_at"] else "")
        for d in rows) or "no API keys")


@apikey_app.command("revoke")
def apikey_revoke(key_id: str, as_json: bool = JsonOpt) -> None:
    """Revoke an API key by id; requests with it get 401 from then on."""
    from dsr import apikeys

    rt = _runtime()
    with _ledger(rt) as session:
        data = _key_json(apikeys.revoke(session, key_id))
    _emit(data, as_json, lambda d: f"revoked {d['id']}")
