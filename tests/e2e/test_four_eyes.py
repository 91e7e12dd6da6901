"""Four eyes on staff vouching (issue 22, way 2): one support key cannot open a subject's data.

Real servers: a PostgreSQL ledger, Redis with a dramatiq worker, aiosmtpd, the seeded stores;
the HTTP API in process (TestClient) with three keys: sup1 and sup2 (support) and ops.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import pytest

from config.settings import Settings
from demo.seed import DEMO_SUBJECT, seed
from demo.smtp_sink import MailSink
from dsr.core.intake.filing import Submission
from dsr.core.ledger import apikeys
from dsr.core.ledger.db import get_engine, migrate, session_scope
from dsr.core.runtime.process import Runtime
from dsr.errors import PermissionDenied
from dsr.service import Caller, Service
from dsr.service.views import dump
from tests import services
from tests.e2e.conftest import make_settings, until

warnings.filterwarnings("ignore", message=".*install `httpx2`")
from fastapi.testclient import TestClient  # noqa: E402

from api import create_app  # noqa: E402

EMAIL = DEMO_SUBJECT["email"]


@pytest.fixture
def rt(tmp_path: Path, postgres_url: str, smtp: MailSink) -> Iterator[Runtime]:
    """Seeded stores, a ledger and a worker; DSR_VOUCH_POLICY=four_eyes (the default)."""
    services.redis_url_or_skip()
    from workers import runtime
    from workers.broker import broker

    settings = make_settings(tmp_path, postgres_url, smtp.port, vouch_policy="four_eyes")
    seed(settings.resolved_data_dir, 20, secret_key=settings.keys.suppression, reset=True)
    runtime_ = Runtime(settings)
    migrate(runtime_.db_url)
    runtime.set_runtime(runtime_)
    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    yield runtime_
    worker.stop()
    broker.flush_all()
    runtime.set_runtime(None)
    runtime_.close()
    get_engine(runtime_.db_url).dispose()


def _keys(rt: Runtime) -> dict[str, dict[str, str]]:
    out = {}
    with session_scope(rt.db_url) as session:
        for name, role in (("sup1", "support"), ("sup2", "support"), ("olga", "ops")):
            _, key = apikeys.create(session, name=name, role=role)
            out[name] = {"X-API-Key": key}
    return out


def test_sup1_vouches_sup2_approves_and_sup1_cannot_download(rt: Runtime, smtp: MailSink) -> None:
    """sup1 vouches for an access (it waits in awaiting_approval), sup1 cannot approve it,
    sup2 sees what was vouched and by whom and approves it, the reply reaches the subject with
    both names, and sup1's download is refused until ops grant it (audited)."""
    assert Settings.model_fields["vouch_policy"].default == "four_eyes"
    key = _keys(rt)
    with TestClient(create_app(rt)) as http:
        filed = http.post(
            "/requests", json={"kind": "access", "email": EMAIL, "verified": True},
            headers=key["sup1"],
        )  # fmt: skip
        assert filed.status_code == 201, filed.text
        rid = filed.json()["id"]
        assert filed.json()["status"] == "awaiting_approval"
        assert http.post(f"/approvals/{rid}", headers=key["sup1"]).status_code == 403
        seen = http.get(f"/approvals/{rid}", headers=key["sup2"]).json()
        assert seen["vouched_by"] == "api:sup1"
        assert {v["kind"] for v in seen["vouched"]} == {"email"}
        assert EMAIL not in str(seen)  # masked
        assert [a["id"] for a in http.get("/approvals", headers=key["sup2"]).json()] == [rid]
        approved = http.post(f"/approvals/{rid}", headers=key["sup2"])
        assert approved.status_code == 200, approved.text
        done = until(
            lambda: (
                (d := http.get(f"/requests/{rid}", headers=key["olga"]).json())["status"]
                == "completed"
                and d
            ),
            timeout=120,
        )
        reply = until(
            lambda: [m for m in smtp.to(EMAIL) if m["Message-ID"].startswith(f"<{rid}.reply@")]
        )
        text = reply[0].get_body(preferencelist=("plain",)).get_content()
        assert "sup1" in text and "sup2" in text
        actions = {(e["action"], e["actor"]) for e in done["audit"]}
        assert ("vouched_awaiting_approval", "api:sup1") in actions
        assert ("approved", "api:sup2") in actions
        assert http.get(f"/requests/{rid}/export", headers=key["sup1"]).status_code == 403
        assert http.post(f"/requests/{rid}/export-grant", headers=key["sup1"]).status_code == 403
        assert http.post(f"/requests/{rid}/export-grant", headers=key["olga"]).status_code == 200
        assert http.get(f"/requests/{rid}/export", headers=key["sup1"]).status_code == 200
        audit = http.get(f"/requests/{rid}", headers=key["olga"]).json()["audit"]
        assert ("export_granted", "api:olga") in {(e["action"], e["actor"]) for e in audit}


def test_the_policy_holds_at_the_command_line_too(rt: Runtime) -> None:
    """``dsr submit --verified --by lan`` waits too; ``dsr approve --by lan`` is refused, and
    ``--by mai`` approves; an erasure is guarded alike; a rectify is not."""
    from workers.actors import enqueue

    svc = Service(rt, enqueue)
    for kind in ("access", "erase"):
        sub = Submission(kind, f"{kind}.x@example.net", verified=True, by="lan")
        data = dump(svc.submit(sub, by=Caller.staff("lan")))
        assert data["status"] == "awaiting_approval"
        with pytest.raises(PermissionDenied):
            svc.approve(data["id"], by=Caller.staff("lan"))
        assert svc.approve(data["id"], by=Caller.staff("mai"))["status"] != "awaiting_approval"
    changes = {"address": "1 Lê Lợi, Huế"}
    rectify = dump(
        svc.submit(
            Submission("rectify", "r@example.net", changes=changes, verified=True, by="lan"),
            by=Caller.staff("lan"),
        )
    )
    assert rectify["status"] != "awaiting_approval"


def test_ops_only_lets_only_ops_vouch(rt: Runtime) -> None:
    """DSR_VOUCH_POLICY=ops_only: a support key's vouch is refused (403, nothing filed); an ops
    key's goes on at once."""
    ops_only = Runtime(rt.settings.model_copy(update={"vouch_policy": "ops_only"}))
    key = _keys(ops_only)
    with TestClient(create_app(ops_only)) as http:
        body = {"kind": "erase", "email": "e@example.net", "verified": True}
        assert http.post("/requests", json=body, headers=key["sup1"]).status_code == 403
        assert http.get("/requests", headers=key["olga"]).json() == []
        filed = http.post("/requests", json=body, headers=key["olga"])
        assert filed.status_code == 201 and filed.json()["status"] != "awaiting_approval"
    ops_only.close()
