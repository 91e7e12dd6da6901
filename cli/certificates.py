"""``dsr certificate verify``: check a signed certificate offline (and against the audit chain);
``dsr keys rotate-certificate``: a new signing key, the old one still published."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.app import JsonOpt, app, emit, service
from cli.rotation import keys_app
from dsr.errors import InvalidInput
from dsr.service import Caller
from dsr.service import certificates as certs

certificate_app = typer.Typer(no_args_is_help=True, help="Signed completion certificates.")
app.add_typer(certificate_app, name="certificate")


@certificate_app.command("verify")
def verify(
    file: Path = typer.Argument(..., help="certificate.jws, or the reply saved as .eml"),
    ledger: bool = typer.Option(False, "--ledger", help="Also check it against the audit chain."),
    keys: str | None = typer.Option(
        None, "--keys", help="Published keys: a URL or a JWK Set file (default: this install's)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Valid (exit 0), or refused with its reason: 3 not a certificate, 4 altered, 5 unknown
    key, 6 the chain does not hold its event, 7 not sealed yet, 8 the chain is broken."""
    try:
        raw = file.read_bytes()
    except OSError as err:
        raise InvalidInput(f"cannot read {file.name} ({type(err).__name__})") from None
    published = certs.keys_from(keys) if keys else None
    check = certs.verify(service(), raw, by=Caller.staff("cli"), keys=published, ledger=ledger)
    emit(check.model_dump(), as_json, lambda d: ("" if d["valid"] else "refused: ") + d["message"])
    if check.exit_code:
        raise typer.Exit(check.exit_code)


@certificate_app.command("keys")
def published(as_json: bool = JsonOpt) -> None:
    """The published keys (the JWK Set of /.well-known/dsr-keys.json)."""
    emit(
        certs.published_keys(service()),
        as_json,
        lambda d: "\n".join(
            f"{k['kid']}  {'retired ' + k['retired_at'] if k.get('retired_at') else 'current'}"
            for k in d["keys"]
        ),
    )


@keys_app.command("rotate-certificate")
def rotate_certificate(
    by: str = typer.Option("ops", "--by", help="Who rotates it (audit log)."),
    as_json: bool = JsonOpt,
) -> None:
    """A new certificate signing key (restart workers); the old one stays published."""
    data = certs.rotate(service(), by=Caller.staff(by))
    emit(
        data, as_json, lambda d: f"new certificate key {d['kid']}; {len(d['published'])} published"
    )
