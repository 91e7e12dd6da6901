"""Identity assurance through the API and the staff page: masked identifiers, candidates,
``POST /requests/{id}/review``, the review form, and 410 Gone for exports an erasure removed.

The app runs each request's steps inline (no broker), on seeded demo stores where a second
account shares the demo subject's phone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api import create_app
from demo.seed import DEMO_SUBJECT, seed
from dsr.core.runtime.process import Runtime
from tests.api.conftest import Keys, csrf_of, login
from tests.family import add_family_account
from tests.inline import inline

H = Keys.header
EMAIL, PHONE = DEMO_SUBJECT["email"], DEMO_SUBJECT["phone"]


@pytest.fixture
def shared(rt: Runtime) -> Iterator[TestClient]:
    """Seeded stores plus a second account on the demo subject's phone; steps run inline."""
    seed(rt.settings.resolved_data_dir, 20, secret_key=rt.settings.keys.suppression, reset=True)
    add_family_account(rt.settings.resolved_data_dir)
    with TestClient(create_app(rt, enqueue=inline(rt))) as client:
        yield client


def _file(client: TestClient, keys: Keys, kind: str = "erase") -> dict:
    response = client.post(
        "/requests",
        headers=H(keys.alice),
        json={"kind": kind, "email": EMAIL, "phone": PHONE, "verified": True},
    )
    assert response.status_code == 201, response.text
    return client.get(f"/requests/{response.json()['id']}", headers=H(keys.ops)).json()


def test_request_shows_masked_identifiers_and_candidates(shared: TestClient, keys: Keys) -> None:
    """A request sharing a phone with another account waits in needs_review; its identifiers are
    listed with provenance and masked values, its candidates with the reason."""
    data = _file(shared, keys)
    assert data["status"] == "needs_review"
    idents = {(i["kind"], i["provenance"], i["value"]) for i in data["identifiers"]}
    assert ("email", "verified", "ng***@example.com") in idents
    assert ("phone", "verified", "+84 9** *** 678") in idents
    assert ("customer_id", "derived", "KH****01") in idents
    assert EMAIL not in str(data["identifiers"]) and "912345678" not in str(data["identifiers"])
    crm = [c for c in data["candidates"] if c["store"] == "crm"]
    assert len(crm) == 1 and crm[0]["reason"] == "other_account" and crm[0]["decision"] is None
    assert crm[0]["matched"] == [{"kind": "phone", "value": "+84 9** *** 678"}]


def test_review_needs_ops_a_known_ref_and_the_right_status(shared: TestClient, keys: Keys) -> None:
    """Support may not decide (403); an unknown ref is 422 and changes nothing; ops decide, the
    audit names them; a second decision on a finished request is 409."""
    data = _file(shared, keys)
    url = f"/requests/{data['id']}/review"
    assert shared.post(url, headers=H(keys.alice), json={"exclude_all": True}).status_code == 403
    bad = shared.post(url, headers=H(keys.ops), json={"include": ["crm:customers:nope"]})
    assert bad.status_code == 422
    left = shared.post(url, headers=H(keys.ops), json={"include": []})
    assert left.status_code == 422 and "undecided" in left.json()["detail"]
    assert shared.get(f"/requests/{data['id']}", headers=H(keys.ops)).json()["status"] == (
        "needs_review"
    )
    done = shared.post(url, headers=H(keys.ops), json={"exclude_all": True})
    assert done.status_code == 200, done.text
    assert done.json()["status"] in ("replying", "completed")
    detail = shared.get(f"/requests/{data['id']}", headers=H(keys.ops)).json()
    assert all(c["decision"] == "excluded" for c in detail["candidates"])
    reviewed = [e for e in detail["audit"] if e["action"] == "reviewed"]
    assert reviewed and reviewed[0]["actor"] == "api:olga"
    assert shared.post(url, headers=H(keys.ops), json={"exclude_all": True}).status_code == 409


