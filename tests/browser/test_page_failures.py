"""What the page says when things go wrong: bad token, CORS, an expired upload form."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Page, Request, Route, expect

from app.cli.frontend_server import FrontendServer
from tests.browser.pages import UploadPage
from tests.support.constants import TOKEN
from tests.support.servers import ApiServer, StorageServer
from tests.support.waiting import wait_until

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


def form_expiry(request: Request) -> int:
    """The ``expires`` field of an upload form being POSTed: storage refuses it after then."""
    found = re.search(rb'name="expires"\r\n\r\n(\d+)\r\n', request.post_data_buffer or b"")
    assert found, "the form POST has no expires field"
    return int(found[1])


@pytest.fixture(scope="module")
def expiring_api(browser_env: dict[str, str], browser_api: ApiServer) -> Iterator[ApiServer]:
    """A second API on the same storage whose upload URLs live only URL_TTL seconds."""
    with ApiServer(browser_env | {"TEMPURL_TTL": str(URL_TTL)}, workers=1) as api:
        yield api


def test_an_upload_form_that_expired_is_replaced_and_the_upload_succeeds(
    page: Page, frontend: FrontendServer, expiring_api: ApiServer, swift: StorageServer, files
):
    (path,) = files(("late.bin", 200_000))
    posts: list[tuple[str, int]] = []  # (form URL, status; 0 = refused by the browser)
    to_storage = f"{swift.url}/"
    page.on(
        "requestfinished",
        lambda r: (
            r.method == "POST"
            and r.url.startswith(to_storage)
            and posts.append((r.url, r.response().status))
        ),
    )
    page.on(
        "requestfailed",
        lambda r: r.method == "POST" and r.url.startswith(to_storage) and posts.append((r.url, 0)),
    )
    held: list[str] = []

    def hold_the_first_form(route: Route, request: Request) -> None:
        # As if the tab slept between getting the form and sending the file: until it expired.
        if request.method == "POST" and not held:
            held.append(request.url)
            expires = form_expiry(request)
            wait_until(lambda: time.time() > expires, timeout=URL_TTL + 30, interval=0.1)
        route.continue_()

    page.route(f"{swift.url}/**", hold_the_first_form)
    ui = UploadPage(page).open(frontend.origin)
    ui.connect(expiring_api.url, TOKEN)
    ui.pick(path)

    assert ui.wait_final("late.bin") == "done", ui.status("late.bin")
    # Swift refused the expired form (its 401 has no CORS headers, so the browser sees a
    # failure); the page got a fresh form for a new object, and that POST stored the file.
    *refused, (last, stored) = posts
    assert refused and stored == 201, posts
    assert all(status in (0, 401) for _, status in refused), posts
    assert refused[0][0] != last
    # The form stores the file staged in the segments container; completion publishes it.
    object_name = ui.row("late.bin").get_attribute("data-object-name")
    assert last.endswith(f"_segments/{object_name}/00000"), (last, object_name)
    assert f"/{object_name}?" in ui.download_url("late.bin")
    assert requests.get(ui.download_url("late.bin"), timeout=30).content == path.read_bytes()
