"""API keys: stored hashed, presented as X-API-Key or Bearer, 401 / 403 that leak nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from dsr.core.ledger.db import get_engine
from dsr.core.ledger.models import ApiKey, AuditEvent
from dsr.core.runtime.process import Runtime
from tests.api.conftest import Keys

ROOT = Path(__file__).resolve().parents[2]
ENDPOINTS = [
    ("get", "/requests"),
    ("post", "/requests"),
    ("get", f"/requests/{'a' * 32}"),
    ("post", f"/requests/{'a' * 32}/verify"),
    ("post", f"/requests/{'a' * 32}/retry"),
    ("get", f"/requests/{'a' * 32}/export"),
    ("get", "/metrics"),
]


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_missing_wrong_or_revoked_key_is_401_with_the_same_body(
    client: TestClient, keys: Keys, method: str, path: str
) -> None:
    """Every protected endpoint answers 401 alike for no key, a wrong key and a revoked key."""
    bodies = set()
    for headers in (
        {},
        {"X-API-Key": "dsr_wrong"},
        {"Authorization": "Bearer dsr_wrong"},
        {"X-API-Key": keys.revoked},
        {"X-API-Key": "x" * 5000},
        {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
    ):
        response = client.request(method, path, headers=headers, json={"kind": "access"})
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        bodies.add(response.text)
    assert bodies == {'{"detail":"authentication required"}'}


def test_bearer_token_is_accepted(client: TestClient, keys: Keys) -> None:
    """The same key works as ``Authorization: Bearer``."""
    response = client.get("/requests", headers={"Authorization": f"Bearer {keys.alice}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "method, path", [("post", f"/requests/{'a' * 32}/retry"), ("get", "/metrics")]
)
def test_support_key_gets_403_on_ops_endpoints(
    client: TestClient, keys: Keys, method: str, path: str
) -> None:
    """A support key is refused ops work with a fixed body that says nothing about the target."""
    response = client.request(method, path, headers=Keys.header(keys.alice))
    assert response.status_code == 403
    assert response.json() == {"detail": "not allowed for this API key"}


def test_keys_are_stored_only_as_digests(rt: Runtime, keys: Keys) -> None:
    """Neither the key rows nor the audit log contain any key."""
    with Session(get_engine(rt.db_url)) as session:
        rows = session.exec(select(ApiKey)).all()
        events = session.exec(select(AuditEvent)).all()
    stored = json.dumps(
        [r.model_dump(mode="json") for r in rows] + [e.model_dump(mode="json") for e in events]
    )
    assert len(rows) == 4 and all(len(r.key_hash) == 64 for r in rows)
    for key in (keys.alice, keys.bob, keys.ops, keys.revoked):
        assert key not in stored and key[4:] not in stored
    assert {e.action for e in events} == {"apikey_created", "apikey_revoked"}


def _dsr(*args: str, db_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DSR_DATABASE_URL": db_url, "DSR_VAR_DIR": str(tmp_path / "cli-var")}
    return subprocess.run(
        [sys.executable, "-m", "dsr", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_creates_a_key_that_the_api_accepts(
    client: TestClient, rt: Runtime, tmp_path: Path
) -> None:
    """``dsr apikey create --role ops --name N --json`` prints a working key once."""
    done = _dsr(
        "apikey",
        "create",
        "--role",
        "ops",
        "--name",
        "ci bot",
        "--json",
        db_url=rt.db_url,
        tmp_path=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["role"], data["name"]) == ("ops", "ci bot") and data["key"].startswith("dsr_")
    assert client.get("/metrics", headers={"X-API-Key": data["key"]}).status_code == 200
    listed = _dsr("apikey", "list", "--json", db_url=rt.db_url, tmp_path=tmp_path)
    assert data["key"] not in listed.stdout and "ci bot" in listed.stdout
    revoked = _dsr("apikey", "revoke", data["id"], db_url=rt.db_url, tmp_path=tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    assert client.get("/metrics", headers={"X-API-Key": data["key"]}).status_code == 401


def test_cli_refuses_an_unknown_role(rt: Runtime, tmp_path: Path) -> None:
    """An unknown role is one line on stderr and exit status 2."""
    done = _dsr(
        "apikey", "create", "--role", "admin", "--name", "x", db_url=rt.db_url, tmp_path=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "error: unknown role 'admin' (support, ops)"
