"""Progress of long work (seeding, retention sweeps), reported through a plain callback.

The core only says how far it got; a door decides how to show it (the CLI draws a rich progress
bar on a terminal and nothing otherwise). Like a structlog processor, the extension point is a
callable type, not a class: ``report(Progress(...))``, never a UI import here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """How far one piece of work got: ``done`` of ``total`` units (``total`` None: not known)."""

    task: str  # what is being worked on, e.g. "customers" or "crm.customers"
    done: int
    total: int | None
    unit: str = "rows"
    finished: bool = False  # the last report of this task
    failed: bool = False


Report = Callable[[Progress], None]


def ignore(_: Progress) -> None:
    """The default: nobody is watching."""
