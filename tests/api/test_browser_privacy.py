"""Headless Chromium uses the privacy center end to end, as a customer would.

A real uvicorn server, a dramatiq worker, PostgreSQL, Redis, the demo stores and an aiosmtpd
server: the customer files a request, reads the code from the e-mail the SMTP server received,
types it on the page, watches the request complete, and follows the download link of the reply.
Set ``DSR_UPDATE_SCREENSHOTS=1`` to write the screenshots to ``docs/screenshots/``.
"""

from __future__ import annotations

import io
import os
import re
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import uvicorn
from fastapi import FastAPI

from api import create_app
from api.throttle import forget
from demo.seed import DEMO_SUBJECT, seed
from demo.smtp_sink import MailSink, free_port
from dsr.core.ledger.db import get_engine, migrate
from dsr.core.replies import status_links
from dsr.core.runtime.process import Runtime
from dsr.service import Caller
from tests import services
from tests.api.test_browser import ARGS, chromium  # noqa: F401 - shared fixture
from tests.e2e.conftest import make_settings, until

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
EMAIL = DEMO_SUBJECT["email"]


@dataclass
class Center:
    url: str
    rt: Runtime
    smtp: MailSink
    app: FastAPI

    def mails(self, to: str, purpose: str, request_id: str) -> list[EmailMessage]:
        """What the SMTP server received for ``to`` of the request's ``purpose``."""
        start = f"<{request_id}.{purpose}"
        return [m for m in self.smtp.to(to) if str(m["Message-ID"]).startswith(start)]

    def wait_mail(self, to: str, purpose: str, request_id: str) -> str:
        found = until(lambda: self.mails(to, purpose, request_id), timeout=60)
        return str(found[0].get_body(("plain",)).get_content())


@pytest.fixture
def center(tmp_path: Path, postgres_url: str, smtp: MailSink) -> Iterator[Center]:
    """The app under uvicorn on a free port (its own public address, so the e-mailed links
    point at it), a dramatiq worker, seeded demo stores; every access reply is sent as a link."""
    services.redis_url_or_skip()
    from workers import actors, runtime  # noqa: F401 - declares the actors the worker runs
    from workers.broker import broker

    port = free_port()
    settings = make_settings(
        tmp_path,
        postgres_url,
        smtp.port,
        public_base_url=f"http://127.0.0.1:{port}",
        attach_limit_bytes=1,  # a bundle is always bigger: the reply carries the download link
    )
    seed(settings.resolved_data_dir, 30, secret_key=settings.keys.suppression, reset=True)
    rt = Runtime(settings)
    migrate(rt.db_url)
    broker.flush_all()
    forget(broker.client, settings.broker_namespace)
    app = create_app(rt)
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield Center(f"http://127.0.0.1:{port}", rt, smtp, app)
    server.should_exit = True
    thread.join(timeout=10)
    worker.stop()
    broker.flush_all()
    forget(broker.client, settings.broker_namespace)
    runtime.set_runtime(None)
    rt.close()
    get_engine(rt.db_url).dispose()


def _leads_to(center: Center, body: str, request_id: str) -> bool:
    """Whether the e-mail links to this request's status page on this server. The link's token
    is signed when the e-mail is written, the page's own a moment later: they differ in their
    timestamp when a second ticks between the two, and open the same page."""
    tokens = re.findall(rf"{re.escape(center.url)}/privacy/status/([\w.\-]+)", body)
    return any(status_links.read_token(t, center.rt.settings) == request_id for t in tokens)


def _shot(tmp_path: Path, name: str) -> str:
    folder = SCREENSHOTS if os.environ.get("DSR_UPDATE_SCREENSHOTS") == "1" else tmp_path
    return str(folder / name)


def _phase_reaches(page: Any, phase: str, timeout: float = 120) -> None:
    """Reload the status page until it shows ``phase`` (it also refreshes itself)."""

    def reached() -> bool:
        page.reload()
        return bool(page.locator("#phase").get_attribute("data-phase") == phase)

    until(reached, timeout=timeout)


