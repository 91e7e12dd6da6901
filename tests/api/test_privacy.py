"""The privacy center over HTTP: forms, code, status link, and what keeps it from being abused.

PostgreSQL ledger, the machine's Redis (throttle counters, the broker), seeded demo stores; no
worker runs, so the e-mails are read from each request's outbox folder (what will be sent).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func
from sqlmodel import Session, select

from demo.seed import DEMO_SUBJECT, seed
from demo.smtp_sink import MailSink
from dsr.core.ledger.db import get_engine, migrate
from dsr.core.ledger.models import Outbox, Request
from dsr.core.replies import status_links
from dsr.core.replies.links import make_download_token
from dsr.core.runtime.process import Runtime
from dsr.service import Caller, dump
from tests import services
from tests.api.conftest import csrf_of, verification_code
from tests.e2e.conftest import make_settings

CLIENT_LIMIT, ADDRESS_LIMIT = 6, 2
KNOWN = DEMO_SUBJECT["email"]  # nguyen.van.an@example.com: in every demo store
UNKNOWN = "nguyen.van.zz@example.com"  # masked alike (ng***@example.com); in none


@pytest.fixture
def rt(tmp_path: Path, postgres_url: str, smtp: MailSink) -> Iterator[Runtime]:
    """Seeded demo stores and a PostgreSQL ledger; small privacy-center limits."""
    services.redis_url_or_skip()
    settings = make_settings(
        tmp_path,
        postgres_url,
        smtp.port,
        privacy_client_limit=CLIENT_LIMIT,
        privacy_address_limit=ADDRESS_LIMIT,
        privacy_window_seconds=600,
    )
    seed(settings.resolved_data_dir, 20, secret_key=settings.keys.suppression, reset=True)
    runtime = Runtime(settings)
    migrate(runtime.db_url)
    yield runtime
    runtime.close()
    get_engine(runtime.db_url).dispose()


def _visitor(app: FastAPI, host: str = "testclient") -> TestClient:
    return TestClient(app, client=(host, 50000))


def _file(
    client: TestClient, kind: str = "access", email: str = KNOWN, **fields: str
) -> tuple[int, str]:
    """Open the form and send it; the status code and the Location (or the page)."""
    page = client.get(f"/privacy/{kind}")
    assert page.status_code == 200, page.text
    data = {"csrf": csrf_of(page.text), "email": email, "website": "", **fields}
    response = client.post(f"/privacy/{kind}", data=data, follow_redirects=False)
    return response.status_code, response.headers.get("location") or response.text


def _token(location: str) -> str:
    assert location.startswith(status_links.PATH), location
    return location.removeprefix(status_links.PATH)


def _count(rt: Runtime, model: type[Request] | type[Outbox]) -> int:
    with Session(get_engine(rt.db_url)) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def _request_id(rt: Runtime, token: str) -> str:
    return status_links.read_token(token, rt.settings)


# -- the forms and the flow ---------------------------------------------------------------------


def test_pages_are_vietnamese_by_default_and_english_on_request(app: FastAPI) -> None:
    """The start page offers the four choices in Vietnamese; ?lang=en switches; an unknown
    choice is a 404 page."""
    client = _visitor(app)
    home = client.get("/privacy")
    assert home.status_code == 200 and 'lang="vi"' in home.text
    assert "Trung tâm quyền riêng tư" in home.text
    for kind in ("access", "rectify", "erase", "complaint"):
        assert f'href="/privacy/{kind}"' in home.text
    english = client.get("/privacy/rectify?lang=en")
    assert "Correct my data" in english.text and 'name="new_address"' in english.text
    assert "Privacy center" in client.get("/privacy").text  # the choice sticks
    assert client.get("/privacy/delete-everything").status_code == 404


def test_an_access_request_waits_for_the_code_confirmed_on_its_page(
    app: FastAPI, rt: Runtime
) -> None:
    """Filing sends the visitor to the request's status page; the code from the e-mail,
    typed there, verifies the e-mail address only (the typed phone stays asserted)."""
    client = _visitor(app)
    status, location = _file(client, phone="0912 345 678")
    assert status == 303
    token = _token(location)
    page = client.get(location)
    assert page.status_code == 200 and 'data-phase="awaiting_code"' in page.text
    assert '<li class="current" data-step="code">' in page.text  # the progress bar
    assert "ng***@example.com" in page.text and KNOWN not in page.text
    request_id = _request_id(rt, token)
    code = verification_code(rt, request_id)
    wrong = client.post(
        f"{location}/code",
        data={"csrf": csrf_of(page.text), "code": "000000" if code != "000000" else "111111"},
    )
    assert wrong.status_code == 422 and 'id="error"' in wrong.text
    done = client.post(
        f"{location}/code", data={"csrf": csrf_of(page.text), "code": code}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == location
    after = client.get(location).text
    assert 'data-phase="in_progress"' in after
    assert '<li class="done" data-step="code">' in after
    assert '<li class="current" data-step="work">' in after
    staff = dump(app.state.service.status(request_id, by=Caller.staff("test")))
    assert staff["status"] == "verified"
    assert {(i["kind"], i["provenance"]) for i in staff["identifiers"]} == {
        ("email", "verified"),
        ("phone", "asserted"),
    }
    assert staff["audit"][0]["actor"] == "subject"


def test_a_complaint_goes_to_the_staff_queue_at_once(app: FastAPI, rt: Runtime) -> None:
    """A complaint needs no code (as at every door): its page says it is with the privacy team,
    and only its acknowledgement is written."""
    client = _visitor(app)
    status, location = _file(client, "complaint", text="Tôi vẫn nhận tin quảng cáo\nsau khi hủy.")
    assert status == 303
    assert 'data-phase="with_staff"' in client.get(location).text
    request_id = _request_id(rt, _token(location))
    assert _purposes(rt, request_id) == ["acknowledgement"]


def test_bad_input_reshows_the_form_and_writes_nothing(app: FastAPI, rt: Runtime) -> None:
    """A malformed address or phone, a correction without a value, an empty complaint: the form
    comes back (422) with the reason in the page's language; no request is filed."""
    client = _visitor(app)
    cases = [
        ("access", {"email": "not-an-address"}, "địa chỉ email không hợp lệ"),
        ("access", {"phone": "0912 ABC"}, "số điện thoại không hợp lệ"),
        ("rectify", {}, "hãy điền ít nhất một giá trị mới"),
        ("complaint", {"text": "   "}, "hãy nhập nội dung khiếu nại"),
    ]
    for kind, fields, reason in cases:
        email = fields.pop("email", KNOWN)
        status, page = _file(client, kind, email, **fields)
        assert status == 422 and reason in page, (kind, fields)
    assert _count(rt, Request) == 0


