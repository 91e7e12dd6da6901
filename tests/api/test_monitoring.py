"""``deploy/``: the Prometheus rules and the Grafana dashboard fit what ``/metrics`` exports.

promtool (Debian's, unpacked by ``deploy/prometheus/install_promtool.sh`` when it is not on
PATH) checks the rule file and the example configuration, runs the rules' unit tests, and parses
every dashboard query. Independently of promtool, every ``dsr_*`` name a rule or a panel uses
must be one a real scrape of the API returns.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from sqlmodel import col

from dsr.core.ledger.db import session_scope
from dsr.core.ledger.models import (
    ConnectorTask,
    Outbox,
    OutboxStatus,
    PurgeRun,
    Request,
    RequestStatus,
    TaskStatus,
    utcnow,
)
from dsr.core.runtime.process import Runtime
from tests import services
from tests.api.conftest import Keys

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "dsr-overview.json"
H = Keys.header
_NAME = re.compile(r"\bdsr_[a-zA-Z0-9_]+")


def _rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load((PROMETHEUS / "rules.yml").read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _panel_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


@pytest.fixture(scope="session")
def promtool() -> Path:
    """promtool from PATH, or Debian's unpacked into a cache folder by install_promtool.sh."""
    found = shutil.which("promtool")
    if found:
        return Path(found)
    cache = Path(os.environ.get("DSR_TOOLS_DIR", Path(tempfile.gettempdir()) / "dsr-tools"))
    done = subprocess.run(
        ["sh", str(PROMETHEUS / "install_promtool.sh"), str(cache)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    tool = cache / "promtool"
    if done.returncode != 0 or not os.access(tool, os.X_OK):
        services.unavailable("promtool", RuntimeError(done.stderr[-400:] or "not installed"))
    return tool


def _run(promtool: Path, *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [str(promtool), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_promtool_checks_rules_config_and_runs_the_rule_tests(
    promtool: Path, tmp_path: Path
) -> None:
    """The rules parse, the example config (with its rules) loads, and each alert fires exactly
    when its unit test says (overdue, attention, review, complaints, stuck, mail, sweeps,
    retention behind)."""
    checked = _run(promtool, "check", "rules", "rules.yml", cwd=PROMETHEUS)
    assert "SUCCESS: 10 rules found" in checked
    assert "SUCCESS" in _run(promtool, "test", "rules", "rules.test.yml", cwd=PROMETHEUS)
    for name in ("prometheus.yml", "rules.yml"):
        shutil.copy(PROMETHEUS / name, tmp_path / name)
    (tmp_path / "dsr_api_key").write_text("dsr_example\n")
    _run(promtool, "check", "config", "prometheus.yml", cwd=tmp_path)


def test_every_dashboard_query_is_valid_promql(promtool: Path, tmp_path: Path) -> None:
    """Each Grafana panel's query parses (checked as a recording rule by promtool)."""
    rules = [
        {"record": f"dsr:panel_{i}", "expr": expr.replace("$__rate_interval", "5m")}
        for i, expr in enumerate(_panel_queries())
    ]
    (tmp_path / "panels.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "p", "rules": rules}]})
    )
    assert f"SUCCESS: {len(rules)} rules found" in _run(
        promtool, "check", "rules", "panels.yml", cwd=tmp_path
    )


def test_rules_are_complete_and_the_dashboard_is_importable() -> None:
    """Each alert has a severity, a summary and a description; the dashboard is one Grafana
    document whose panels use the data-source variable and do not overlap."""
    names = [r["alert"] for r in _rules()]
    assert len(names) == len(set(names)) and {
        "DsrRequestsOverdue",
        "DsrNeedsAttention",
        "DsrNeedsReview",
        "DsrRequestStuck",
        "DsrSweepFailed",
    } <= set(names)
    for rule in _rules():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert board["uid"] and board["schemaVersion"] >= 36
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource"]
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24
        mine = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not cells & mine, f"panel {panel['title']!r} overlaps another"
        cells |= mine
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])


def _exported(client: TestClient, key: str) -> set[str]:
    text = client.get("/metrics", headers=H(key)).text
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names |= {s.name for s in family.samples}
    return names


def test_every_metric_a_rule_or_panel_uses_is_exported(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """A real scrape (with requests, e-mails and sweeps in the ledger) names every dsr_* metric
    the rules and the dashboard query: a renamed metric cannot silently blind an alert."""
    now = utcnow()
    request_id = client.post(
        "/requests",
        headers=H(keys.alice),
        json={"kind": "access", "email": "an.nguyen@example.vn", "verified": True},
    ).json()["id"]
    with session_scope(rt.db_url) as session:
        session.execute(  # the crm task intake's dispatch created, as a worker finishes it
            update(ConnectorTask)
            .where(
                col(ConnectorTask.request_id) == request_id, col(ConnectorTask.connector) == "crm"
            )
            .values(status=TaskStatus.DONE, started_at=now, finished_at=now, updated_at=now)
        )
        session.add(
            PurgeRun(
                connector="crm", started_at=now, finished_at=now, report={"status": "finished"}
            )
        )
    exported = _exported(client, keys.ops)
    used = {
        m for expr in [r["expr"] for r in _rules()] + _panel_queries() for m in _NAME.findall(expr)
    }
    assert used and used <= exported, sorted(used - exported)


def _samples(client: TestClient, key: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics", headers=H(key)).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_idle_ages_unsent_mail_and_sweep_outcomes(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """The figures the stuck, mail and sweep alerts read: the oldest idle request per status and
    kind, the oldest unsent e-mail, sweeps by outcome and the last complete one (dry runs out)."""
    now = utcnow()
    made = [
        client.post(
            "/requests",
            headers=H(keys.alice),
            json={"kind": kind, "email": "an.nguyen@example.vn", "verified": True, **extra},
        ).json()["id"]
        for kind, extra in (("erase", {}), ("complaint", {"text": "Tôi bị làm phiền."}))
    ]
    with session_scope(rt.db_url) as session:
        session.execute(
            update(Request)
            .where(col(Request.id) == made[0])
            .values(status=RequestStatus.IN_PROGRESS, updated_at=now - timedelta(hours=2))
        )
        session.execute(
            update(Outbox)
            .where(col(Outbox.request_id) == made[0])
            .values(created_at=now - timedelta(minutes=40))
        )
        session.execute(
            update(Outbox).where(col(Outbox.request_id) == made[1]).values(status=OutboxStatus.SENT)
        )
        finished = now - timedelta(hours=5)
        for connector, status, dry in (
            ("recordings", "finished", False),
            ("recordings", "failed", False),
            ("recordings", "finished", True),
            ("crm", "superseded", False),
        ):
            session.add(
                PurgeRun(
                    connector=connector,
                    dry_run=dry,
                    started_at=finished - timedelta(minutes=1),
                    finished_at=finished if not dry else now,
                    report={"status": status},
                )
            )
    m = _samples(client, keys.ops)
    erase = m[("dsr_request_idle_seconds_max", (("kind", "erase"), ("status", "in_progress")))]
    assert 7200 <= erase < 7200 + 600
    complaint = m[
        ("dsr_request_idle_seconds_max", (("kind", "complaint"), ("status", "in_progress")))
    ]
    assert 0 <= complaint < 600
    assert (
        m[("dsr_outbox_pending", ())] == 1
    )  # the erase's acknowledgement; the complaint's was sent
    assert 2400 <= m[("dsr_outbox_oldest_pending_seconds", ())] < 2400 + 600
    rec = (("connector", "recordings"),)
    assert m[("dsr_purge_runs_total", (*rec, ("status", "finished")))] == 1  # the dry run is out
    assert m[("dsr_purge_runs_total", (*rec, ("status", "failed")))] == 1
    assert m[("dsr_purge_runs_total", (("connector", "crm"), ("status", "superseded")))] == 1
    assert m[("dsr_purge_last_success_timestamp_seconds", rec)] == pytest.approx(
        finished.timestamp()
    )
    assert ("dsr_purge_last_success_timestamp_seconds", (("connector", "crm"),)) not in m
