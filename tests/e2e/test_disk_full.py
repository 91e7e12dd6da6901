"""A full export disk is a clean, retriable failure: nothing half-written, one line, and the
request resumes when space returns."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from demo.seed import DEMO_SUBJECT, seed
from demo.smtp_sink import MailSink
from dsr.core.intake import filing
from dsr.core.ledger.db import get_engine, migrate, session_scope
from dsr.core.ledger.models import Alert, ConnectorTask, Request
from dsr.core.ops import watchdog
from dsr.core.pipeline import redrive
from dsr.core.runtime.process import Runtime
from tests.e2e.conftest import make_settings
from tests.e2e.drive import drive

DSR = str(Path(sys.executable).parent / "dsr")
EMAIL = DEMO_SUBJECT["email"]


class Disk:
    """A small tmpfs of our own that can be filled to the last byte and freed again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler"

    def fill(self) -> None:
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (65536, 4096, 1):  # unbuffered: down to the last byte
                while True:
                    try:
                        os.write(fd, b"\0" * size)
                    except OSError as err:
                        assert err.errno == errno.ENOSPC
                        break
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink()

    def files(self) -> list[str]:
        return sorted(
            str(p.relative_to(self.root))
            for p in self.root.rglob("*")
            if p.is_file() and p != self.filler
        )


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Disk]:
    """A 512 KB tmpfs mounted for this test (root in the sandbox and in CI)."""
    root = tmp_path / "exports"
    root.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield Disk(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def test_submit_on_a_full_disk_is_one_line_and_leaves_nothing(tmp_path: Path, disk: Disk) -> None:
    """`dsr submit` with the export disk full: one line, exit 1, no folder, no ledger row."""
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    seed(tmp_path / "data", 10, secret_key="s" * 32, reset=True)
    disk.fill()
    env = {
        **os.environ,
        "DSR_DATABASE_URL": ledger,
        "DSR_EXPORT_DIR": str(disk.root),
        "DSR_DATA_DIR": str(tmp_path / "data"),
        "DSR_VAR_DIR": str(tmp_path / "var"),
        "DSR_SECRET_KEY": "s" * 32,
        "DSR_BROKER_NAMESPACE": f"dsr-test-disk-{uuid.uuid4().hex[:8]}",
    }
    proc = subprocess.run(
        [DSR, "submit", "access", "--email", EMAIL, "--verified", "--by", "t"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert "No space left on device" in line
    assert list(disk.root.iterdir()) == [disk.filler]  # no request folder was left
    with Session(get_engine(ledger)) as session:
        assert session.exec(select(func.count()).select_from(Request)).one() == 0


def test_access_request_waits_for_space_then_completes(
    tmp_path: Path, postgres_url: str, smtp: MailSink, disk: Disk
) -> None:
    """Stores cannot stage their export: tasks wait with a one-line error and no partial files,
    ops get an alert and its e-mail at once, while the disk is still full; freed, it completes."""
    settings = make_settings(tmp_path, postgres_url, smtp.port)
    settings = settings.model_copy(update={"export_dir": disk.root})
    seed(settings.resolved_data_dir, 20, secret_key=settings.keys.suppression, reset=True)
    rt = Runtime(settings)
    migrate(rt.db_url)
    try:
        with session_scope(rt.db_url) as session:
            request, follow = filing.submit(
                session,
                rt,
                filing.validate(rt, filing.Submission("access", EMAIL, verified=True, by="t")),
            )
        disk.fill()
        drive(rt, follow)
        with Session(get_engine(rt.db_url)) as session:
            assert session.get(Request, request.id).status == "in_progress"  # type: ignore[union-attr]
            tasks = session.exec(
                select(ConnectorTask).where(ConnectorTask.request_id == request.id)
            ).all()
            tried = [t for t in tasks if t.attempts]  # the first stage; the next one waits on it
            assert tried and all(t.status == "pending" for t in tried)
            assert all("No space left on device (ENOSPC)" in (t.error or "") for t in tried)
            (alert,) = session.exec(select(Alert).where(Alert.request_id == request.id)).all()
            assert alert.reason == "disk_full" and alert.emailed
        assert not any("stores" in f for f in disk.files())  # nothing half-written stays
        told = [m for m in smtp.to(rt.settings.ops_email) if "disk_full" in m["Message-ID"]]
        assert told  # not an hour later at the watchdog: the disk is still full

        disk.free()
        with session_scope(rt.db_url) as session:
            follow = watchdog.check(session, rt) + redrive.stuck(session, rt, older_than_seconds=0)
        drive(rt, follow)
        with Session(get_engine(rt.db_url)) as session:
            assert session.get(Request, request.id).status == "completed"  # type: ignore[union-attr]
        assert not (disk.root / request.id / "stores").exists()  # staging gone once bundled
        assert (disk.root / request.id / "bundle.zip").is_file()
        replies = [m for m in smtp.to(EMAIL) if ".reply@" in m["Message-ID"]]
        assert len(replies) == 1
        assert [m for m in smtp.to(rt.settings.ops_email) if "disk_full" in m["Message-ID"]]
    finally:
        rt.close()
