"""A real browser (headless Debian chromium, driven by playwright) uses the staff web page.

The test set-up installs chromium with apt (``install_browser.sh``) when it is missing; on a
laptop without root it skips, and with ``DSR_REQUIRE_SERVICES=1`` (CI) it fails instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from demo.smtp_sink import free_port
from tests import services
from tests.api.conftest import Keys

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = Path(__file__).with_name("install_browser.sh")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed through apt by this set-up when absent."""
    problem = "not installed"
    if not os.access(CHROMIUM, os.X_OK):
        if os.geteuid() == 0 and shutil.which("apt-get"):
            done = subprocess.run(["sh", str(INSTALL)], capture_output=True, text=True, timeout=900)
            problem = f"install_browser.sh exit {done.returncode}: {done.stderr[-400:]}"
        else:
            problem = "not installed, and installing it needs root and apt-get"
    if not os.access(CHROMIUM, os.X_OK):
        services.unavailable("Chromium", RuntimeError(problem))
    return CHROMIUM


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    """The app under uvicorn on a free localhost port, in a thread."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.mark.timeout(900)  # the first run may install chromium
def test_staff_log_in_file_an_access_request_and_see_its_deadline(
    chromium: Path, server: str, app: FastAPI, keys: Keys
) -> None:
    """In headless chromium: log in, file an access request on the form, find it in the list."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), headless=True, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{server}/")
            expect(page).to_have_url(re.compile(r"/web/login$"))
            page.fill("#api_key", keys.alice)
            page.click("button[type=submit]")
            expect(page).to_have_url(re.compile(r"/web/requests$"))
            page.click("text=Tạo yêu cầu")
            page.select_option("#kind", "access")
            page.fill("#email", "an.nguyen@example.vn")
            page.fill("#phone", "0912 345 678")
            page.fill("#name", "Nguyễn Văn An")
            page.check("#verified")
            page.click("button.primary")
            expect(page).to_have_url(re.compile(r"/web/requests/[0-9a-f]{32}\?filed=1$"))
            request_id = page.url.split("/")[-1].split("?")[0]
            page.click("text=Danh sách yêu cầu")
            row = page.locator(f"#r-{request_id}")
            expect(row).to_contain_text("truy cập dữ liệu")
            expect(row).to_contain_text("đang xử lý")
            expect(row.locator("td.left")).to_have_text("còn 10 ngày")
            expect(row.locator("td.due")).to_have_text(_due_date(app, keys, request_id))
            page.click("a[hreflang=en]")
            expect(page.locator(f"#r-{request_id} td.left")).to_have_text("10 days left")
        finally:
            browser.close()


def _due_date(app: FastAPI, keys: Keys, request_id: str) -> str:
    """The request's due date as the page shows it: dd/mm/yyyy in Vietnam's calendar."""
    with TestClient(app) as client:
        due = client.get(f"/requests/{request_id}", headers=Keys.header(keys.ops)).json()["due_at"]
    local = datetime.fromisoformat(due.replace("Z", "+00:00")).astimezone(
        ZoneInfo("Asia/Ho_Chi_Minh")
    )
    return local.strftime("%d/%m/%Y")
