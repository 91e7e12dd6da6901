"""The pipeline without a broker: a SQLite ledger, the demo stores, the in-process SMTP server.

Nothing here needs PostgreSQL or Redis, so these tests run on any laptop. Steps are collected in
a plain list (the service's ``enqueue``) and run inline with ``dsr.core.pipeline.runner.drain``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from demo import smtp_sink
from demo.seed import DEMO_SUBJECT, seed
from demo.smtp_sink import MailSink
from dsr.core.intake.filing import Submission
from dsr.core.ledger.db import get_engine, units_of_work
from dsr.core.pipeline import runner
from dsr.core.runtime.process import Runtime
from dsr.core.runtime.steps import Step
from dsr.service import Caller, Service
from dsr.service.views import dump

STAFF = Caller.staff("test-staff")
EMAIL = DEMO_SUBJECT["email"]


@dataclass
class Core:
    """A runtime on a SQLite ledger, its service, and the steps it queued (the broker's place)."""

    rt: Runtime
    smtp: MailSink
    queued: list[Step] = field(default_factory=list)

    @property
    def service(self) -> Service:
        return Service(self.rt, self.queued.extend)

    def submit(self, kind: str, email: str = EMAIL, **kw: Any) -> str:
        kw.setdefault("verified", True)
        kw.setdefault("by", "test-staff")
        return str(dump(self.service.submit(Submission(kind, email, **kw), by=STAFF))["id"])

    def take(self) -> list[Step]:
        """The steps queued so far (the broker's messages), emptying the queue."""
        taken, self.queued[:] = list(self.queued), []
        return taken

    def drain(self, todo: Iterable[Step] | None = None, *, times: int = 1) -> int:
        """Run the queued steps (or ``todo``) and all that follow, as the workers would."""
        return runner.drain(
            units_of_work(self.rt.db_url),
            self.rt,
            self.take() if todo is None else todo,
            times=times,
        )

    def status(self, request_id: str) -> dict[str, Any]:
        return dump(self.service.status(request_id, by=STAFF))

    def replies(self, request_id: str, to: str = EMAIL) -> list[Any]:
        prefix = f"<{request_id}.reply@"
        return [m for m in self.smtp.to(to) if str(m["Message-ID"]).startswith(prefix)]


def core_settings(tmp: Path, smtp_port: int, **extra: Any) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp / 'ledger.db'}",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        data_dir=tmp / "data",
        export_dir=tmp / "exports",
        var_dir=tmp / "var",
        **extra,
    )


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    """Seeded demo stores, a SQLite ledger and an aiosmtpd server, all in this process."""
    controller, sink = smtp_sink.start()
    settings = core_settings(tmp_path, sink.port)
    seed(settings.resolved_data_dir, 30, secret_key=settings.keys.suppression, reset=True)
    rt = Runtime(settings)
    yield Core(rt, sink)
    controller.stop()
    rt.close()
    get_engine(rt.db_url).dispose()
