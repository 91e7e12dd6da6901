"""Progress bars for long commands (``dsr seed``, ``dsr purge``) on a terminal, and only there.

The core reports through ``dsr.core.runtime.progress.Report``; this module turns those reports
into rich progress bars on stderr. With ``--json``, or when stdout is not a terminal (a pipe, a
file, cron), nothing is drawn, so machine output and logs stay clean.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import (
    Progress as Bars,
)

from dsr.service import Progress, Report, ignore


def wanted(as_json: bool, stream: TextIO | None = None) -> bool:
    """Draw bars only for a person: not with --json, and only when stdout is a terminal."""
    out = stream if stream is not None else sys.stdout
    return not as_json and out.isatty()


@contextmanager
def bars(enabled: bool, *, console: Console | None = None) -> Iterator[Report]:
    """A ``Report`` drawing one bar per task while the block runs; ``ignore`` when disabled."""
    if not enabled:
        yield ignore
        return
    console = console or Console(stderr=True)
    with Bars(
        SpinnerColumn(finished_text="[green]✓[/]"),
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TimeElapsedColumn(),
        console=console,
    ) as drawn:
        tasks: dict[str, TaskID] = {}

        def report(p: Progress) -> None:
            task = tasks.get(p.task)
            if task is None:
                task = tasks[p.task] = drawn.add_task(p.task, total=p.total, unit=p.unit)
            if p.failed:
                drawn.update(task, description=f"[red]{p.task} FAILED[/]", total=1, completed=0)
                drawn.stop_task(task)
                return
            if p.finished:  # a finished task shows its final count, even 0 of 0
                drawn.update(task, total=max(p.total or 0, p.done), completed=p.done)
            else:
                drawn.update(task, total=p.total, completed=p.done)

        yield report
