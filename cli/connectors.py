"""``dsr connectors``: look at the stores read-only (propose an entry, check configured ones),
and build their identifier indexes ahead of the workers."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cli.app import JsonOpt, app, emit, service, settings
from cli.progress import bars, wanted
from connectors.check import CheckReport, StoreCheck, check_entries
from connectors.discover import discover
from connectors.registry import read_entries
from dsr.service import Caller

connectors_app = typer.Typer(
    no_args_is_help=True, help="Propose or check store configuration (read-only)."
)
app.add_typer(connectors_app, name="connectors")


@connectors_app.command("discover")
def discover_command(
    url: str = typer.Argument(..., help="The database, e.g. postgresql+psycopg://user@host/db."),
    sample: int = typer.Option(200, "--sample", min=1, help="Rows sampled per table."),
    as_json: bool = JsonOpt,
) -> None:
    """Propose a connectors.yaml entry from a database's schema and values; writes nothing."""
    found = discover(url, region=settings().default_region, sample=sample)
    if as_json:
        emit(found.to_json(), True, str)
    else:
        typer.echo(found.to_yaml(), nl=False)


@connectors_app.command("check")
def check_command(
    name: str | None = typer.Argument(None, help="One connector (default: all)."),
    sample: int = typer.Option(1000, "--sample", min=1, help="Rows sampled per match column."),
    as_json: bool = JsonOpt,
) -> None:
    """Check the configured SQL stores against their databases; exit 1 on any problem."""
    s = settings()
    entries = read_entries(s.connectors_file, data_dir=s.resolved_data_dir)
    report = check_entries(entries, region=s.default_region, only=name, sample=sample)
    if as_json:
        emit(report.to_json(), True, str)
    else:
        console = Console()
        if not console.is_terminal:  # a pipe or a file: no terminal width to fit, keep lines whole
            console = Console(width=160)
        _print(report, console)
    if not report.ok:
        raise typer.Exit(1)


@connectors_app.command("index")
def index_command(
    name: str | None = typer.Argument(None, help="One connector (default: all)."),
    full: bool = typer.Option(False, "--full", help="Read every row again, not only changes."),
    by: str = typer.Option("ops", "--by", help="Who runs it (audit log)."),
    as_json: bool = JsonOpt,
) -> None:
    """Build or bring up to date the identifier indexes (a cut-off build resumes); a progress
    bar on a terminal."""
    with bars(wanted(as_json)) as progress:
        done = service().index_stores(
            by=Caller.staff(by), connector=name, full=full, progress=progress
        )
    emit({"tables": done}, as_json, _index_text)


def _index_text(data: dict[str, Any]) -> str:
    return "\n".join(
        f"{t['connector']}.{t['table']:<28} {t['rows']:>10,} rows "
        f"{'read whole' if t['full'] else 'changed'} in {t['seconds']:.1f} s"
        for t in data["tables"]
    )


def _print(report: CheckReport, console: Console) -> None:
    for store in report.connectors:
        if store.skipped:
            console.print(f"[bold]{store.name}[/]: skipped ({store.skipped})", soft_wrap=True)
            continue
        verdict = "[green]ok[/]" if store.ok else f"[red]{len(store.problems)} problem(s)[/]"
        console.print(f"\n[bold]{store.name}[/] ({store.backend}): {verdict}")
        if store.tables:
            console.print(_tables(store))
        for line in _details(store):
            console.print(line, highlight=False, soft_wrap=True)


def _tables(store: StoreCheck) -> Table:
    grid = Table("table", "columns", "key", "privileges (needed)", "lookups", show_lines=True)
    for t in store.tables:
        columns = "ok" if t.columns_ok else ("no table" if not t.exists else "missing: ")
        if t.exists and t.missing_columns:
            columns += ", ".join(t.missing_columns)
        key = f"{t.key}: " + {True: "unique", False: "[red]NOT unique[/]", None: "-"}[t.key_unique]
        if t.key_basis:
            key += f" ({t.key_basis})"
        grid.add_row(t.name, columns, key, _privileges(t.privileges), _lookups(t.lookups))
    return grid


def _privileges(p: dict[str, Any]) -> str:
    if not p:
        return "-"
    return " ".join(
        f"[red]{name} missing[/]" if name in p["missing"] else name for name in p["needed"]
    )


def _lookups(lookups: list[Any]) -> str:
    lines = []
    for lk in lookups:
        rows = f", ~{lk.estimated_rows} rows" if lk.estimated_rows is not None else ""
        via = f" {lk.index}" if lk.index else ""
        note = "" if lk.access == "index" or not lk.index_available else " (an index exists)"
        lines.append(f"by {lk.query} ({lk.column}): {lk.access}{via}{rows}{note}")
    return "\n".join(lines) or "-"


def _details(store: StoreCheck) -> list[str]:
    lines = []
    for t in store.tables:
        lines += [f"  spelling  {t.name}  {s.summary()}" for s in t.spellings.values()]
    for own in store.own_tables:
        state = "present" if own["exists"] else "not present"
        lines.append(f"  own table {own['name']}: {own['purpose']}, {state}")
    lines += [f"  [yellow]warning[/]   {w}" for w in store.warnings]
    lines += [f"  [red]problem[/]   {p}" for p in store.problems]
    return lines
