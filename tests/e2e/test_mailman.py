"""An HTTP store end to end: Mailman 3's mailing lists through the real pipeline (PostgreSQL
ledger, Redis broker, dramatiq worker, SMTP), configured only in YAML.

Access, rectify and erase act on the subject's addresses, user and memberships (and the
membership of the subject's second address, found because the first one's user provides it);
a Mailman killed mid-request, answering 500 or answering slowly ends like a SQL store's fault:
retried, then ``needs_attention`` with an ops alert and no reply, and completed once it is back.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import yaml
from sqlmodel import Session, select

from demo.smtp_sink import MailSink
from dsr.core.intake import filing
from dsr.core.ledger.db import get_engine, migrate, session_scope
from dsr.core.ledger.models import ConnectorTask
from dsr.core.pipeline import tasks
from dsr.core.runtime.process import Runtime
from tests import services
from tests.connectors.http_stores import A_WORK, EXAMPLE, SECRET_NAME, populate
from tests.connectors.stores import A_EMAIL, B_EMAIL
from tests.e2e.conftest import make_settings, request_status, until
from tests.mailman_proxy import FAIL_500, KILL_ON_DELETE, NORMAL, SLOW, Proxy, proxied
from tests.mailman_server import Mailman

NEW_EMAIL = "anh.nguyen@example.org"
LISTS = ("news.example.com", "offers.example.com", "events.example.com")


class Running:
    """A worker and a runtime whose connectors file names one Mailman (or a proxy to it)."""

    def __init__(self, tmp_path: Path, db_url: str, smtp: MailSink, mailman: Mailman) -> None:
        self.tmp_path, self.db_url, self.smtp, self.mailman = tmp_path, db_url, smtp, mailman
        self.rt: Runtime | None = None

    def runtime(self, base_url: str) -> Runtime:
        from workers import runtime

        entry = yaml.safe_load(EXAMPLE.read_text("utf-8"))["connectors"][0]
        entry.update(base_url=base_url, timeout=1.5, retries=1, backoff=0.05)
        cfg = self.tmp_path / f"connectors-{time.monotonic_ns()}.yaml"
        cfg.write_text(yaml.safe_dump({"connectors": [entry]}, allow_unicode=True), "utf-8")
        settings = make_settings(
            self.tmp_path,
            self.db_url,
            self.smtp.port,
            connectors_file=cfg,
            task_max_retries=2,
            http_secrets={SECRET_NAME: self.mailman.password},
        )
        if self.rt is not None:
            self.rt.close()
        self.rt = Runtime(settings)
        migrate(self.rt.db_url)
        runtime.set_runtime(self.rt)
        return self.rt

    def submit(self, kind: str, email: str, **kw: Any) -> str:
        from workers.actors import enqueue

        assert self.rt is not None
        with session_scope(self.rt.db_url) as session:
            sub = filing.Submission(kind, email, verified=True, by="t", **kw)
            request, follow = filing.submit(session, self.rt, filing.validate(self.rt, sub))
        enqueue(follow)  # after the commit: a worker must find what the steps name
        return request.id

    def status(self, request_id: str) -> str:
        assert self.rt is not None
        return request_status(self.rt, request_id)

    def wait(self, request_id: str, status: str, timeout: float = 120) -> None:
        """Until the request reaches ``status``; on time-out, say where it and its task are."""
        try:
            until(lambda: self.status(request_id) == status, timeout=timeout)
        except AssertionError:
            task = self.task(request_id)
            raise AssertionError(
                f"request {self.status(request_id)}, task {task.status} after {task.attempts} "
                f"attempts: {task.error}"
            ) from None

    def task(self, request_id: str) -> ConnectorTask:
        assert self.rt is not None
        with Session(get_engine(self.rt.db_url)) as session:
            return session.exec(
                select(ConnectorTask).where(ConnectorTask.request_id == request_id)
            ).one()

    def replies(self, request_id: str, to: str = A_EMAIL) -> list[Any]:
        return [m for m in self.smtp.to(to) if m["Message-ID"].startswith(f"<{request_id}.reply@")]

    def alerts(self) -> list[Any]:
        assert self.rt is not None
        ops = self.smtp.to(self.rt.settings.ops_email)
        return [m for m in ops if "connector_failed" in m["Message-ID"]]

    def retry(self, request_id: str) -> None:
        from workers.actors import enqueue

        assert self.rt is not None
        with session_scope(self.rt.db_url) as session:
            follow = tasks.retry(session, self.rt, request_id, by="ops")
        enqueue(follow)  # after the commit, or a worker may still see the task failed


@pytest.fixture
def running(
    tmp_path: Path, postgres_url: str, smtp: MailSink, mailman: Mailman
) -> Iterator[Running]:
    services.redis_url_or_skip()
    from workers import runtime
    from workers.broker import broker

    populate(mailman)
    run = Running(tmp_path, postgres_url, smtp, mailman)
    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        yield run
    finally:
        worker.stop()
        broker.flush_all()
        runtime.set_runtime(None)
        if run.rt is not None:
            run.rt.close()


def _bundle(message: Any) -> zipfile.ZipFile:
    for part in message.iter_attachments():
        if part.get_content_type() == "application/zip":
            return zipfile.ZipFile(io.BytesIO(part.get_content()))
    raise AssertionError("reply has no ZIP attachment")


def _subject_memberships(mailman: Mailman, *emails: str) -> list[str]:
    return sorted(m["list_id"] for e in emails for m in mailman.members(e))


def test_access_lists_addresses_user_and_memberships(running: Running) -> None:
    """The reply's bundle holds the subject's two addresses, the user and all three
    memberships (the second address's found through the user), and nothing of the bystander."""
    running.runtime(running.mailman.base_url)
    rid = running.submit("access", A_EMAIL)
    running.wait(rid, "completed")
    (reply,) = running.replies(rid)
    bundle = _bundle(reply)
    members = json.loads(bundle.read("mailing_lists/memberships.json"))
    addresses = json.loads(bundle.read("mailing_lists/addresses.json"))
    users = json.loads(bundle.read("mailing_lists/users.json"))
    assert sorted(m["list_id"] for m in members) == sorted(LISTS)
    assert {a["email"] for a in addresses} == {A_EMAIL, A_WORK}
    assert len(users) == 1 and users[0]["display_name"] == "Nguyễn Văn A"
    assert B_EMAIL not in json.dumps([members, addresses, users])
    assert "http_etag" not in members[0]  # the configured fields only


def test_rectify_moves_every_membership_to_the_new_address(running: Running) -> None:
    """A rectified e-mail: every membership (both old addresses') now uses the new address,
    the membership ids unchanged; the bystander's untouched."""
    mailman = running.mailman
    before = {m["member_id"] for e in (A_EMAIL, A_WORK) for m in mailman.members(e)}
    bystander = mailman.members(B_EMAIL)
    running.runtime(mailman.base_url)
    rid = running.submit("rectify", A_EMAIL, changes={"email": NEW_EMAIL})
    running.wait(rid, "completed")
    assert len(running.replies(rid)) == 1
    moved = mailman.members(NEW_EMAIL)
    assert sorted(m["list_id"] for m in moved) == sorted(LISTS)
    assert {m["member_id"] for m in moved} == before
    assert _subject_memberships(mailman, A_EMAIL, A_WORK) == []
    assert mailman.members(B_EMAIL) == bystander


def test_erase_removes_memberships_addresses_user_and_bans_the_address(
    running: Running,
) -> None:
    """Erase: no membership, address or user of the subject's is left; each list they were on
    bans the address, the site bans both addresses; the bystander keeps theirs; the ledger
    says the search after the erasure found nothing remaining."""
    mailman = running.mailman
    user = mailman.get(f"users/{A_EMAIL}").json()["user_id"]
    running.runtime(mailman.base_url)
    rid = running.submit("erase", A_EMAIL)
    running.wait(rid, "completed")
    assert len(running.replies(rid)) == 1
    assert _subject_memberships(mailman, A_EMAIL, A_WORK, NEW_EMAIL) == []
    assert mailman.get(f"addresses/{A_EMAIL}").status_code == 404
    assert mailman.get(f"addresses/{A_WORK}").status_code == 404
    assert mailman.get(f"users/{user}").status_code == 404
    assert A_EMAIL in mailman.banned("news.example.com")
    assert A_EMAIL in mailman.banned("offers.example.com")
    assert A_WORK in mailman.banned("events.example.com")
    assert {b["email"] for b in mailman.entries("bans")} == {A_EMAIL, A_WORK}
    assert [m["list_id"] for m in mailman.members(B_EMAIL)] == ["news.example.com"]
    result = running.task(rid).result
    assert result is not None and result["remaining"] == []
    done = {o["table"]: (o["action"], o["count"]) for o in result["outcomes"]}
    assert done == {
        "memberships": ("erased", 3),
        "addresses": ("erased", 2),
        "users": ("erased", 1),
        "list_bans": ("retained", 3),
        "site_bans": ("retained", 2),
    }


@pytest.mark.parametrize("fault", [KILL_ON_DELETE, FAIL_500, SLOW])
def test_a_failing_mailman_needs_attention_then_completes(running: Running, fault: str) -> None:
    """Mailman killed mid-request (after deleting, before answering), answering 500, or slower
    than the timeout: retried, then needs_attention with an ops alert naming no address and
    no reply to the subject; once Mailman is back, ops retry and the erasure completes with
    exactly one reply and nothing of the subject's left."""
    mailman = running.mailman
    with proxied(mailman) as proxy:
        proxy.mode = fault
        running.runtime(proxy.base_url)
        rid = running.submit("erase", A_EMAIL)
        running.wait(rid, "needs_attention")
        alert = until(running.alerts, timeout=60)
        assert rid[:8] in alert[0]["Subject"] and A_EMAIL not in alert[0].as_string()
        assert running.replies(rid) == []
        task = running.task(rid)
        assert task.status == "failed" and task.error and A_EMAIL not in task.error
        if fault == KILL_ON_DELETE:
            assert proxy.faults[0] == "killed" and "unreachable" in proxy.faults
        else:  # each request retried once, each of the task's 3 attempts
            assert len(proxy.faults) >= 6
        _back(proxy, mailman)
        running.retry(rid)
        running.wait(rid, "completed")
    assert len(running.replies(rid)) == 1
    assert _subject_memberships(mailman, A_EMAIL, A_WORK) == []
    assert mailman.get(f"addresses/{A_EMAIL}").status_code == 404
    assert [m["list_id"] for m in mailman.members(B_EMAIL)] == ["news.example.com"]


def _back(proxy: Proxy, mailman: Mailman) -> None:
    """Ops bring Mailman back: started again if it died, the proxy passing requests through."""
    if mailman.process is None:
        mailman.start()
    proxy.mode = NORMAL
