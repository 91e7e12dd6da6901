"""Least privilege: a request belongs to the API key that filed it; support sees and acts on its
own requests, ops on all; a display name never decides (issue 11)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from dsr.core.ledger import apikeys, paths
from dsr.core.ledger.db import session_scope
from dsr.core.runtime.process import Runtime
from dsr.service import Caller, Service
from tests.api.conftest import Keys, csrf_of, login, verification_code

ACCESS = {"kind": "access", "email": "an.nguyen@example.vn"}


def _file(client: TestClient, key: str, **extra: object) -> str:
    response = client.post("/requests", json={**ACCESS, **extra}, headers=Keys.header(key))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _bundle(rt: Runtime, request_id: str) -> None:
    bundle = paths.bundle(rt.settings.resolved_export_dir, request_id)
    bundle.parent.mkdir(parents=True, exist_ok=True)
    bundle.write_bytes(b"PK\x05\x06" + b"\x00" * 18)


def test_support_cannot_read_or_act_on_another_keys_request(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """Bob (support) gets 404 for Alice's request: status, verify and export, and it is not in
    his list; ops see it."""
    request_id = _file(client, keys.alice)
    _bundle(rt, request_id)
    bob = Keys.header(keys.bob)
    assert client.get(f"/requests/{request_id}", headers=bob).status_code == 404
    code = verification_code(rt, request_id)
    verify = client.post(f"/requests/{request_id}/verify", json={"code": code}, headers=bob)
    assert verify.status_code == 404
    assert client.get(f"/requests/{request_id}/export", headers=bob).status_code == 404
    assert request_id not in [r["id"] for r in client.get("/requests", headers=bob).json()]
    ops = Keys.header(keys.ops)
    assert client.get(f"/requests/{request_id}", headers=ops).status_code == 200
    assert request_id in [r["id"] for r in client.get("/requests", headers=ops).json()]
    assert client.get(f"/requests/{request_id}/export", headers=ops).status_code == 200


def test_support_reads_verifies_and_downloads_its_own(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """Alice sees her request (without server file paths), verifies its code, downloads it."""
    request_id = _file(client, keys.alice)
    alice = Keys.header(keys.alice)
    assert [r["id"] for r in client.get("/requests", headers=alice).json()] == [request_id]
    code = verification_code(rt, request_id)
    verified = client.post(f"/requests/{request_id}/verify", json={"code": code}, headers=alice)
    assert verified.status_code == 200 and verified.json()["status"] == "verified"
    _bundle(rt, request_id)
    assert client.get(f"/requests/{request_id}/export", headers=alice).status_code == 200


def test_a_new_key_with_the_same_name_inherits_nothing(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """A second key named "alice" cannot read or download what the first "alice" key filed."""
    request_id = _file(client, keys.alice, verified=True)
    _bundle(rt, request_id)
    with session_scope(rt.db_url) as session:
        _, namesake = apikeys.create(session, name="alice", role="support")
    other = Keys.header(namesake)
    assert client.get(f"/requests/{request_id}", headers=other).status_code == 404
    assert client.get(f"/requests/{request_id}/export", headers=other).status_code == 404
    assert client.get("/requests", headers=other).json() == []


def test_the_web_page_shows_support_only_its_own_requests(
    app: object, client: TestClient, keys: Keys
) -> None:
    """On the staff page Bob's list leaves out Alice's request and its page is 404."""
    request_id = _file(client, keys.alice)
    login(client, keys.bob)
    page = client.get("/web/requests")
    assert request_id not in page.text
    assert client.get(f"/web/requests/{request_id}").status_code == 404
    form = client.get("/web/requests/new")
    response = client.post(
        f"/web/requests/{request_id}/verify",
        data={"csrf": csrf_of(form.text), "code": "123456"},
    )
    assert response.status_code == 404


def test_requests_filed_at_the_command_line_are_for_ops(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """A request without an owner (CLI, or filed before owners existed) is visible to ops only."""
    svc = Service(rt, lambda steps: None)
    from dsr.core.intake.filing import Submission

    request_id = svc.submit(Submission("access", "x@example.vn"), by=Caller.staff("lan")).id
    assert client.get(f"/requests/{request_id}", headers=Keys.header(keys.alice)).status_code == 404
    assert client.get(f"/requests/{request_id}", headers=Keys.header(keys.ops)).status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)


def test_complaints_are_one_queue_for_support(client: TestClient, keys: Keys) -> None:
    """A complaint Alice filed is in Bob's queue and Bob may answer it (docs/DESIGN.md:
    complaints go to one staff queue), while her access request stays hers."""
    filed = client.post(
        "/requests",
        json={
            "kind": "complaint",
            "email": "an.nguyen@example.vn",
            "text": "Tôi bị gọi quá nhiều.",
        },
        headers=Keys.header(keys.alice),
    )
    assert filed.status_code == 201, filed.text
    access = _file(client, keys.alice)
    bob = Keys.header(keys.bob)
    listed = [r["id"] for r in client.get("/requests", headers=bob).json()]
    assert filed.json()["id"] in listed and access not in listed
    url = f"/requests/{filed.json()['id']}/answer"
    assert client.post(url, json={"template": "no_misuse"}, headers=bob).status_code == 200


def test_an_identical_request_joins_only_its_own_keys(client: TestClient, keys: Keys) -> None:
    """Filing the same request twice joins the first; another key filing it gets its own
    request, never a view of the first key's."""
    first = client.post("/requests", json=ACCESS, headers=Keys.header(keys.alice)).json()
    again = client.post("/requests", json=ACCESS, headers=Keys.header(keys.alice)).json()
    assert again.get("duplicate_of") == first["id"]
    other = client.post("/requests", json=ACCESS, headers=Keys.header(keys.bob)).json()
    assert other["duplicate_of"] is None and other["id"] != first["id"]