@pytest.mark.timeout(900)  # the first run may install chromium
def test_a_customer_gets_their_data_through_the_privacy_center(
    chromium: Path,  # noqa: F811
    center: Center,
    tmp_path: Path,
) -> None:
    """In Chromium: file an access request, read the code from the real SMTP server, confirm it
    on the status page, watch the request complete, then follow the reply's download link and
    get the ZIP of every store."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), headless=True, args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 900, "height": 900}, accept_downloads=True
            )
            page = context.new_page()
            page.goto(f"{center.url}/privacy")
            expect(page.locator("h1")).to_have_text("Trung tâm quyền riêng tư")
            page.click("#choose-access")
            expect(page).to_have_url(re.compile(r"/privacy/access$"))
            page.fill("#email", " Nguyen.Van.An@Example.com ")
            page.fill("#phone", "0912 345 678")
            trap = page.locator("#website").bounding_box()  # the honeypot is not for people:
            assert trap is not None and trap["x"] + trap["width"] <= 0  # off the page's left
            page.screenshot(path=_shot(tmp_path, "privacy-center-form.png"), full_page=True)
            page.click("button.primary")
            expect(page).to_have_url(re.compile(r"/privacy/status/[\w.\-]+$"))
            expect(page.locator("#phase")).to_have_attribute("data-phase", "awaiting_code")
            status_url = page.url
            request_id = status_links.read_token(status_url.rsplit("/", 1)[1], center.rt.settings)

            body = center.wait_mail(EMAIL, "verification-1", request_id)
            assert _leads_to(center, body, request_id)  # the e-mail leads back to the same page
            code = re.search(r"\b(\d{6})\b", body)
            assert code
            assert _leads_to(
                center, center.wait_mail(EMAIL, "acknowledgement", request_id), request_id
            )
            page.fill("#code", code.group(1))
            page.click("button.primary")
            expect(page).to_have_url(status_url)
            assert page.locator("#phase").get_attribute("data-phase") != "awaiting_code"

            _phase_reaches(page, "completed")
            expect(page.locator("#steps li.done")).to_have_count(4)
            expect(page.locator("#done")).to_be_visible()
            page.screenshot(path=_shot(tmp_path, "privacy-center-status.png"), full_page=True)

            reply = center.wait_mail(EMAIL, "reply", request_id)
            link = re.search(r"(http://127\.0\.0\.1:\d+/exports/\S+)", reply)
            assert link, "the reply carries no download link"
            assert link.group(1) not in page.content()  # the data goes by e-mail only
            with page.expect_download() as info:
                try:
                    page.goto(link.group(1))
                except Exception:  # noqa: BLE001 - navigation ends where the download starts
                    pass
            download = info.value
            data = Path(download.path()).read_bytes()
        finally:
            browser.close()
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "summary.txt" in names
    for store in center.rt.connectors:  # the demo subject is in every store
        assert any(n.startswith(f"{store}/") for n in names), store
    assert len(center.mails(EMAIL, "reply", request_id)) == 1


@pytest.mark.timeout(900)
def test_a_customer_files_a_complaint_and_sees_it_answered(
    chromium: Path,  # noqa: F811
    center: Center,
) -> None:
    """In Chromium, in English: file a complaint, see it with the privacy team, staff answer it,
    and the page shows it completed while the answer arrives by e-mail."""
    from playwright.sync_api import expect, sync_playwright

    email = "khach.hang@example.net"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), headless=True, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{center.url}/privacy?lang=en")
            page.click("#choose-complaint")
            expect(page.locator("h1")).to_have_text("Make a complaint")
            assert page.locator("#phone").count() == 0  # a complaint asks for the address only
            page.fill("#email", email)
            page.fill("#text", "I still get promotional calls after I unsubscribed.\nPlease stop.")
            page.click("button.primary")
            expect(page.locator("#phase")).to_have_attribute("data-phase", "with_staff")
            expect(page.locator("#code")).to_have_count(0)
            status_url = page.url
            request_id = status_links.read_token(status_url.rsplit("/", 1)[1], center.rt.settings)
            assert _leads_to(
                center, center.wait_mail(email, "acknowledgement", request_id), request_id
            )

            center.app.state.service.answer(
                request_id, template="no_misuse", note=None, by=Caller.staff("lan.nguyen")
            )
            _phase_reaches(page, "completed")
            expect(page.locator("#steps li.done")).to_have_count(3)
        finally:
            browser.close()
    assert center.wait_mail(email, "reply", request_id)  # the answer, to the filing address
    assert len(center.mails(email, "reply", request_id)) == 1
