"""What the page says when things go wrong: bad token, CORS, an expired upload URL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Page, Request, Route, expect

from app.cli.frontend_server import FrontendServer
from tests.browser.pages import UploadPage
from tests.support.constants import TOKEN
from tests.support.servers import ApiServer, StorageServer

URL_TTL = 3  # seconds an upload URL is valid on the expiring API


def test_without_config_a_bad_token_says_401_and_a_pasted_one_works(
    page: Page, bare_frontend: FrontendServer, browser_api: ApiServer, files
):
    (path,) = files(("report.txt", 2000))
    ui = UploadPage(page).open(bare_frontend.origin)
    # No config.js: the connection settings are open and say what is missing.
    expect(page.locator("#settings")).to_have_attribute("open", "")
    expect(page.locator("#connection-summary")).to_contain_text("API URL and token missing")

    ui.connect(browser_api.url, "not-the-right-token-at-all")
    ui.pick(path)

    assert ui.wait_final("report.txt") == "failed"
    assert "The API refused the token (401)" in ui.status("report.txt")
    page.get_by_label("API token").fill(TOKEN)
    ui.row("report.txt").get_by_role("button", name="Retry").click()
    assert ui.wait_final("report.txt") == "done", ui.status("report.txt")
    assert requests.get(ui.download_url("report.txt"), timeout=30).content == path.read_bytes()


def test_a_page_from_an_origin_not_in_cors_origins_says_so(
    page: Page, foreign_frontend: FrontendServer, files
):
    (path,) = files(("blocked.txt", 100))
    ui = UploadPage(page).open(foreign_frontend.origin)
    ui.pick(path)
    assert ui.wait_final("blocked.txt") == "failed"
    status = ui.status("blocked.txt")
    assert "does not accept requests from" in status
    assert foreign_frontend.origin in status
    assert "CORS_ORIGINS" in status


@pytest.fixture(scope="module")
def expiring_api(browser_env: dict[str, str], browser_api: ApiServer) -> Iterator[ApiServer]:
    """A second API on the same storage whose upload URLs live only URL_TTL seconds."""
    with ApiServer(browser_env | {"TEMPURL_TTL": str(URL_TTL)}, workers=1) as api:
        yield api


def test_an_upload_url_that_expired_is_replaced_and_the_upload_succeeds(
    page: Page, frontend: FrontendServer, expiring_api: ApiServer, swift: StorageServer, files
):
    (path,) = files(("late.bin", 200_000))
    puts: list[tuple[str, int]] = []  # (object URL, status; 0 = refused by the browser)
    page.on(
        "requestfinished",
        lambda r: r.method == "PUT" and puts.append((r.url.split("?")[0], r.response().status)),
    )
    page.on("requestfailed", lambda r: r.method == "PUT" and puts.append((r.url.split("?")[0], 0)))
    held: list[str] = []

    def hold_the_first_put(route: Route, request: Request) -> None:
        # As if the tab slept between getting the URL and sending the file.
        if request.method == "PUT" and not held:
            held.append(request.url)
            time.sleep(URL_TTL + 1.5)
        route.continue_()

    page.route(f"{swift.url}/**", hold_the_first_put)
    ui = UploadPage(page).open(frontend.origin)
    ui.connect(expiring_api.url, TOKEN)
    ui.pick(path)

    assert ui.wait_final("late.bin") == "done", ui.status("late.bin")
    # Swift refused the expired URL (its 401 has no CORS headers, so the browser sees a
    # failure); the page got a fresh URL for a new object, and that PUT stored the file.
    *refused, (last, stored) = puts
    assert refused and stored == 201, puts
    assert all(status in (0, 401) for _, status in refused), puts
    assert refused[0][0] != last
    # The fresh URL was for a new object: the one the download serves once completed.
    object_name = urlsplit(ui.download_url("late.bin")).path.rsplit("/", 1)[1]
    assert last.endswith(f"/{object_name}/000001")
    assert requests.get(ui.download_url("late.bin"), timeout=30).content == path.read_bytes()
