"""The API and web page under attack: forged links, stolen cookies, huge bodies, key guessing,
framing and caching (issue 11)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from api import create_app
from demo.smtp_sink import MailSink
from dsr.core.ledger import paths
from dsr.core.ledger.db import get_engine
from dsr.core.ledger.models import ApiKey, Request, utcnow
from dsr.core.runtime.process import Runtime
from tests.api.conftest import Keys, csrf_of, login
from tests.e2e.conftest import make_settings

# The key every installation shared before issue 11: it was written in config/settings.py.
OLD_DEFAULT_SECRET = "dev-only-secret-change-me"
FILE = {"kind": "access", "email": "an.nguyen@example.vn", "verified": True}


def _file(client: TestClient, key: str) -> str:
    response = client.post("/requests", json=FILE, headers=Keys.header(key))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _requests(rt: Runtime) -> int:
    with Session(get_engine(rt.db_url)) as session:
        return session.exec(select(func.count()).select_from(Request)).one()


# -- secrets ------------------------------------------------------------------------------------


def test_a_link_signed_with_the_old_built_in_key_opens_nothing(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """A download token minted with the key that used to ship in the source gets 404."""
    request_id = _file(client, keys.alice)
    bundle = paths.bundle(rt.settings.resolved_export_dir, request_id)
    bundle.parent.mkdir(parents=True, exist_ok=True)
    bundle.write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an (empty) ZIP: the customer's export
    forged = URLSafeTimedSerializer(OLD_DEFAULT_SECRET, salt="export").dumps(request_id)
    assert client.get(f"/exports/{forged}").status_code == 404


# -- sessions -----------------------------------------------------------------------------------


def test_logout_ends_every_copy_of_the_session(
    app: FastAPI, client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """A session cookie copied before logout opens nothing and files nothing afterwards."""
    login(client, keys.alice)
    page = client.get("/web/requests/new")
    stolen = client.cookies["dsr_session"]
    client.post("/web/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    before = _requests(rt)
    with TestClient(app) as thief:
        thief.cookies.set("dsr_session", stolen)
        assert thief.get("/web/requests", follow_redirects=False).status_code == 303
        filed = thief.post(
            "/web/requests",
            data={"csrf": csrf_of(page.text), "kind": "access", "email": "x@example.vn"},
            follow_redirects=False,
        )
        assert filed.status_code in (303, 403)
    assert _requests(rt) == before


def test_an_expired_session_ends_at_once(client: TestClient, rt: Runtime, keys: Keys) -> None:
    """A session past its expiry is refused (and removed) on its next request."""
    from dsr.core.ledger.models import WebSession  # here: the other tests run without the table

    login(client, keys.alice)
    assert client.get("/web/requests", follow_redirects=False).status_code == 200
    with Session(get_engine(rt.db_url)) as session:
        session.execute(update(WebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert client.get("/web/requests", follow_redirects=False).status_code == 303
    with Session(get_engine(rt.db_url)) as session:
        assert session.exec(select(func.count()).select_from(WebSession)).one() == 0


def test_revoking_a_key_deletes_its_sessions(client: TestClient, rt: Runtime, keys: Keys) -> None:
    """Revoking a key removes its server-side sessions, not only their use."""
    from dsr.core.ledger import apikeys
    from dsr.core.ledger.db import session_scope
    from dsr.core.ledger.models import WebSession  # here: the other tests run without the table

    login(client, keys.bob)
    with session_scope(rt.db_url) as session:
        bob = session.exec(select(ApiKey).where(ApiKey.name == "bob")).one()
        assert session.exec(select(WebSession).where(WebSession.key_id == bob.id)).all()
        apikeys.revoke(session, bob.id)
    with Session(get_engine(rt.db_url)) as session:
        assert not session.exec(select(WebSession).where(col(WebSession.key_id) == bob.id)).all()
    assert client.get("/web/requests", follow_redirects=False).status_code == 303


def test_the_session_cookie_names_only_a_random_id(client: TestClient, keys: Keys) -> None:
    """The cookie holds no key id, role or CSRF token: they are in the ledger."""
    login(client, keys.alice)
    cookie = client.cookies["dsr_session"]
    page = client.get("/web/requests")
    assert csrf_of(page.text) not in cookie and "alice" not in cookie
    assert cookie.startswith("s.") and len(cookie) < 100


def test_forged_session_cookies_open_nothing(app: FastAPI, keys: Keys) -> None:
    """A made-up, tampered or re-signed-elsewhere session cookie is a login redirect, not an
    error and not a session."""
    with TestClient(app) as client:
        login(client, keys.alice)
        real = client.cookies["dsr_session"]
    other_key = URLSafeTimedSerializer(OLD_DEFAULT_SECRET, salt="web-anonymous")
    for forged in (
        "s." + real[2:-4] + "AAAA",
        "a." + str(other_key.dumps({"key_id": "x" * 32})),
        "s.not-a-session",
        "garbage",
    ):
        with TestClient(app) as client:
            client.cookies.set("dsr_session", forged)
            assert client.get("/web/requests", follow_redirects=False).status_code == 303


# -- limits -------------------------------------------------------------------------------------


def test_a_large_body_is_refused_before_authentication(client: TestClient) -> None:
    """An unauthenticated 1 MB body gets 413, not a 401 after reading and parsing it."""
    body = b'{"kind": "access", "email": "' + b"a" * 1_000_000 + b'"}'
    response = client.post("/requests", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"detail": "the request body is too large"}


def test_every_route_that_takes_a_body_documents_413(client: TestClient) -> None:
    """The cap applies to every body, so every operation with one says it may answer 413 (a
    client generated from the schema must expect it; schemathesis found review's missing)."""
    paths_ = client.get("/openapi.json").json()["paths"]
    with_body = {
        (method, path): op
        for path, item in paths_.items()
        for method, op in item.items()
        if "requestBody" in op
    }
    assert ("post", "/requests/{request_id}/review") in with_body
    assert [k for k, op in with_body.items() if "413" not in op["responses"]] == []


@contextmanager
def _served(app: FastAPI) -> Iterator[int]:
    """The app on a real uvicorn server on a free port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def _answer(port: int, head: bytes, *chunks: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        for chunk in chunks:
            sock.sendall(chunk)
        return sock.recv(65536)


def test_an_announced_300_mb_body_is_answered_without_reading_it(app: FastAPI) -> None:
    """A request announcing 300 MB gets 413 at once: the server does not wait for the body."""
    with _served(app) as port:
        answer = _answer(
            port,
            b"POST /requests HTTP/1.1\r\nHost: dsr\r\nContent-Type: application/json\r\n"
            b"Content-Length: 314572800\r\n\r\n",
            b'{"kind": "access", ',
        )
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_chunked_body_is_cut_off_at_the_limit(app: FastAPI) -> None:
    """A body without a length is refused as soon as it passes the limit."""
    chunk = b"4000\r\n" + b" " * 0x4000 + b"\r\n"  # 16 KB chunks; 80 KB in all, no last chunk
    with _served(app) as port:
        answer = _answer(
            port,
            b"POST /requests HTTP/1.1\r\nHost: dsr\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            *[chunk] * 5,
        )
    assert answer.startswith(b"HTTP/1.1 413")


def test_guessing_api_keys_is_throttled_per_client(app: FastAPI, keys: Keys) -> None:
    """After 20 wrong keys a client gets 429 with Retry-After, even for a right key; another
    client is not affected."""
    with TestClient(app, client=("203.0.113.7", 4000)) as attacker:
        for i in range(20):
            wrong = attacker.get("/requests", headers={"X-API-Key": f"dsr_guess{i:04d}"})
            assert wrong.status_code == 401
        blocked = attacker.get("/requests", headers={"X-API-Key": "dsr_guess9999"})
        assert blocked.status_code == 429
        assert 0 < int(blocked.headers["Retry-After"]) <= 300
        assert attacker.get("/requests", headers=Keys.header(keys.alice)).status_code == 429
        assert attacker.get("/healthz").status_code != 429  # trying no key is never blocked
        opened = attacker.get("/exports/not-a-token", headers=Keys.header(keys.alice))
        assert opened.status_code == 404  # a route that takes no key is not throttled
    with TestClient(app, client=("198.51.100.9", 4000)) as colleague:
        assert colleague.get("/requests", headers=Keys.header(keys.alice)).status_code == 200


def test_failed_logins_on_the_web_page_are_throttled(app: FastAPI, keys: Keys) -> None:
    """Twenty failed logins from one client: the next attempt gets 429, the right key too."""
    with TestClient(app, client=("203.0.113.8", 4000)) as attacker:
        token = csrf_of(attacker.get("/web/login").text)
        for i in range(20):
            failed = attacker.post("/web/login", data={"api_key": f"dsr_no{i}", "csrf": token})
            assert failed.status_code == 401
        right = attacker.post(
            "/web/login", data={"api_key": keys.alice, "csrf": token}, follow_redirects=False
        )
        assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0


# -- headers ------------------------------------------------------------------------------------


def _assert_private(headers: dict[str, str] | object) -> None:
    h = headers  # httpx headers: case-insensitive mapping
    assert "frame-ancestors 'none'" in h["content-security-policy"]  # type: ignore[index]
    assert h["x-frame-options"] == "DENY"  # type: ignore[index]
    assert h["x-content-type-options"] == "nosniff"  # type: ignore[index]
    assert h["referrer-policy"] == "no-referrer"  # type: ignore[index]
    assert h["cache-control"] == "no-store"  # type: ignore[index]


def test_pages_api_answers_and_downloads_are_not_framed_sniffed_or_cached(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """Every response carries CSP frame-ancestors, X-Frame-Options, nosniff, no-referrer and
    no-store: the login page, a request's JSON and an export download."""
    _assert_private(client.get("/web/login").headers)
    request_id = _file(client, keys.alice)
    _assert_private(client.get(f"/requests/{request_id}", headers=Keys.header(keys.ops)).headers)
    bundle = paths.bundle(rt.settings.resolved_export_dir, request_id)
    bundle.parent.mkdir(parents=True, exist_ok=True)
    bundle.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    download = client.get(f"/requests/{request_id}/export", headers=Keys.header(keys.ops))
    assert download.status_code == 200
    _assert_private(download.headers)
    login(client, keys.alice)
    page = client.get("/web/requests")
    _assert_private(page.headers)
    assert "script-src" not in page.headers["content-security-policy"]  # no script at all


@pytest.fixture
def production(tmp_path: Path, postgres_url: str, smtp: MailSink) -> Iterator[FastAPI]:
    """The app as configured for production (explicit keys)."""
    settings = make_settings(
        tmp_path, postgres_url, smtp.port, env="production",
        secret_key="production-master-secret-0123456789",
        suppression_key="production-suppression-key-0123456789",
    )  # fmt: skip
    rt = Runtime(settings)
    from dsr.core.ledger.db import migrate

    migrate(rt.db_url)
    yield create_app(rt)
    from workers import runtime

    runtime.set_runtime(None)
    rt.close()


def test_docs_need_a_key_in_production(production: FastAPI, tmp_path: Path) -> None:
    """In production /docs and /openapi.json answer 401 without a key and serve staff."""
    from dsr.core.ledger import apikeys
    from dsr.core.ledger.db import session_scope

    rt: Runtime = production.state.service.rt
    with session_scope(rt.db_url) as session:
        _, key = apikeys.create(session, name="olga", role="ops")
    with TestClient(production, base_url="https://testserver") as client:
        assert client.get("/docs").status_code == 401
        assert client.get("/openapi.json").status_code == 401
        assert client.get("/openapi.json", headers=Keys.header(key)).json()["paths"]
        assert "swagger" in client.get("/docs", headers=Keys.header(key)).text.lower()
        login(client, key)  # a staff browser fetches the schema with its session cookie
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/healthz").headers["strict-transport-security"].startswith("max-age")
