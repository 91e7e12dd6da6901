"""The ops dashboard page: for the ops role only, and it shows what the ledger holds."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from dsr.core.ledger.db import session_scope
from dsr.core.ledger.models import utcnow
from dsr.core.runtime.process import Runtime
from tests.api.conftest import Keys, login
from tests.dashboard_data import fill


def _tile(html: str, name: str) -> int:
    found = re.search(rf'id="tile-{name}".*?<span class="n">(\d+)</span>', html, re.S)
    assert found, f"no tile {name}"
    return int(found.group(1))


def test_only_ops_see_the_dashboard(client: TestClient, keys: Keys) -> None:
    """Support staff get no link and a 403 page; ops get the link and the page."""
    login(client, keys.alice)
    assert "/web/dashboard" not in client.get("/web/requests").text
    assert client.get("/web/dashboard").status_code == 403
    client.cookies.clear()
    login(client, keys.ops)
    assert 'href="/web/dashboard"' in client.get("/web/requests").text
    page = client.get("/web/dashboard")
    assert page.status_code == 200 and "Bảng điều hành" in page.text
    assert 'id="reply-empty"' in page.text and 'id="store-empty"' in page.text  # empty ledger


def test_dashboard_shows_the_ledger(client: TestClient, rt: Runtime, keys: Keys) -> None:
    """Tiles, status counts, queues, one chart bar per day with replies (late ones red) and one
    bar per store, in English on request."""
    with session_scope(rt.db_url) as session:
        exp = fill(session, utcnow())
    login(client, keys.ops)
    html = client.get("/web/dashboard?lang=en").text
    assert _tile(html, "due2") == exp.due_2d and _tile(html, "due7") == exp.due_7d
    assert _tile(html, "overdue") == exp.overdue
    assert _tile(html, "attention") == 2 and _tile(html, "review") == 1
    assert _tile(html, "complaints") == 2
    assert re.search(r'data-status="completed">(\d+)<', html).group(1) == str(  # type: ignore[union-attr]
        exp.by_status["completed"]
    )
    attention = re.search(r'<table id="queue-attention">.*?</table>', html, re.S)
    assert attention and all(i[:8] in attention.group(0) for i in exp.attention)
    assert attention.group(0).count("failed: orders") == 2
    days = re.findall(r'<g class="day( late)?" data-day="([\d-]+)"', html)
    assert {d for _, d in days} == exp.reply_days
    assert any(late for late, _ in days) and not all(late for late, _ in days)
    assert f"{exp.completed} replies" in html and f"{exp.late} late." in html
    assert len(re.findall(r'<g class="store" data-connector=', html)) == 4
    assert "Store failure rates, last 90 days" in html
