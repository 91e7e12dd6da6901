"""``dsr report``: the yearly DSR figures; ``dsr report retention``: retention you can show."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from cli.app import app, service
from dsr.errors import InvalidInput
from dsr.service import Caller, reports

report_app = typer.Typer(
    help="Yearly DSR figures (html, csv or json); `retention` for what is held and purged.",
    invoke_without_command=True,
)
app.add_typer(report_app, name="report")

_year = date.today().year
FormatOpt = typer.Option("html", "--format", help="html (prints on A4), csv or json.")
LangOpt = typer.Option(None, "--language", help="vi or en (default: DSR_DEFAULT_LANGUAGE).")
OutOpt = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout.")
JsonFlag = typer.Option(False, "--json", help="Machine-readable output (= --format json).")


def _write(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as err:
            raise InvalidInput(f"cannot write {output.name} ({type(err).__name__})") from None
        typer.echo(f"written: {output}", err=True)


@report_app.callback()
def yearly(
    ctx: typer.Context,
    start: str = typer.Option(f"{_year}-01-01", "--from", help="First day (YYYY-MM-DD)."),
    end: str = typer.Option(f"{_year}-12-31", "--to", help="Last day, inclusive."),
    jurisdiction: str | None = typer.Option(None, "--jurisdiction", help="vn, gdpr, ccpa…"),
    fmt: str = FormatOpt,
    language: str | None = LangOpt,
    output: Path | None = OutOpt,
    as_json: bool = JsonFlag,
) -> None:
    """Requests received from --from to --to: per kind and in total, per store, per recipient."""
    if ctx.invoked_subcommand is not None:
        return
    doc = reports.yearly(
        service(),
        by=Caller.staff("cli"),
        start=start,
        end=end,
        jurisdiction=jurisdiction,
        fmt="json" if as_json else fmt,
        lang=language,
    )
    _write(doc.text, output)


@report_app.command("retention")
def retention(
    start: str | None = typer.Option(
        None, "--from", help="First month shown (default: 11 months before --to)."
    ),
    end: str | None = typer.Option(None, "--to", help="As of the end of this day (default: now)."),
    fmt: str = FormatOpt,
    language: str | None = LangOpt,
    output: Path | None = OutOpt,
    as_json: bool = JsonFlag,
) -> None:
    """Per store and rule: the oldest record against the limit (flagged when behind by more
    than one sweep interval: exit 1), rows purged per month, legal holds, troubled sweeps."""
    doc = reports.retention(
        service(),
        by=Caller.staff("cli"),
        start=start,
        end=end,
        fmt="json" if as_json else fmt,
        lang=language,
    )
    _write(doc.text, output)
    if doc.flagged:
        typer.echo(f"behind their rule: {', '.join(doc.flagged)}", err=True)
        raise typer.Exit(1)
