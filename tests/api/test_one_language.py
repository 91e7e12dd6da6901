"""One language per page: every staff and privacy-center page rendered in Vietnamese holds no
English-only word, and its dates are in the page's format (no ISO times with microseconds).

A request in needs_review with candidates, identifiers, tasks and an audit trail is shown, so
the reasons, store and table names, audit actions and actors are all on the page.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col

from dsr.core.ledger.db import session_scope
from dsr.core.ledger.models import Request, RequestCandidate, RequestStatus, utcnow
from dsr.core.runtime.process import Runtime
from tests.api.conftest import Keys, csrf_of, login
from tests.one_language import ISO_TIME, english_on, visible


def _review_request(app: FastAPI, rt: Runtime, keys: Keys) -> str:
    with TestClient(app) as client:
        done = client.post(
            "/requests",
            json={"kind": "erase", "email": "binh@example.vn", "phone": "0912345678"},
            headers=Keys.header(keys.ops),
        )
        request_id = str(done.json()["id"])
    with session_scope(rt.db_url) as session:
        session.execute(
            update(Request)
            .where(col(Request.id) == request_id)
            .values(status=RequestStatus.NEEDS_REVIEW)
        )
        for n, reason in enumerate(("unproven", "other_account", "shared_identifier")):
            session.add(
                RequestCandidate(
                    request_id=request_id,
                    connector=("crm", "orders", "recordings")[n],
                    table_name=("customers", "orders", "cdr")[n],
                    record_key=str(30 + n),
                    reason=reason,
                    matched=[{"kind": "phone", "hash": "0" * 64, "masked": "+84 9** *** 678"}],
                    created_at=utcnow(),
                )
            )
    return request_id


def test_every_page_in_vietnamese_has_no_english_word_and_local_dates(
    app: FastAPI, rt: Runtime, keys: Keys
) -> None:
    """Staff pages (as ops and as support, a complaint and the refusal of an answer that needs
    a note among them) and privacy-center pages, in vi: no English-only token and no ISO time;
    the same pages render in English too."""
    request_id = _review_request(app, rt, keys)
    staff_pages = [
        "/web/requests",
        "/web/requests/new",
        f"/web/search?q={request_id[:8]}",
        "/web/search?q=a@b",
        f"/web/requests/{request_id}",
        "/web/requests/" + "0" * 32,
        "/web/nothing",
    ]
    problems: dict[str, list[str]] = {}
    for key, pages in ((keys.ops, [*staff_pages, "/web/dashboard"]), (keys.alice, staff_pages)):
        with TestClient(app) as client:
            login(client, key)
            for lang in ("vi", "en"):
                for path in pages:
                    sep = "&" if "?" in path else "?"
                    page = client.get(f"{path}{sep}lang={lang}")
                    assert f'<html lang="{lang}">' in page.text, (path, page.status_code)
                    if lang == "vi":
                        found = english_on(page.text) + ISO_TIME.findall(visible(page.text))
                        if found:
                            problems[f"{key[:8]} {path}"] = found
    with TestClient(app) as visitor:
        for path in ("/privacy", "/privacy/access", "/privacy/complaint", "/privacy/nothing/x"):
            page = visitor.get(f"{path}?lang=vi")
            found = english_on(page.text)
            if found:
                problems[path] = found
    with TestClient(app) as client:  # a complaint, and the refusal of an answer without its note
        filed = client.post(
            "/requests",
            json={"kind": "complaint", "email": "binh@example.vn", "text": "Tôi bị gọi quảng cáo."},
            headers=Keys.header(keys.ops),
        )
        complaint = f"/web/requests/{filed.json()['id']}"
        login(client, keys.ops)
        page = client.get(f"{complaint}?lang=vi")
        refused = client.post(
            f"{complaint}/answer",
            data={"csrf": csrf_of(page.text), "template": "secure_account", "note": ""},
        )
        assert refused.status_code == 422 and 'id="page-error"' in refused.text
        for name, shown in (("complaint", page.text), ("note required", refused.text)):
            found = english_on(shown) + ISO_TIME.findall(visible(shown))
            if found:
                problems[name] = found
    assert problems == {}
