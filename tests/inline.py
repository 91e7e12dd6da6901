"""Run a request's steps inline, in this thread, as the actors would.

For tests that exercise the whole core on real stores without a broker: every step the core
returns runs next, in order. E-mails are written to the outbox folder but not sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from dsr.core.ledger.db import units_of_work
from dsr.core.pipeline import runner
from dsr.core.runtime.process import Runtime
from dsr.core.runtime.steps import Step, StepName


def inline(rt: Runtime) -> Callable[[Iterable[Step]], None]:
    """An ``enqueue`` for ``Service`` that runs every step (but delivery) at once."""
    uow = units_of_work(rt.db_url)

    def enqueue(follow: Iterable[Step]) -> None:
        todo = list(follow)
        while todo:
            step = todo.pop(0)
            if step.actor == StepName.DELIVER:
                continue
            try:
                todo += runner.execute(uow, rt, step)
            except Exception as err:
                # Service.send would take any failure for a broker outage and only warn.
                raise StepFailed(f"{step.actor} failed: {err!r}") from err

    return enqueue


class StepFailed(BaseException):
    """A step failed while running inline (not an Exception: nothing on the way swallows it)."""


def code_from_outbox(export_dir: Path, request_id: str) -> str:
    """The one-time code in the verification e-mail the request wrote to its outbox."""
    path = export_dir / request_id / "outbox" / "verification-1.eml"
    message: Any = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    found = re.search(r"\b(\d{6})\b", message.get_body(preferencelist=("plain",)).get_content())
    assert found, "no code in the verification e-mail"
    return found.group(1)
