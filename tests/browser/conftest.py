"""Browser fixtures: Debian's Chromium, the page on its own origin, an API that allows it.

The page (127.0.0.1:F) and the API (127.0.0.1:A) are different origins, so every request the
page makes is a real cross-origin one, checked by flask-cors and by Swift's container CORS.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from swiftclient.client import Connection

from app.cli.frontend_server import FrontendServer
from tests.browser.frontend import config_js, launch_chromium
from tests.browser.pages import CONTAINER
from tests.support.constants import TOKEN
from tests.support.servers import ApiServer, StorageServer

# Its own container: the API's start-up writes the container's CORS origins, and the other
# tests' API servers allow another origin on theirs.


@pytest.fixture(scope="session")
def frontend() -> Iterator[FrontendServer]:
    """The page on an origin the API allows; its config.js is set once the API runs."""
    with FrontendServer() as server:
        yield server


@pytest.fixture(scope="session")
def bare_frontend() -> Iterator[FrontendServer]:
    """The page as deployed without config.js: API URL and token come from its fields."""
    with FrontendServer(config=None) as server:
        yield server


@pytest.fixture(scope="session")
def browser_env(
    swift: StorageServer, frontend: FrontendServer, bare_frontend: FrontendServer
) -> dict[str, str]:
    """Settings for every API the browser tests start: they share one container and so
    must agree on its CORS origins."""
    return swift.env | {
        "API_TOKENS": TOKEN,
        "CORS_ORIGINS": f"{frontend.origin},{bare_frontend.origin}",
        "UPLOAD_CONTAINER": CONTAINER,
    }


@pytest.fixture(scope="session")
def browser_api(
    browser_env: dict[str, str],
    frontend: FrontendServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ApiServer]:
    log = tmp_path_factory.mktemp("browser-api") / "gunicorn.log"
    with ApiServer(browser_env, log_path=log) as api:
        frontend.config = config_js(api.url, TOKEN)
        yield api


@pytest.fixture(scope="session")
def foreign_frontend(browser_api: ApiServer) -> Iterator[FrontendServer]:
    """The same page and config on an origin that is NOT in the API's CORS_ORIGINS."""
    with FrontendServer(config_js(browser_api.url, TOKEN)) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, browser_api: ApiServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 960, "height": 720}, accept_downloads=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def storage(swift: StorageServer) -> Iterator[Connection]:
    """A swiftclient connection with the account's credentials, to look behind the page."""
    connection = Connection(
        authurl=swift.env["ST_AUTH"], user=swift.env["ST_USER"], key=swift.env["ST_KEY"]
    )
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def files(tmp_path: Path):
    """Makes files of random bytes: files(("name.bin", size), ...) -> [Path, ...]."""

    def make(*specs: tuple[str, int]) -> list[Path]:
        paths = []
        for name, size in specs:
            path = tmp_path / name
            path.write_bytes(os.urandom(size))
            paths.append(path)
        return paths

    return make