# -- no enumeration -----------------------------------------------------------------------------


def test_known_and_unknown_addresses_get_the_same_pages_and_e_mails(
    app: FastAPI, rt: Runtime
) -> None:
    """An address we hold data on and one we do not: the same redirect, the same status page and
    the same e-mails (acknowledgement and code), word for word but for ids, link and code."""
    pages, mails = [], []
    for email in (KNOWN, UNKNOWN):
        client = _visitor(app)
        status, location = _file(client, email=email)
        assert status == 303
        token = _token(location)
        request_id = _request_id(rt, token)
        page = client.get(location).text
        pages.append(_neutral(page, token, request_id))
        mails.append(
            {
                purpose: _neutral(text, token, request_id, email=email)
                for purpose, text in _outbox(rt, request_id).items()
            }
        )
    assert pages[0] == pages[1]
    assert sorted(mails[0]) == sorted(mails[1]) == ["acknowledgement.eml", "verification-1.eml"]
    assert mails[0] == mails[1]


def _neutral(text: str, token: str, request_id: str, *, email: str = "") -> str:
    """``text`` with what differs between any two requests replaced by placeholders."""
    text = text.replace(token, "TOKEN").replace(request_id, "ID").replace(request_id[:8], "SHORT")
    text = re.sub(r"/privacy/status/[\w.\-]+", "/privacy/status/TOKEN", text)
    text = re.sub(r"/privacy/not-me/[\w.\-]+", "/privacy/not-me/TOKEN", text)
    text = re.sub(r'name="csrf" value="[^"]+"', 'name="csrf"', text)
    text = re.sub(r"\b\d{6}\b", "CODE", text)
    return text.replace(email, "EMAIL") if email else text


def _outbox(rt: Runtime, request_id: str) -> dict[str, str]:
    """Each e-mail the request wrote: its subject, plain text and HTML, decoded."""
    folder = rt.settings.resolved_export_dir / request_id / "outbox"
    out = {}
    for path in sorted(folder.glob("*.eml")):
        message: Any = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        parts = [str(message["Subject"]), str(message["To"])]
        parts += [message.get_body((kind,)).get_content() for kind in ("plain", "html")]
        out[path.name] = "\n".join(parts)
    return out


def _purposes(rt: Runtime, request_id: str) -> list[str]:
    with Session(get_engine(rt.db_url)) as session:
        rows = session.exec(select(Outbox.purpose).where(Outbox.request_id == request_id)).all()
    return sorted(rows)


# -- abuse --------------------------------------------------------------------------------------


def test_filing_is_throttled_per_address(app: FastAPI, rt: Runtime) -> None:
    """Past the limit for one e-mail address (from any client), the next request for it gets
    429 with Retry-After and nothing is filed; another address is still taken."""
    for i, kind in enumerate(("access", "erase")):
        assert _file(_visitor(app, f"10.0.0.{i}"), kind, email=UNKNOWN)[0] == 303
    client = _visitor(app, "10.0.0.9")
    page = client.get("/privacy/access")
    refused = client.post(
        "/privacy/access",
        data={"csrf": csrf_of(page.text), "email": f"  {UNKNOWN.upper()} ", "website": ""},
    )
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Bạn đã gửi quá nhiều lần" in refused.text
    assert _count(rt, Request) == 2
    assert _file(client, email="someone.else@example.com")[0] == 303