def test_review_form_on_the_staff_page(shared: TestClient, keys: Keys) -> None:
    """Ops tick the records that are the subject's; the rest are excluded and the request
    continues with the ticked ones (the family account's row is then erased too)."""
    data = _file(shared, keys)
    login(shared, keys.ops)
    page = shared.get(f"/web/requests/{data['id']}")
    assert 'id="review"' in page.text and 'data-provenance="verified"' in page.text
    crm = next(c for c in data["candidates"] if c["store"] == "crm")
    response = shared.post(
        f"/web/requests/{data['id']}/review",
        data={"csrf": csrf_of(page.text), "include": [crm["ref"]]},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    detail = shared.get(f"/requests/{data['id']}", headers=H(keys.ops)).json()
    decisions = {c["ref"]: c["decision"] for c in detail["candidates"]}
    assert decisions[crm["ref"]] == "included"


def test_review_form_is_ops_only(shared: TestClient, keys: Keys) -> None:
    """Support staff see the candidates but no form, and a forged post is refused."""
    data = _file(shared, keys)
    login(shared, keys.alice)
    page = shared.get(f"/web/requests/{data['id']}")
    assert 'id="candidates"' in page.text and 'id="review"' not in page.text
    response = shared.post(
        f"/web/requests/{data['id']}/review",
        data={"csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_exports_an_erasure_removed_answer_410(shared: TestClient, keys: Keys, rt: Runtime) -> None:
    """After the subject's erasure, staff download and the page answer 410 Gone for the earlier
    export instead of serving erased data."""
    from dsr.core.replies.links import make_download_token

    first = shared.post(
        "/requests",
        headers=H(keys.alice),
        json={"kind": "access", "email": EMAIL, "verified": True},
    ).json()
    # The shared phone puts the other account's row up for review: staff exclude it.
    access = shared.post(
        f"/requests/{first['id']}/review", headers=H(keys.ops), json={"exclude_all": True}
    ).json()
    assert access["status"] in ("replying", "completed")
    from dsr.core.ledger.db import session_scope
    from dsr.core.ledger.models import Request, RequestStatus

    with session_scope(rt.db_url) as session:  # delivery is not part of this test: mark it done
        row = session.get(Request, first["id"])
        assert row is not None
        row.status = RequestStatus.COMPLETED
    assert shared.get(f"/requests/{first['id']}/export", headers=H(keys.ops)).status_code == 200
    erase = shared.post(
        "/requests", headers=H(keys.alice), json={"kind": "erase", "email": EMAIL, "verified": True}
    ).json()
    decided = shared.post(
        f"/requests/{erase['id']}/review", headers=H(keys.ops), json={"exclude_all": True}
    )
    assert decided.json()["status"] in ("replying", "completed")
    gone = shared.get(f"/requests/{first['id']}/export", headers=H(keys.ops))
    assert gone.status_code == 410
    link = shared.get(f"/exports/{make_download_token(first['id'], rt.settings)}")
    assert link.status_code == 410
    login(shared, keys.ops)
    assert shared.get(f"/web/requests/{first['id']}/export").status_code == 410


def test_review_page_shows_what_ops_need_to_decide_in_the_pages_language(
    shared: TestClient, keys: Keys
) -> None:
    """Ops see each undecided record's masked name, the identifier that hit it, its others and
    the account's creation date, with the reason, in vi and in en; support see only that the
    request waits for ops, with no detail of the records."""
    data = _file(shared, keys)
    login(shared, keys.ops)
    vi = shared.get(f"/web/requests/{data['id']}?lang=vi").text
    row = vi.split('data-ref="crm:customers:')[1].split("</tr>")[0]
    for seen in ("N***** T** M**", "m***@example.com", "KH****99", "+84 9** *** 678",
                 "Ngày tạo", "01/01/2024", "Cập nhật lần cuối",
                 "thuộc một tài khoản khác"):  # fmt: skip
        assert seen in row, seen
    en = shared.get(f"/web/requests/{data['id']}?lang=en").text
    row = en.split('data-ref="crm:customers:')[1].split("</tr>")[0]
    for seen in ("N***** T** M**", "Created", "1 January 2024", "belongs to another"):
        assert seen in row, seen
    assert "Nguyễn Thị Mai" not in vi + en and "mai@example.com" not in vi + en
    login(shared, keys.alice)
    for lang in ("vi", "en"):
        page = shared.get(f"/web/requests/{data['id']}?lang={lang}").text
        assert 'id="waiting-ops"' in page and 'class="record"' not in page
        assert "N***** T** M**" not in page and 'id="review"' not in page


def test_candidate_details_through_the_api_are_for_ops(shared: TestClient, keys: Keys) -> None:
    """``GET /requests/{id}/candidates``: ops get each undecided record masked, with its dates;
    support are refused (403)."""
    data = _file(shared, keys)
    url = f"/requests/{data['id']}/candidates"
    assert shared.get(url, headers=H(keys.alice)).status_code == 403
    found = shared.get(url, headers=H(keys.ops))
    assert found.status_code == 200, found.text
    crm = next(c for c in found.json() if c["ref"].startswith("crm:"))
    assert crm["detail"] == "shown" and crm["name"] == "N***** T** M**"
    assert crm["created_at"] == "2024-01-01T00:00:00Z"
    assert "Nguyễn Thị Mai" not in found.text
