"""The public CLI contract: --json shapes, and bad input is one stderr line, exit 2, no writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from dsr.core.runtime.steps import StepName
from dsr.service.views import dump

FIELDS = {
    "id",
    "kind",
    "status",
    "jurisdiction",
    "received_at",
    "ack_due_at",
    "due_at",
    "completed_at",
    "tasks",
}


def dsr(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dsr", *args], env=env, text=True, capture_output=True, timeout=120
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ)
    e.update(DSR_VAR_DIR=str(tmp_path / "var"), DSR_LOG_FORMAT="json")
    e.pop("DSR_DATABASE_URL", None)
    return e


def _count_requests(var: Path) -> int:
    db = var / "dsr.db"
    if not db.exists():
        return 0
    with sa.create_engine(f"sqlite:///{db}").connect() as conn:
        return int(conn.execute(sa.text("select count(*) from requests")).scalar() or 0)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["submit", "access", "--email", "not-an-address"], "email"),
        (["submit", "access", "--email", "a@b.vn", "--phone", "12"], "phone"),
        (["submit", "delete", "--email", "a@b.vn"], "kind"),
        (["submit", "rectify", "--email", "a@b.vn", "--set", "shoe_size=42"], "field"),
        (["submit", "access", "--email", "a@b.vn", "--jurisdiction", "mars"], "jurisdiction"),
        (["submit", "access", "--email", "a@b.vn", "--language", "fr"], "language"),
        (["submit", "access"], "email"),
        (["status", "0" * 32], "no such request"),
        (["verify", "0" * 32, "123456"], "no such request"),
        (["retry", "0" * 32], "no such request"),
        (["review", "0" * 32, "--exclude-all"], "no such request"),
        (["list", "--status", "sleeping"], "status"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    env: dict[str, str], tmp_path: Path, args: list[str], needle: str
) -> None:
    """Malformed input, unknown kinds, fields and ids: exit 2, one clear stderr line, no rows."""
    before = _count_requests(tmp_path / "var")
    done = dsr(env, *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0].lower(), done.stderr
    assert done.stdout == ""
    assert _count_requests(tmp_path / "var") == before


def test_rejected_submit_does_not_even_create_the_ledger(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A malformed first request leaves no ledger file behind."""
    assert dsr(env, "submit", "erase", "--email", "@@").returncode == 2
    assert not (tmp_path / "var" / "dsr.db").exists()