def test_filing_and_codes_are_throttled_per_client(app: FastAPI, rt: Runtime) -> None:
    """One client's forms (requests filed, codes tried) past the limit get 429, whatever the
    address; another client is not affected."""
    client = _visitor(app, "10.0.1.1")
    locations = []
    for i in range(CLIENT_LIMIT):
        status, location = _file(client, email=f"khach.{i}@example.com")
        assert status == 303
        locations.append(location)
    status, page = _file(client, email="khach.last@example.com")
    assert status == 429 and "Bạn đã gửi quá nhiều lần" in page
    form = client.get(locations[0])
    code = client.post(f"{locations[0]}/code", data={"csrf": csrf_of(form.text), "code": "1"})
    assert code.status_code == 429
    assert _count(rt, Request) == CLIENT_LIMIT
    assert _file(_visitor(app, "10.0.1.2"), email="khach.last@example.com")[0] == 303


def test_a_filled_honeypot_files_nothing(app: FastAPI, rt: Runtime) -> None:
    """A form whose hidden 'website' box is filled in (a robot) is refused; nothing is filed
    and no e-mail is written."""
    client = _visitor(app)
    status, page = _file(client, website="http://spam.example")
    assert status == 422 and "Không thể nhận biểu mẫu này" in page
    assert _count(rt, Request) == 0 and _count(rt, Outbox) == 0
    assert 'name="website"' in client.get("/privacy/access").text  # the box is on the form


def test_every_form_needs_this_sessions_csrf_token(app: FastAPI, rt: Runtime) -> None:
    """No token, or another visitor's token: 403, nothing filed and no code attempt counted."""
    client, other = _visitor(app), _visitor(app)
    theirs = csrf_of(other.get("/privacy/access").text)
    for data in ({}, {"csrf": theirs}, {"csrf": ""}):
        response = client.post("/privacy/access", data={"email": KNOWN, **data})
        assert response.status_code == 403, data
    assert _count(rt, Request) == 0
    status, location = _file(client)
    assert status == 303
    response = client.post(f"{location}/code", data={"csrf": theirs, "code": "123456"})
    assert response.status_code == 403
    with Session(get_engine(rt.db_url)) as session:
        request = session.get(Request, _request_id(rt, _token(location)))
        assert request is not None and request.code_attempts == 0


def test_wrong_tampered_or_expired_status_links_are_404_alike(app: FastAPI, rt: Runtime) -> None:
    """A tampered, foreign (a download link's token), expired or made-up status link, and a
    code sent to one, all get the same 404 page; the real link works."""
    client = _visitor(app)
    status, location = _file(client)
    assert status == 303
    token = _token(location)
    request_id = _request_id(rt, token)

    class Old(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - rt.settings.status_link_ttl_seconds - 60

    expired = URLSafeTimedSerializer(
        rt.settings.keys.privacy.current, salt=status_links.TOKEN_SALT, signer=Old
    ).dumps(request_id)
    tampered = token[:-3] + ("xyz" if not token.endswith("xyz") else "abc")
    bad = [
        tampered,
        make_download_token(request_id, rt.settings),
        str(expired),
        "IjAwMDAwMDAwIg.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb",
        status_links.make_token("0" * 32, rt.settings),  # well signed, names no request
    ]
    assert client.get(location).status_code == 200
    bodies = set()
    csrf = csrf_of(client.get("/privacy/access").text)
    for wrong in bad:
        page = client.get(f"{status_links.PATH}{wrong}")
        assert page.status_code == 404
        bodies.add(page.text.replace(wrong, "TOKEN"))
        code = client.post(f"{status_links.PATH}{wrong}/code", data={"csrf": csrf, "code": "1"})
        assert code.status_code == 404
        bodies.add(code.text.replace(f"{wrong}/code", wrong).replace(wrong, "TOKEN"))
    assert len(bodies) == 1


def test_what_a_visitor_types_is_escaped(app: FastAPI) -> None:
    """Markup typed into the form (re-shown after an error) or into a link comes back as text."""
    client = _visitor(app)
    script = "<script>alert(1)</script>"
    status, page = _file(client, "rectify", email="not-an-address", new_name=script)
    assert status == 422
    assert script not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    status, page = _file(client, "complaint", email="x@", text=f"</textarea>{script}")
    assert status == 422 and script not in page and "&lt;/textarea&gt;" in page
    probe = client.get("/privacy/status/%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert probe.status_code == 404 and script not in probe.text


def test_privacy_pages_carry_the_security_headers(app: FastAPI) -> None:
    """No script may run, nothing is cached, no other site may frame the pages."""
    response = _visitor(app).get("/privacy")
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "<script" not in response.text
