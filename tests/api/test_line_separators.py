"""U+2028 and U+2029 (line and paragraph separators) are line breaks too: refused in every text
field of every door (issue 22), as control characters are."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from dsr.core.intake.complaints import clean_text
from dsr.core.ledger import holds
from dsr.core.ledger.db import session_scope
from dsr.core.runtime.process import Runtime
from dsr.errors import InvalidInput
from dsr.identity import check_input
from tests.api.conftest import Keys, csrf_of

SEPARATORS = ("\u2028", "\u2029")


@given(
    before=st.text(max_size=10),
    after=st.text(max_size=10),
    sep=st.sampled_from(SEPARATORS),
)
def test_no_text_field_takes_a_line_separator(before: str, after: str, sep: str) -> None:
    """One-line values and free text (a complaint, a note) alike refuse them inside the text
    (free text is trimmed first, as ever)."""
    with pytest.raises(InvalidInput):
        check_input(f"An{before}{sep}{after}", "the name")
    with pytest.raises(InvalidInput):
        clean_text(f"Tôi{before}{sep}{after}.", what="complaint", limit=5000)


def test_every_door_refuses_them(client: TestClient, app: FastAPI, rt: Runtime, keys: Keys) -> None:
    """The API (name, address, complaint text), the privacy center's form and a hold's reason
    refuse U+2028/U+2029, and nothing is written."""
    for sep in SEPARATORS:
        for body in (
            {"kind": "access", "email": "a@example.vn", "name": f"Nguyễn{sep}Văn An"},
            {
                "kind": "rectify",
                "email": "a@example.vn",
                "changes": {"address": f"1 Lê Lợi{sep}Huế"},
            },
            {"kind": "complaint", "email": "a@example.vn", "text": f"Tôi{sep}vẫn nhận tin"},
        ):
            answer = client.post("/requests", json=body, headers=Keys.header(keys.alice))
            assert answer.status_code == 422, (body, answer.text)
        visitor = TestClient(app, client=("198.51.100.60", 50000))
        form = visitor.get("/privacy/rectify")
        refused = visitor.post(
            "/privacy/rectify",
            data={"csrf": csrf_of(form.text), "email": "a@example.vn", "website": "",
                  "new_name": f"An{sep}Nguyễn"},
        )  # fmt: skip
        assert refused.status_code == 422
        with session_scope(rt.db_url) as session, pytest.raises(InvalidInput):
            holds.add(session, email="a@example.vn", phone=None, reason=f"tranh{sep}chấp", by="t")
    assert client.get("/requests", headers=Keys.header(keys.ops)).json() == []
