"""The desk at the command line: find by e-mail, phone or short id; cancel; legal holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest


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


def test_list_by_email_or_phone_status_and_cancel_by_short_id(env: dict[str, str]) -> None:
    """`dsr list --email/--phone` find a request however the caller spells it; `dsr status` and
    `dsr cancel` take its first 8 characters; a second cancel is refused with exit 2."""
    filed = dsr(env, "submit", "access", "--email", "Le.Thu@Example.vn", "--phone", "0987654321")
    assert filed.returncode == 0, filed.stderr
    request_id = filed.stdout.strip().splitlines()[-1]
    found = dsr(env, "list", "--email", "le.thu@example.vn", "--json")
    assert [r["id"] for r in json.loads(found.stdout)] == [request_id]
    by_phone = dsr(env, "list", "--phone", "+84 987-654-321")
    assert by_phone.stdout.startswith(request_id)
    assert dsr(env, "list", "--phone", "0900000000").stdout.strip() == "no requests"
    bad = dsr(env, "list", "--email", "nope")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    status = dsr(env, "status", request_id[:8], "--json")
    assert json.loads(status.stdout)["id"] == request_id
    short = dsr(env, "status", request_id[:7])
    assert short.returncode == 2 and "no such request" in short.stderr
    done = dsr(env, "cancel", request_id[:8], "--reason", "caller withdrew", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["status"] == "canceled"
    again = dsr(env, "cancel", request_id, "--reason", "again")
    assert again.returncode == 2 and "cannot be canceled" in again.stderr
    assert dsr(env, "cancel", request_id, "--reason", " ").returncode == 2


def test_hold_list_says_whose_which_stores_until_when_and_lifting_twice(
    env: dict[str, str],
) -> None:
    """`dsr hold list` names the subject, the stores, the end, who placed it and why; lifting a
    hold twice says it was lifted already."""
    added = dsr(
        env, "hold", "add", "--email", "an@example.vn", "--reason", "court order 12/2026",
        "--connector", "orders", "--connector", "crm", "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    hold_id = json.loads(added.stdout)["id"]
    line = dsr(env, "hold", "list").stdout
    assert hold_id in line and "an@example.vn" in line and "stores: orders, crm" in line
    assert "until lifted by hand" in line and "court order 12/2026" in line and "by " in line
    assert dsr(env, "hold", "lift", hold_id).stdout.strip() == f"lifted {hold_id}"
    twice = dsr(env, "hold", "lift", hold_id)
    assert twice.returncode == 0 and twice.stdout.startswith(f"already lifted {hold_id} (on ")


def test_every_command_naming_a_request_takes_its_short_id(env: dict[str, str]) -> None:
    """The 8 characters a caller reads out name the request in every command, which then
    answers about that request (never "no such request"); a grant on a request with no
    vouched export is refused and changes nothing."""
    # redrive sends messages: to a namespace no other test's workers serve
    env = dict(env, DSR_BROKER_NAMESPACE=f"dsr-test-desk-{uuid.uuid4().hex[:8]}")
    filed = dsr(env, "submit", "access", "--email", "minh.anh@example.vn")
    request_id = filed.stdout.strip().splitlines()[-1]
    short = request_id[:8]
    verify = dsr(env, "verify", short, "000000")
    assert verify.returncode == 2 and "wrong verification code" in verify.stderr
    for command in (["approve", short], ["review", short, "--exclude-all"]):
        refused = dsr(env, *command)
        assert refused.returncode == 2, command
        assert f"request {request_id} is awaiting_verification" in refused.stderr, command
    redrive = dsr(env, "redrive", short, "--json")
    assert json.loads(redrive.stdout)["request_id"] == request_id
    grant = dsr(env, "grant-export", short, "--by", "olga")
    assert grant.returncode == 2 and "not vouched for by staff" in grant.stderr
    shown = json.loads(dsr(env, "status", short, "--json").stdout)
    assert not any(e["action"] == "export_granted" for e in shown["audit"])
    complaint = dsr(env, "answer", short, "--template", "resolved", "--by", "olga")
    assert complaint.returncode == 2 and f"request {request_id} is access" in complaint.stderr
