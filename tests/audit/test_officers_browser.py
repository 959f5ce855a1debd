"""End to end in a real browser: a preservation officer signs in to `khoso serve`'s page with
a token, sees the damaged location, follows the problem to the AIP's page, finds an AIP by
its id, and signs out.

Headless Debian Chromium driven by Python playwright (INFRA.md: never `playwright install`).
One catalog is enough here: the same pages are tested on both catalogs in test_reports.py.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from repository.api.app import create_app
from repository.config import load_settings
from tests.helpers.officers import token_for
from tests.helpers.require import missing
from tests.helpers.storage import flip_byte, location_root

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--no-first-run"]


@pytest.fixture
def served(khoso) -> Iterator[str]:  # type: ignore[no-untyped-def]
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(load_settings(str(khoso.home)), background=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_officer_follows_a_problem_to_the_aip_page(khoso, holding, served) -> None:  # type: ignore[no-untyped-def]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Python playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        missing("Debian chromium is not installed (apt-get install chromium)")
    aip = holding[0]
    path = khoso.json("aip", "show", aip)["files"][0]["path"]
    flip_byte(location_root(khoso.home, "offsite") / aip.replace(":", "_") / path)
    khoso.json("audit", code=1)
    token = token_for(khoso, "bao-quan")

    outside: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            # The page must work on an isolated network: any request elsewhere is a failure.
            page.route("**/*", lambda route: route.continue_()
                       if route.request.url.startswith(served)
                       else (outside.append(route.request.url), route.abort()))
            page.goto(served + "/")
            # Not signed in: the sign-in page, then back to where the officer was going.
            page.wait_for_url(f"{served}/login?next=/")
            page.fill("#token", token)
            page.locator("#sign-in").click()
            page.wait_for_url(f"{served}/")
            assert page.locator("#open-problem-count").inner_text() == "1"
            assert page.locator("#coverage-total").inner_text() == "75.0 %"
            row = page.locator("#locations tr", has_text="offsite")
            assert "50.0 %" in row.inner_text()
            assert page.locator("svg[aria-label='coverage per location']").is_visible()

            page.locator("#open-problems a", has_text=aip).click()
            page.wait_for_url(f"{served}/aips/**")
            assert page.locator("#aip-id").inner_text() == aip
            problem = page.locator("#problems tr", has_text=path)
            assert "corrupt" in problem.inner_text() and "open" in problem.inner_text()
            copies = page.locator("#copies").inner_text()
            assert "damaged" in copies and "verified" in copies

            page.fill("#aip-search", holding[1][-12:])
            page.locator("#find").click()
            page.wait_for_url("**/aips?q=*")
            assert page.locator("#aips").inner_text().count("urn:uuid:") == 1
            assert holding[1] in page.locator("#aips").inner_text()

            page.locator("#sign-out").click()
            page.wait_for_url(f"{served}/login?ended=signed-out")
            assert "You signed out" in page.locator("#session-ended").inner_text()
            page.goto(served + "/aips")
            page.wait_for_url(f"{served}/login?next=/aips")
        finally:
            browser.close()
    assert outside == []
