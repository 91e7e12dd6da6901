"""Headless Chromium at the review: ops see what each undecided record holds (masked) with the
reason in the page's language, support see that ops decide; 1280 and 390 px, vi and en, no
horizontal scroll and no axe-core violation.

Set ``DSR_UPDATE_SCREENSHOTS=1`` to write the screenshots to ``docs/screenshots/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import create_app
from demo.seed import DEMO_SUBJECT, seed
from dsr.core.runtime.process import Runtime
from tests.api.conftest import Keys
from tests.api.test_browser import ARGS, chromium, server  # noqa: F401 - shared fixtures
from tests.api.test_browser_desk import WIDTHS, _check, _log_in, _shots
from tests.family import add_family_account
from tests.inline import inline

REASON = {"vi": "thuộc một tài khoản khác", "en": "belongs to another account"}
CREATED = {"vi": "01/01/2024", "en": "1 January 2024"}


@pytest.fixture
def app(rt: Runtime) -> Iterator[FastAPI]:
    """Seeded stores plus a second account on the demo subject's phone; steps run inline."""
    seed(rt.settings.resolved_data_dir, 20, secret_key=rt.settings.keys.suppression, reset=True)
    add_family_account(rt.settings.resolved_data_dir)
    yield create_app(rt, enqueue=inline(rt))


@pytest.mark.timeout(900)
def test_ops_decide_from_what_the_store_holds_and_support_see_that_ops_decide(
    chromium: Path,  # noqa: F811
    server: str,  # noqa: F811
    app: FastAPI,
    keys: Keys,
    tmp_path: Path,
) -> None:
    """An erasure waiting for review: ops read the family account's masked name, identifiers
    and dates and the reason in vi and en; support see "waiting for ops" and no detail."""
    from playwright.sync_api import expect, sync_playwright

    with TestClient(app) as client:
        filed = client.post(
            "/requests",
            headers=Keys.header(keys.alice),
            json={"kind": "erase", "email": DEMO_SUBJECT["email"], "verified": True},
        )
        request_id = filed.json()["id"]
        assert client.get(f"/requests/{request_id}", headers=Keys.header(keys.ops)).json()[
            "status"
        ] == ("needs_review")
    shots = _shots(tmp_path)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), headless=True, args=ARGS)
        try:
            for width in WIDTHS:
                for lang in ("vi", "en"):
                    page = browser.new_page(viewport={"width": width, "height": 900})
                    _log_in(page, server, keys.ops, lang)
                    page.goto(f"{server}/web/requests/{request_id}")
                    row = page.locator('tr[data-ref^="crm:customers:"]')
                    expect(row.locator(".rec-name")).to_have_text("N***** T** M**")
                    expect(row.locator(".rec-created")).to_have_text(CREATED[lang])
                    expect(row.locator("[data-reason]")).to_contain_text(REASON[lang])
                    expect(page.locator("#review")).to_be_visible()
                    _check(page, lang, f"review ops {width} {lang}")
                    page.locator("#candidates").screenshot(
                        path=str(shots / f"desk-review-{lang}-{width}.png")
                    )
                    page.close()

                    page = browser.new_page(viewport={"width": width, "height": 900})
                    _log_in(page, server, keys.alice, lang)
                    page.goto(f"{server}/web/requests/{request_id}")
                    expect(page.locator("#waiting-ops")).to_be_visible()
                    expect(page.locator(".record")).to_have_count(0)
                    expect(page.locator("#review")).to_have_count(0)
                    _check(page, lang, f"review support {width} {lang}")
                    page.close()
        finally:
            browser.close()