def test_submit_status_and_list_json(env: dict[str, str], tmp_path: Path) -> None:
    """submit/status/list --json expose the documented request fields in ISO 8601 UTC."""
    done = dsr(
        env,
        "submit",
        "erase",
        "--email",
        " Nguyen.Van.A@Gmail.com ",
        "--phone",
        "84-912-345-678",
        "--jurisdiction",
        "gdpr",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert created.keys() >= FIELDS
    assert created["status"] == "awaiting_verification" and created["jurisdiction"] == "gdpr"
    assert created["email"] == "nguyen.van.a@gmail.com"
    assert created["received_at"].endswith("Z") and created["due_at"] > created["received_at"]
    status = json.loads(dsr(env, "status", created["id"], "--json").stdout)
    assert status["id"] == created["id"] and status["tasks"] == []
    listed = json.loads(dsr(env, "list", "--json").stdout)
    assert isinstance(listed, list) and [r["id"] for r in listed] == [created["id"]]
    assert json.loads(dsr(env, "list", "--overdue", "--json").stdout) == []
    assert dsr(env, "submit", "access", "--email", "x@y.vn").stdout.strip() != created["id"]
    assert _count_requests(tmp_path / "var") == 2


def test_staff_verified_submission_records_who(env: dict[str, str], tmp_path: Path) -> None:
    """--verified --by puts the staff member in the audit log and skips the code."""
    done = dsr(
        env, "submit", "access", "--email", "a@b.vn", "--verified", "--by", "lan.nguyen", "--json"
    )
    data = json.loads(done.stdout)
    assert data["status"] in ("verified", "in_progress") and data["verified_by"] == "lan.nguyen"
    with sa.create_engine(f"sqlite:///{tmp_path / 'var' / 'dsr.db'}").connect() as conn:
        actors = (
            conn.execute(sa.text("select actor from audit_events where action='verified_by_staff'"))
            .scalars()
            .all()
        )
    assert actors == ["lan.nguyen"]


def test_audit_verify_finds_the_first_broken_link(env: dict[str, str], tmp_path: Path) -> None:
    """`dsr audit verify` passes on an intact chain and names the first tampered event."""
    for email in ("a@b.vn", "c@d.vn"):
        assert dsr(env, "submit", "access", "--email", email).returncode == 0
    ok = json.loads(dsr(env, "audit", "verify", "--json").stdout)
    assert ok["ok"] and ok["events"] >= 4
    with sa.create_engine(f"sqlite:///{tmp_path / 'var' / 'dsr.db'}").begin() as conn:
        conn.execute(sa.text("update audit_events set actor='mallory' where seq=2"))
    broken = dsr(env, "audit", "verify", "--json")
    assert broken.returncode == 1
    assert json.loads(broken.stdout)["first_broken"] == 2


def test_broker_down_keeps_the_request_for_redrive(env: dict[str, str], tmp_path: Path) -> None:
    """With Redis unreachable, submit still saves the request, warns, and re-drive finds it."""
    from demo.smtp_sink import free_port

    env = dict(env, DSR_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    done = dsr(env, "submit", "access", "--email", "a@b.vn", "--verified", "--by", "t")
    assert done.returncode == 0 and "broker unreachable" in done.stderr
    request_id = done.stdout.strip()
    from config.settings import Settings
    from dsr.core.ledger.db import session_scope
    from dsr.core.pipeline.redrive import stuck
    from dsr.core.runtime.process import Runtime

    rt = Runtime(Settings(var_dir=tmp_path / "var"))
    with session_scope(rt.db_url) as session:
        found = stuck(session, rt, older_than_seconds=0, request_id=request_id)
    assert [s.actor for s in found].count(StepName.RUN_TASK) >= 1  # its first stage, sent again


def test_ledger_down_is_one_line_not_a_traceback(env: dict[str, str]) -> None:
    """An unreachable ledger database is reported in one line, exit 1."""
    from demo.smtp_sink import free_port

    env = dict(env, DSR_DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x")
    done = dsr(env, "list")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: the ledger database is unreachable (OperationalError)"
    ]


def test_review_decides_a_needs_review_request(env: dict[str, str], tmp_path: Path) -> None:
    """`dsr review`: status lists the candidates by ref, --show each one's masked name and
    dates; an unknown ref or an undecided one is one line, exit 2, nothing decided;
    --exclude-all decides and the request goes on to its reply; a second decision is refused."""

    from config.settings import Settings
    from demo.seed import DEMO_SUBJECT, seed
    from dsr.core.intake.filing import Submission
    from dsr.core.runtime.process import Runtime
    from dsr.service import Caller, Service
    from tests.family import add_family_account
    from tests.inline import inline

    settings = Settings(var_dir=tmp_path / "var")
    seed(settings.resolved_data_dir, 20, secret_key=settings.keys.suppression, reset=True)
    add_family_account(settings.resolved_data_dir)
    rt = Runtime(settings)
    sub = Submission("erase", DEMO_SUBJECT["email"], verified=True, by="lan")
    request_id = dump(Service(rt, inline(rt)).submit(sub, by=Caller.staff("t")))["id"]
    rt.close()
    shown = dsr(env, "status", request_id)
    assert "needs_review" in shown.stdout and "crm:customers:" in shown.stdout
    assert "ng***@example.com" in shown.stdout and DEMO_SUBJECT["email"] not in shown.stdout
    seen = dsr(env, "review", request_id, "--show")  # what ops need to decide, masked
    assert seen.returncode == 0, seen.stderr
    assert "name N***** T** M**" in seen.stdout and "created 2024-01-01" in seen.stdout
    assert "Mai" not in seen.stdout.replace("M**", "")
    for args, needle in (
        (["--show", "--exclude-all"], "--show decides nothing"),
        (["--include", "crm:customers:999999"], "no undecided candidate"),
        (["--exclude", "crm:customers:1"], "no undecided candidate"),
        ([], "undecided"),
    ):
        done = dsr(env, "review", request_id, *args)
        assert done.returncode == 2 and done.stdout == "", done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and needle in done.stderr
    done = dsr(env, "review", request_id, "--exclude-all", "--by", "lan", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["status"] == "replying" and data["candidates"]
    assert {c["decision"] for c in data["candidates"]} == {"excluded"}
    assert {c["decided_by"] for c in data["candidates"]} == {"lan"}
    again = dsr(env, "review", request_id, "--exclude-all")
    assert again.returncode == 2 and "not needs_review" in again.stderr
