"""`dsr submit complaint`, `dsr answer` and `dsr list --kind`: the staff queue from the shell."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import services
from tests.cli.test_cli import FIELDS, _count_requests, dsr
from tests.cli.test_cli import env as env  # the shared fixture


@pytest.fixture
def queue_env(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The CLI's environment with a broker namespace of its own, emptied afterwards."""
    import redis

    url = services.redis_url_or_skip()
    namespace = f"dsr-cli-{uuid.uuid4().hex[:8]}"
    yield dict(env, DSR_REDIS_URL=url, DSR_BROKER_NAMESPACE=namespace)
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{namespace}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["submit", "complaint", "--email", "a@b.vn"], "complaint text is empty"),
        (["submit", "complaint", "--email", "a@b.vn", "--text", "a\x07b"], "control characters"),
        (["submit", "access", "--email", "a@b.vn", "--text", "hi"], "only for complaints"),
        (["answer", "0" * 32, "--template", "resolved", "--by", "lan"], "no such request"),
        (["answer", "0" * 32, "--by", "lan"], "missing --template"),
        (["list", "--kind", "grievance"], "unknown request kind"),
    ],
)
def test_bad_complaint_input_is_one_line_exit_2(
    queue_env: dict[str, str], tmp_path: Path, args: list[str], needle: str
) -> None:
    """Complaint input errors are one stderr line, exit 2, and write nothing."""
    done = dsr(queue_env, *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], done.stderr
    assert done.stdout == "" and _count_requests(tmp_path / "var") == 0


def test_file_list_answer_and_status_from_the_shell(queue_env: dict[str, str]) -> None:
    """A complaint is filed, found in the staff queue, answered with a template and shown with
    its answer, in the same --json shape as every request."""
    text = "Số điện thoại của tôi bị chia sẻ cho bên thứ ba."
    done = dsr(queue_env, "submit", "complaint", "--email", "a@b.vn", "--text", text, "--json")
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert created.keys() >= FIELDS and created["kind"] == "complaint"
    assert created["status"] == "in_progress" and created["tasks"] == []
    queue = json.loads(
        dsr(queue_env, "list", "--kind", "complaint", "--status", "in_progress", "--json").stdout
    )
    assert [r["id"] for r in queue] == [created["id"]]
    assert queue[0].keys() >= FIELDS
    human = dsr(queue_env, "status", created["id"]).stdout
    assert text in human and "not answered yet" in human
    listed = dsr(queue_env, "answer", "--list-templates", "--json")
    names = {t["name"]: t["needs_note"] for t in json.loads(listed.stdout)}
    assert names["no_misuse"] is False and names["secure_account"] is True
    answered = dsr(
        queue_env,
        "answer",
        created["id"],
        "--template",
        "no_misuse",
        "--by",
        "lan",
        "--note",
        "Đã kiểm tra nhật ký chia sẻ.",
        "--json",
    )
    assert answered.returncode == 0, answered.stderr
    data = json.loads(answered.stdout)
    assert data["status"] == "replying"  # the reply waits in the outbox for a worker
    assert data["complaint"]["answered_by"] == "lan"
    status = json.loads(dsr(queue_env, "status", created["id"], "--json").stdout)
    assert status["complaint"]["answer_note"] == "Đã kiểm tra nhật ký chia sẻ."
    assert status["reply"]["status"] == "pending"
    assert [a["action"] for a in status["audit"]][-1] == "complaint_answered"
    replying = json.loads(dsr(queue_env, "list", "--status", "replying", "--json").stdout)
    assert [r["id"] for r in replying] == [created["id"]]
    again = dsr(queue_env, "answer", created["id"], "--template", "resolved", "--by", "minh")
    assert again.returncode == 2 and "not waiting for staff" in again.stderr
