"""S1 on real servers: an access request ends in one reply e-mail carrying the subject's data."""

from __future__ import annotations

import io
import json
import zipfile

from demo.seed import DEMO_SUBJECT
from tests.e2e.conftest import Pipeline


def _zip_of(message) -> zipfile.ZipFile:  # type: ignore[no-untyped-def]
    for part in message.iter_attachments():
        if part.get_content_type() == "application/zip":
            return zipfile.ZipFile(io.BytesIO(part.get_content()))
    raise AssertionError("reply has no ZIP attachment")


def test_access_request_replies_with_crm_record(pipeline: Pipeline) -> None:
    """A verified access request completes and the subject receives a ZIP with their CRM row."""
    email = DEMO_SUBJECT["email"]
    request_id = pipeline.submit("access", email, phone=DEMO_SUBJECT["phone"])
    data = pipeline.wait(request_id)
    assert data["completed_at"] is not None
    assert {t["connector"]: t["status"] for t in data["tasks"]} == {
        "crm": "done",
        "newsletter": "done",
        "orders": "done",
        "recordings": "done",
    }
    replies = [
        m
        for m in pipeline.smtp.to(email)
        if request_id[:8] in m["Subject"] and "reply" in m["Message-ID"]
    ]
    assert len(replies) == 1
    bundle = _zip_of(replies[0])
    crm_rows = json.loads(bundle.read("crm/customers.json"))
    assert any(row["email"].strip().casefold() == email for row in crm_rows)
    # The calls' recordings come with them, where the PBX's rows name them.
    recordings = [n for n in bundle.namelist() if n.startswith("recordings/files/cdr/")]
    assert len(recordings) == 2 and all(n.endswith(".wav") for n in recordings)
    assert "recordings/cdr.json" in bundle.namelist()


def test_orders_found_through_crm_customer_id(pipeline: Pipeline) -> None:
    """An order placed under another e-mail is found through the CRM's customer id (expansion)."""
    request_id = pipeline.submit("access", DEMO_SUBJECT["email"])
    data = pipeline.wait(request_id)
    orders = next(t for t in data["tasks"] if t["connector"] == "orders")
    reply = pipeline.smtp.to(DEMO_SUBJECT["email"])[-1]
    rows = json.loads(_zip_of(reply).read("orders/orders.json"))
    assert orders["records"] >= 2
    assert any(r["email"].strip().casefold() != DEMO_SUBJECT["email"] for r in rows)
