"""Files holding personal data are 0600 in 0700 folders from creation, whatever the umask."""

from __future__ import annotations

import os
import smtplib
import stat
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from config.settings import Settings
from demo import smtp_sink
from demo.seed import DEMO_SUBJECT, seed
from dsr.core.intake import filing
from dsr.core.ledger.db import dispose_all, migrate, session_scope, units_of_work
from dsr.core.pipeline import runner
from dsr.core.runtime.process import Runtime
from dsr.core.runtime.steps import Step


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The umask many servers run with (files 0644, folders 0755 unless the code says)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _modes(root: Path) -> tuple[dict[Path, int], dict[Path, int]]:
    files, folders = {}, {}
    for folder, dirs, names in os.walk(root):
        for d in dirs:
            folders[Path(folder, d)] = stat.S_IMODE(Path(folder, d).stat().st_mode)
        for n in names:
            files[Path(folder, n)] = stat.S_IMODE(Path(folder, n).stat().st_mode)
    return files, folders


def test_stores_ledger_exports_and_emails_are_private(tmp_path: Path, loose_umask: None) -> None:
    """Seeded stores, the SQLite ledger, staged exports, the bundle and our e-mail copies of an
    access request are all 0600, in 0700 folders."""
    root = tmp_path / "dsr"
    settings = Settings(
        var_dir=root / "var",
        data_dir=root / "data",
        export_dir=root / "exports",
        database_url=f"sqlite:///{root / 'var' / 'dsr.db'}",
    )
    seed(settings.resolved_data_dir, 5, secret_key=settings.keys.suppression, reset=True)
    rt = Runtime(settings)
    staged: tuple[dict[Path, int], dict[Path, int]]
    try:
        migrate(rt.db_url)
        sub = filing.Submission(
            "access", DEMO_SUBJECT["email"], phone=DEMO_SUBJECT["phone"], verified=True, by="t"
        )
        with session_scope(rt.db_url) as session:
            request, todo = filing.submit(session, rt, filing.validate(rt, sub))
        uow = units_of_work(rt.db_url)
        later: list[Step] = []

        def hold_back(step: Step) -> bool:
            if step.actor in ("aggregate", "deliver"):
                later.append(step)
                return True
            return False

        # The stores' staged files, seen before the bundle takes them in (staging is removed).
        runner.drain(uow, rt, todo, skip=hold_back)
        staged = _modes(root / "exports" / request.id / "stores")
        # Then the bundle and the reply (not delivered: our copy is written before sending).
        aggregate = [step for step in later if step.actor == "aggregate"]
        runner.drain(uow, rt, aggregate, skip=lambda step: step.actor == "deliver")
    finally:
        rt.close()
        dispose_all()
    staged_names = {p.name for p in staged[0]}
    assert {"customers.json", "customers.csv"} <= staged_names
    assert any(n.endswith(".wav") for n in staged_names)  # the subject's recordings, copied
    files, folders = _modes(root)
    names = {p.name for p in files}
    assert {"dsr.db", "keys.json", "crm.db", "cdr.db", "bundle.zip", "reply.eml"} <= names
    assert any(n.endswith(".wav") for n in names)
    for found_files, found_folders in (staged, (files, folders)):
        assert {p: m for p, m in found_files.items() if m != 0o600} == {}
        assert {p: m for p, m in found_folders.items() if m != 0o700} == {}


def test_the_demo_smtp_sink_keeps_mail_private(tmp_path: Path, loose_umask: None) -> None:
    """The demo's SMTP server writes each received e-mail 0600 in a 0700 folder."""
    controller, sink = smtp_sink.start(folder=tmp_path / "outbox")
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "x"
        message.set_content("Nguyễn Văn An, 0912 345 678")
        with smtplib.SMTP(sink.host, sink.port) as client:
            client.send_message(message)
    finally:
        controller.stop()
    files, folders = _modes(tmp_path)
    assert files and set(files.values()) == {0o600} and set(folders.values()) == {0o700}
