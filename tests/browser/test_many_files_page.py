"""Many small files through the page: batches, few requests per file, Cancel all."""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

import requests
from playwright.sync_api import Page, expect
from swiftclient.client import ClientException, Connection

from app.cli.frontend_server import FrontendServer
from tests.browser.pages import CONTAINER, UploadPage
from tests.support.servers import ApiServer, StorageServer

KiB = 1024
COUNT = 50


def count_requests(page: Page) -> list[tuple[str, str]]:
    """Every request Chromium sends, preflights included, as (method, origin), from its own
    network log (Playwright's request events leave preflights out)."""
    seen: list[tuple[str, str]] = []
    cdp = page.context.new_cdp_session(page)
    cdp.on(
        "Network.requestWillBeSent",
        lambda event: seen.append(
            (
                event["request"]["method"],
                "{0.scheme}://{0.netloc}".format(urlsplit(event["request"]["url"])),
            )
        ),
    )
    cdp.send("Network.enable")
    return seen


def test_fifty_small_files_go_up_in_few_requests_and_come_back_identical(
    page: Page, frontend: FrontendServer, browser_api: ApiServer, swift: StorageServer, files
):
    paths = files(*[(f"small {n:02}.bin", 100 * KiB) for n in range(COUNT)])
    ui = UploadPage(page).open(frontend.origin)
    seen = count_requests(page)

    ui.pick(*paths)

    for path in paths:
        assert ui.wait_final(path.name, timeout=60_000) == "done", ui.status(path.name)
    for path in paths:
        response = requests.get(ui.download_url(path.name), timeout=30)
        assert response.content == path.read_bytes(), path.name
        assert path.name in response.headers["Content-Disposition"]
    expect(page.locator("#overall-text")).to_contain_text(f"{COUNT} of {COUNT} files uploaded")

    origins = {browser_api.url, swift.url}
    counted = Counter((method, origin) for method, origin in seen if origin in origins)
    print("requests by method and origin:", dict(counted))
    total = sum(counted.values())
    assert total <= 1.5 * COUNT, counted
    assert counted[("POST", swift.url)] == COUNT, counted
    assert counted[("OPTIONS", swift.url)] == 0, "small forms need no preflight"
    assert page.errors == []


def test_cancel_all_cancels_what_is_left_and_serves_none_of_it(
    page: Page, frontend: FrontendServer, files, storage: Connection
):
    paths = files(*[(f"cancel {n:02}.bin", 100 * KiB) for n in range(COUNT)])
    ui = UploadPage(page).open(frontend.origin)
    ui.throttle_uploads(200 * KiB)  # half a second per file: most are still to go

    ui.pick(*paths)
    expect(page.locator("li.upload[data-state=done]").first).to_be_attached(timeout=30_000)
    page.get_by_role("button", name="Cancel all").click()

    for path in paths:
        assert ui.wait_final(path.name) in ("done", "cancelled")
    cancelled = page.locator("li.upload[data-state=cancelled]")
    assert cancelled.count() >= COUNT // 2
    expect(cancelled.first.locator(".upload-status")).to_have_text("Cancelled")
    expect(cancelled.first.get_by_role("button", name="Retry")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel all")).to_be_disabled()
    # Nothing of a cancelled file is served, published or staged.
    for row in cancelled.all():
        object_name = row.get_attribute("data-object-name")
        if not object_name:
            continue  # never signed
        try:
            storage.head_object(CONTAINER, object_name)
        except ClientException as missing:
            assert missing.http_status == 404
        else:
            raise AssertionError(f"{object_name} is served")
        _, listing = storage.get_container(f"{CONTAINER}_segments", prefix=f"{object_name}/")
        assert [entry["name"] for entry in listing if entry["name"][-1].isdigit()] == []
    assert page.errors == []
