"""Headless Chromium checks the demo's erasure certificate on the privacy center's page.

`dsr demo` runs first (as `make demo` does); the app then serves with the demo's keys, and a
visitor uploads the erasure reply's certificate.jws: valid, signed by the controller on that day;
the same file with one byte changed: refused as altered. Set ``DSR_UPDATE_SCREENSHOTS=1`` to
write the screenshots to ``docs/screenshots/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import uvicorn

from api import create_app
from api.throttle import forget
from demo.smtp_sink import MailSink, free_port
from dsr.core.ledger.db import get_engine, migrate
from dsr.core.runtime.process import Runtime
from tests import services
from tests.api.test_browser import ARGS, chromium  # noqa: F401 - shared fixture
from tests.e2e.conftest import make_settings

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _shot(tmp_path: Path, name: str) -> str:
    folder = SCREENSHOTS if os.environ.get("DSR_UPDATE_SCREENSHOTS") == "1" else tmp_path
    return str(folder / name)


def _demo_certificate(var: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}
    env["DSR_VAR_DIR"] = str(var)
    done = subprocess.run(
        [sys.executable, "-m", "dsr", "demo", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    erase = next(r for r in json.loads(done.stdout)["requests"] if r["kind"] == "erase")
    (eml,) = (var / "outbox").glob(f"*{erase['id']}.reply.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    (part,) = [p for p in message.iter_attachments() if p.get_filename() == "certificate.jws"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("ascii")


@pytest.fixture
def server(tmp_path: Path, postgres_url: str, smtp: MailSink) -> Iterator[tuple[str, str]]:
    """The demo's erasure certificate, and the app under uvicorn with the demo's keys."""
    services.redis_url_or_skip()
    from workers import runtime
    from workers.broker import broker

    var = tmp_path / "demo-var"
    token = _demo_certificate(var)
    settings = make_settings(tmp_path, postgres_url, smtp.port).model_copy(update={"var_dir": var})
    rt = Runtime(settings)
    migrate(rt.db_url)
    forget(broker.client, settings.broker_namespace)
    app = create_app(rt)
    port = free_port()
    srv = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
        )
    )
    thread = threading.Thread(target=srv.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", token
    srv.should_exit = True
    thread.join(timeout=10)
    forget(broker.client, settings.broker_namespace)
    runtime.set_runtime(None)
    rt.close()
    get_engine(rt.db_url).dispose()


@pytest.mark.timeout(900)  # the first run may install chromium
def test_the_demo_erasure_certificate_is_valid_on_the_page_until_one_byte_changes(
    chromium: Path,  # noqa: F811
    server: tuple[str, str],
    tmp_path: Path,
) -> None:
    """In Chromium: upload the demo's certificate.jws, read "valid, signed by Demo Company on
    <date>" (vi, then en), then upload it with one byte changed and read why it is refused."""
    from playwright.sync_api import expect, sync_playwright

    url, token = server
    good = tmp_path / "certificate.jws"
    good.write_text(token)
    at = token.index(".") + 30
    bad = tmp_path / "certificate-altered.jws"
    bad.write_text(token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :])
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), headless=True, args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 900, "height": 900}).new_page()
            page.goto(f"{url}/privacy")
            page.click("#check-certificate")
            expect(page.locator("h1")).to_have_text("Kiểm tra chứng nhận")
            page.set_input_files("#file", str(good))
            page.click("button.primary")
            expect(page.locator("#verdict")).to_contain_text("Hợp lệ, do Demo Company ký ngày")
            page.goto(f"{url}/privacy/certificate?lang=en")
            page.set_input_files("#file", str(good))
            page.click("button.primary")
            expect(page.locator("#verdict")).to_contain_text("Valid, signed by Demo Company on")
            expect(page.locator("#verdict")).to_contain_text("nothing left")
            page.screenshot(path=_shot(tmp_path, "certificate-valid.png"), full_page=True)
            page.set_input_files("#file", str(bad))
            page.click("button.primary")
            expect(page.locator("#verdict")).to_contain_text("was changed after it was signed")
            page.screenshot(path=_shot(tmp_path, "certificate-refused.png"), full_page=True)
        finally:
            browser.close()
