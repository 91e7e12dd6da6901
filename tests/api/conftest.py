"""The API on a real PostgreSQL ledger, the machine's Redis broker and an aiosmtpd server."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from demo.smtp_sink import MailSink
from dsr.core.ledger import apikeys
from dsr.core.ledger.db import get_engine, migrate, session_scope
from dsr.core.runtime.process import Runtime
from tests import services
from tests.e2e.conftest import make_settings

# Starlette asks for its httpx fork in TestClient; plain httpx still works and is what we pin.
warnings.filterwarnings("ignore", message=".*install `httpx2`")
from fastapi.testclient import TestClient  # noqa: E402

from api import create_app  # noqa: E402


@dataclass(frozen=True)
class Keys:
    """Three live keys: two support staff and one ops; plus a revoked support key."""

    alice: str
    bob: str
    ops: str
    revoked: str

    @staticmethod
    def header(key: str) -> dict[str, str]:
        return {"X-API-Key": key}


@pytest.fixture(autouse=True)
def _forget_worker_runtime() -> Iterator[None]:
    """create_app() makes its Runtime the process's one for inline fan-in; undo that after."""
    yield
    from workers import runtime

    runtime.set_runtime(None)


@pytest.fixture
def rt(tmp_path: Path, postgres_url: str, smtp: MailSink) -> Iterator[Runtime]:
    """A Runtime on a fresh PostgreSQL schema, migrated."""
    services.redis_url_or_skip()  # filing a request enqueues on the machine's Redis
    runtime = Runtime(make_settings(tmp_path, postgres_url, smtp.port))
    migrate(runtime.db_url)
    yield runtime
    runtime.close()
    get_engine(runtime.db_url).dispose()


@pytest.fixture
def keys(rt: Runtime) -> Keys:
    with session_scope(rt.db_url) as session:
        _, alice = apikeys.create(session, name="alice", role="support")
        _, bob = apikeys.create(session, name="bob", role="support")
        _, ops = apikeys.create(session, name="olga", role="ops")
        row, revoked = apikeys.create(session, name="mallory", role="ops")
        apikeys.revoke(session, row.id)
    return Keys(alice, bob, ops, revoked)


@pytest.fixture
def app(rt: Runtime) -> Iterator[FastAPI]:
    """The app with its default enqueue (dramatiq on Redis); the queue is emptied afterwards.

    Failed-login counters are per client, and every test's client has the same address: each
    test starts with none.
    """
    from api.throttle import forget
    from workers.broker import broker

    broker.flush_all()
    forget(broker.client, rt.settings.broker_namespace)
    yield create_app(rt)
    broker.flush_all()
    forget(broker.client, rt.settings.broker_namespace)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def queued(actor: str | None = None) -> list[dict[str, Any]]:
    """Messages waiting on the pipeline's queue (what the API enqueued), oldest first."""
    from workers.broker import broker

    key = f"{broker.namespace}:dsr"
    ids = broker.client.lrange(key, 0, -1)
    raw = broker.client.hmget(f"{key}.msgs", ids) if ids else []
    messages = [json.loads(m) for m in raw if m]
    return [m for m in messages if actor is None or m["actor_name"] == actor]


def verification_code(rt: Runtime, request_id: str) -> str:
    """The one-time code from the verification e-mail the request wrote to its outbox."""
    path = rt.settings.resolved_export_dir / request_id / "outbox" / "verification-1.eml"
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    match = re.search(r"\b(\d{6})\b", body.get_content())
    assert match, "no code in the verification e-mail"
    return match.group(1)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def login(client: TestClient, key: str) -> None:
    """Log the test client in through the web form."""
    page = client.get("/web/login")
    response = client.post(
        "/web/login", data={"api_key": key, "csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
