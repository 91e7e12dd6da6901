"""Headless Chromium opens the ops dashboard on a ledger with 90 days of history.

Set ``DSR_UPDATE_SCREENSHOTS=1`` to write the screenshot to ``docs/screenshots/dashboard.png``
(the one the README shows); otherwise it goes to the test's own folder.
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import pytest
from fastapi import FastAPI

from dsr.core.ledger.db import session_scope
from dsr.core.ledger.models import utcnow
from dsr.core.runtime.process import Runtime
from tests.api.conftest import Keys
from tests.api.test_browser import ARGS, chromium, server  # noqa: F401 - shared fixtures
from tests.dashboard_data import fill

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


@pytest.mark.timeout(900)  # the first run may install chromium
def test_ops_open_the_dashboard_and_see_the_ledger(
    chromium: Path,  # noqa: F811
    server: str,  # noqa: F811
    app: FastAPI,
    rt: Runtime,
    keys: Keys,
    tmp_path: Path,
) -> None:
    """In headless Chromium an ops user logs in, opens the dashboard from the header, and sees
    the counts, the queues and both charts; a full-page screenshot is taken."""
    from playwright.sync_api import expect, sync_playwright

    with session_scope(rt.db_url) as session:
        exp = fill(session, utcnow())
    shot = (
        SCREENSHOTS / "dashboard.png"
        if os.environ.get("DSR_UPDATE_SCREENSHOTS") == "1"
        else tmp_path / "dashboard.png"
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(f"{server}/web/login?lang=en")
            page.fill("#api_key", keys.ops)
            page.click("button[type=submit]")
            page.click("header >> text=Dashboard")
            expect(page).to_have_url(re.compile(r"/web/dashboard$"))
            expect(page.locator("h1")).to_have_text("Dashboard")
            expect(page.locator("#tile-overdue .n")).to_have_text(str(exp.overdue))
            expect(page.locator("#tile-due2 .n")).to_have_text(str(exp.due_2d))
            expect(page.locator("#tile-due7 .n")).to_have_text(str(exp.due_7d))
            expect(page.locator("#tile-attention .n")).to_have_text("2")
            expect(page.locator("#tile-review .n")).to_have_text("1")
            expect(page.locator("#queue-attention tbody tr")).to_have_count(2)
            expect(page.locator("#queue-review tbody tr")).to_have_count(1)
            chart = page.locator("#reply-chart")
            expect(chart).to_be_visible()
            expect(chart.locator("g.day")).to_have_count(len(exp.reply_days))
            assert chart.locator("g.day.late").count() >= 1
            box = chart.bounding_box()
            assert box is not None and box["width"] > 600 and box["height"] > 150
            expect(page.locator("#store-chart g.store")).to_have_count(4)
            expect(page.locator("#reply-summary")).to_contain_text(f"{exp.completed} replies")
            page.screenshot(path=str(shot), full_page=True)
            page.click("a[hreflang=vi]")
            expect(page.locator("h1")).to_have_text("Bảng điều hành")
        finally:
            browser.close()
    width, height = _png_size(shot)
    assert width == 1200 and height > 900  # the whole page, longer than one screen
