"""No membership oracle (issue 22, way 1): a stranger who types a customer's phone learns
nothing from the request's pace, statuses or e-mails.

Real servers: a PostgreSQL ledger, Redis with a dramatiq worker, aiosmtpd, the seeded stores.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from sqlmodel import Session, select

from demo.seed import DEMO_SUBJECT
from dsr.core.ledger.db import get_engine
from dsr.core.ledger.models import Alert
from dsr.service import Caller, Service
from dsr.service.views import dump
from tests.e2e.conftest import Pipeline, until

N = 20
SETTLED = ("completed", "needs_review", "needs_attention")


def _service(p: Pipeline) -> Service:
    from workers.actors import enqueue

    return Service(p.rt, enqueue)


def _text(message: Any) -> str:
    return str(message.get_body(preferencelist=("plain",)).get_content())


def _neutral(text: str, request_id: str, email: str) -> str:
    """What differs between any two requests (ids, codes, links, the address, the masked phone
    the requester typed, echoed back as unproven) as placeholders."""
    text = text.replace(request_id, "ID").replace(request_id[:8], "SHORT").replace(email, "EMAIL")
    text = re.sub(r"\+84 9\*\* \*\*\* \d{3}", "PHONE", text)
    text = re.sub(r"https?://\S+", "LINK", text)
    text = re.sub(r"\b\d{6}\b", "CODE", text)
    return re.sub(r"\b\d{1,2}:\d{2}(:\d{2})?\b", "TIME", text)


def _mails(p: Pipeline, request_id: str, email: str) -> frozenset[str]:
    return frozenset(
        _neutral(f"{m['Subject']}\n{_text(m)}", request_id, email)
        for m in p.smtp.to(email)
        if f"<{request_id}." in m["Message-ID"]
    )


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@pytest.mark.timeout(900)
def test_a_customers_phone_and_a_random_phone_look_the_same(pipeline: Pipeline) -> None:
    """Twenty strangers with a customer's phone and twenty with random phones: the same audit
    (status) sequences, the same e-mails but for ids, completion times within 1 s at p95, and no
    ops alert for the first group."""
    svc = _service(pipeline)
    filed: dict[str, list[tuple[str, str]]] = {"customer": [], "random": []}
    for i in range(N):  # interleaved, so both groups meet the same queue
        for group, phone in (("customer", DEMO_SUBJECT["phone"]), ("random", f"0987 6{i:02d} 321")):
            email = f"stranger.{group}.{i}@example.net"
            rid = pipeline.submit("access", email, verified=False, by=None, phone=phone)
            filed[group].append((rid, email))
    staff = Caller.staff("t")
    for pair in zip(filed["customer"], filed["random"], strict=True):
        for rid, email in pair:  # interleaved too
            mail = until(
                lambda e=email, r=rid: [
                    m for m in pipeline.smtp.to(e) if f"<{r}.verification-" in m["Message-ID"]
                ]
            )
            code = re.search(r"\b(\d{6})\b", _text(mail[0]))
            assert code is not None
            svc.verify(rid, code.group(1), by=staff)
    seen: dict[str, dict[str, Any]] = {"customer": {}, "random": {}}
    for group, requests in filed.items():
        for rid, email in requests:
            data = pipeline.wait(rid, *SETTLED, timeout=300)
            assert data["status"] == "completed", f"{group}: {data['status']}"
            until(lambda r=rid, e=email: len(_mails(pipeline, r, e)) == 3, timeout=120)
            detail = dump(svc.status(rid, by=staff))
            actions = [e["action"] for e in detail["audit"]]
            verified = next(_at(e["at"]) for e in detail["audit"] if e["action"] == "verified")
            seen[group][rid] = {
                "actions": (actions[0], sorted(Counter(actions).items()), actions[-1]),
                "mails": _mails(pipeline, rid, email),
                "seconds": (_at(detail["completed_at"]) - verified).total_seconds(),
            }
    customer, random_ = seen["customer"].values(), seen["random"].values()
    sequences = {str(v["actions"]) for v in [*customer, *random_]}
    assert len(sequences) == 1, "\n".join(sorted(sequences))
    assert {v["mails"] for v in customer} == {v["mails"] for v in random_}
    assert len({v["mails"] for v in customer}) == 1
    p95 = (_p95([v["seconds"] for v in customer]), _p95([v["seconds"] for v in random_]))
    print(f"p95 seconds from verified to completed: customer {p95[0]:.2f}, random {p95[1]:.2f}")
    assert abs(p95[0] - p95[1]) < 1.0, p95
    with Session(get_engine(pipeline.rt.db_url)) as session:
        alerted = set(session.exec(select(Alert.request_id)))
    assert not alerted & set(seen["customer"])
