"""Browser-test fixtures: the real app served on a free port, a page of its own in Debian's headless
Chromium, which the session starts once."""

import shutil
import threading

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from common.settings import REPO_ROOT
from webapp import create_app

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def served_app(stack):
    """The app's URL, polling every second and calling data stale after 4 s."""
    app = create_app({"DATABASE_URL": stack.database_url, "POLL_SECONDS": 1, "STALE_SECONDS": 4})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session (launching it took about a second a test)."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is not installed: run make setup"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page of a desktop-sized window, in its own context (cookies, storage, cache, init
    scripts), so that the tests sharing the browser stay independent."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture
def artifacts():
    """test-artifacts/, where screenshots are kept."""
    folder = REPO_ROOT / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder
