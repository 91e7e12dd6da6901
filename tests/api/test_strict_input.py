"""Strict input through the API and the web form: the same refusals as the CLI (issue 11)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from dsr.core.ledger.db import get_engine
from dsr.core.ledger.models import AuditEvent, Request
from dsr.core.runtime.process import Runtime
from tests.api.conftest import Keys, csrf_of, login

BASE = '"email": "an.nguyen@example.vn"'


def _written(rt: Runtime) -> tuple[int, int]:
    with Session(get_engine(rt.db_url)) as session:
        return (
            session.exec(select(func.count()).select_from(Request)).one(),
            session.exec(select(func.count()).select_from(AuditEvent)).one(),
        )


@pytest.mark.parametrize(
    "body",
    [
        f'{{"kind": "access", {BASE}, "verified": "yes"}}',
        f'{{"kind": "access", {BASE}, "verified": 1}}',
        f'{{"kind": "erase", "kind": "access", {BASE}}}',
        f'{{"kind": "access", {BASE}, "email": "other@example.vn"}}',
        f'{{"kind": "rectify", {BASE}, "changes": {{"address": "a", "address": "b"}}}}',
        f'{{"kind": "access", {BASE}, "phone": "0912-ABC-678"}}',
        f'{{"kind": "access", {BASE}, "name": "\\u200b\\u200d\\ufeff"}}',
        f'{{"kind": "access", {BASE}, "name": "An \\u202eNguyen"}}',
        f'{{"kind": "rectify", {BASE}, "changes": {{"address": "\\u2066\\u2069"}}}}',
        f'{{"kind": "rectify", {BASE}, "changes": {{"address": "1 Le Loi\\r\\nHue"}}}}',
        f'{{"kind": "access", {BASE}, "phone": 912345678}}',
    ],
)
def test_loose_input_is_422_and_writes_nothing(
    client: TestClient, rt: Runtime, keys: Keys, body: str
) -> None:
    """String booleans, repeated names, phones with letters, invisible or bidi-override text
    and line breaks are each one 422, and nothing is written."""
    before = _written(rt)
    response = client.post(
        "/requests",
        content=body.encode(),
        headers={**Keys.header(keys.ops), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], str)
    assert _written(rt) == before


def test_the_code_is_a_string(client: TestClient, keys: Keys) -> None:
    """A one-time code sent as a number is refused, not converted."""
    filed = client.post(
        "/requests", json={"kind": "access", "email": "a@example.vn"}, headers=Keys.header(keys.ops)
    ).json()
    response = client.post(
        f"/requests/{filed['id']}/verify", json={"code": 123456}, headers=Keys.header(keys.ops)
    )
    assert response.status_code == 422


def test_the_web_form_refuses_what_the_api_refuses(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """The staff form refuses a change set twice, letters in a phone and a forged checkbox."""
    login(client, keys.alice)
    before = _written(rt)
    for form in (
        {"kind": "rectify", "changes": "address=1 Le Loi\naddress=2 Tran Phu"},
        {"kind": "access", "phone": "0912-ABC-678"},
        {"kind": "access", "verified": "false"},
        {"kind": "access", "name": "\u200b\u200b"},
    ):
        page = client.get("/web/requests/new")
        response = client.post(
            "/web/requests",
            data={"csrf": csrf_of(page.text), "email": "an.nguyen@example.vn", **form},
            follow_redirects=False,
        )
        assert response.status_code == 422, form
    assert _written(rt) == before
