"""Limits per mailbox at the privacy center (issue 22, ways 3 and 4): wrong codes counted
across requests, the "this was not me" link, and +tag aliases counted as one mailbox."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser

from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from dsr.core.ledger.db import session_scope
from dsr.core.ledger.models import Alert, Request
from dsr.core.replies import status_links
from dsr.core.runtime.process import Runtime
from dsr.mailbox import fold
from dsr.service import Caller
from dsr.service.views import dump
from tests.api.conftest import csrf_of, verification_code

VICTIM = "victim@example.com"


def _file(app: FastAPI, email: str, host: str) -> tuple[TestClient, str, str]:
    """A visitor (its own client address) files an access request; its client, status page
    path and request id."""
    client = TestClient(app, client=(host, 50000))
    page = client.get("/privacy/access")
    data = {"csrf": csrf_of(page.text), "email": email, "website": ""}
    response = client.post("/privacy/access", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    return (
        client,
        location,
        status_links.read_token(location.split("/")[-1], app.state.service.rt.settings),
    )


def _try(client: TestClient, location: str, code: str) -> int:
    page = client.get("/privacy/access")  # this session's CSRF token
    return client.post(
        f"{location}/code", data={"csrf": csrf_of(page.text), "code": code}, follow_redirects=False
    ).status_code


def _alerts(rt: Runtime, reason: str) -> list[Alert]:
    with session_scope(rt.db_url) as session:
        return list(session.exec(select(Alert).where(Alert.reason == reason)))


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_wrong_codes_count_per_mailbox_across_requests(app: FastAPI, rt: Runtime) -> None:
    """Ten wrong codes over three requests (aliases of one mailbox): the next request's right
    code is refused, the page shows no attempts left, and ops have one code_guessing alert."""
    tried = 0
    for n in range(3):
        client, location, request_id = _file(app, f"victim+{n}@example.com", f"198.51.100.{n}")
        code = verification_code(rt, request_id)
        for _ in range(4 if n < 2 else 2):
            assert _try(client, location, _wrong(code)) == 422
            tried += 1
        page = client.get(location).text
        left = re.search(r'id="attempts-left">[^<]*?(\d+)', page)
        if tried < 10:
            assert left and int(left.group(1)) == min(5 - (4 if n < 2 else 2), 10 - tried)
        else:  # the mailbox has none left today: no box to type a code into
            assert left is None and 'data-phase="code_closed"' in page
    assert tried == 10
    assert len(_alerts(rt, "code_guessing")) == 1
    client, location, request_id = _file(app, "Victim+last@Example.com", "198.51.100.9")
    assert 'data-phase="code_closed"' in client.get(location).text
    assert _try(client, location, verification_code(rt, request_id)) != 303
    staff = dump(app.state.service.status(request_id, by=Caller.staff("test")))
    assert staff["status"] == "awaiting_verification" and staff["attempts_left"] == 0


def test_the_api_json_says_how_many_attempts_are_left(app: FastAPI, rt: Runtime) -> None:
    """A request waiting for its code shows ``attempts_left`` in its JSON; a wrong code takes
    one away."""
    client, location, request_id = _file(app, VICTIM, "198.51.100.20")
    svc = app.state.service
    assert dump(svc.status(request_id, by=Caller.staff("t")))["attempts_left"] == 5
    assert _try(client, location, _wrong(verification_code(rt, request_id))) == 422
    assert dump(svc.status(request_id, by=Caller.staff("t")))["attempts_left"] == 4


def _link(rt: Runtime, request_id: str, name: str) -> str:
    path = rt.settings.resolved_export_dir / request_id / "outbox" / name
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"(/privacy/not-me/\S+)", body.get_content())
    assert found, f"no 'this was not me' link in {name}"
    return found.group(1)


def test_this_was_not_me_stops_the_mailboxs_e_mails_and_tells_ops(
    app: FastAPI, rt: Runtime
) -> None:
    """Both e-mails of a filing carry the link; confirming it cancels the request, raises a
    not_me alert, and a new filing for any alias of the mailbox is refused, nothing written."""
    _, _, request_id = _file(app, VICTIM, "198.51.100.30")
    link = _link(rt, request_id, "acknowledgement.eml")
    assert _link(rt, request_id, "verification-1.eml") == link
    owner = TestClient(app, client=("203.0.113.77", 50000))
    page = owner.get(link)
    assert page.status_code == 200 and 'id="not-me"' in page.text
    assert owner.get(link[:-3] + "xyz").status_code == 404  # tampered
    with session_scope(rt.db_url) as session:
        assert session.get(Request, request_id).status == "awaiting_verification"  # type: ignore[union-attr]
    done = owner.post(link, data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200 and 'id="done"' in done.text
    with session_scope(rt.db_url) as session:
        assert session.get(Request, request_id).status == "canceled"  # type: ignore[union-attr]
        before = len(list(session.exec(select(Request))))
    assert len(_alerts(rt, "not_me")) == 1
    again = TestClient(app, client=("198.51.100.31", 50000))
    form = again.get("/privacy/access")
    refused = again.post(
        "/privacy/access",
        data={"csrf": csrf_of(form.text), "email": "victim+again@example.com", "website": ""},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    with session_scope(rt.db_url) as session:
        assert len(list(session.exec(select(Request)))) == before


@given(
    local=st.from_regex(r"[a-z][a-z0-9.]{0,10}[a-z0-9]", fullmatch=True),
    tag=st.from_regex(r"[a-z0-9]{0,8}", fullmatch=True),
)
def test_aliases_fold_to_one_mailbox(local: str, tag: str) -> None:
    """``+tags`` fold everywhere; Gmail's dots and googlemail.com fold at Gmail only."""
    assert fold(f"{local}+{tag}@example.com") == fold(f"{local}@example.com")
    assert fold(f"{local}@example.com") == f"{local}@example.com"  # dots kept elsewhere
    plain = local.replace(".", "")
    assert fold(f"{local}+{tag}@googlemail.com") == f"{plain}@gmail.com"
