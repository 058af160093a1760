"""Segmented uploads through the demo page in Chromium: a Swift whose max_file_size is 10 MiB
(so a 12 MiB file cannot go up in one PUT), the API cutting it into 2 MiB parts, the page on
another origin. Parts are counted from the browser's own requests."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import requests
from playwright.sync_api import Page, Request, Route, expect
from swiftclient.client import Connection

from app.cli.frontend_server import FrontendServer
from tests.browser.pages import UploadPage
from tests.support.constants import TOKEN
from tests.support.servers import ApiServer, StorageServer

MiB = 1024 * 1024
PART = 2 * MiB
SIZE = 12 * MiB  # six parts
SEGMENTS = "big-uploads_segments"


@pytest.fixture(scope="module")
def small_swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StorageServer]:
    with StorageServer(tmp_path_factory.mktemp("small-swift"), max_file_size=10 * MiB) as swift:
        yield swift


@pytest.fixture(scope="module")
def big_page(
    small_swift: StorageServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FrontendServer]:
    """The page, served with a config.js that points at an API on the small Swift."""
    with FrontendServer() as frontend:
        env = small_swift.env | {
            "API_TOKENS": TOKEN,
            "CORS_ORIGINS": frontend.origin,
            "UPLOAD_CONTAINER": "big-uploads",
            "SEGMENT_SIZE": str(PART),
            "PART_URL_BATCH": "2",  # URLs come in batches of two: the page fetches the rest
        }
        log = tmp_path_factory.mktemp("segmented-api") / "gunicorn.log"
        with ApiServer(env, workers=1, log_path=log) as api:
            # Always hash (the default, "auto", may skip MD5s on a busy machine).
            config = {"apiBase": api.url, "token": TOKEN, "upload": {"checksum": True}}
            frontend.config = f"export default {json.dumps(config)};\n".encode()
            yield frontend


def part_number(request: Request) -> int | None:
    """The part a storage PUT carries (segments are ``<object>/<number:06d>``), else None."""
    if request.method != "PUT" or f"/{SEGMENTS}/" not in request.url:
        return None
    return int(request.url.split("?")[0].rsplit("/", 1)[1])


def count_part_puts(page: Page) -> Counter:
    counts: Counter = Counter()

    def seen(request: Request) -> None:
        if (number := part_number(request)) is not None:
            counts[number] += 1

    page.on("request", seen)
    return counts


def check_download(ui: UploadPage, name: str, data: bytes) -> None:
    response = requests.get(ui.download_url(name), timeout=30)
    assert response.status_code == 200
    assert response.content == data
    assert f"filename*=UTF-8''{quote(name, safe='')}" in response.headers["Content-Disposition"]


def test_a_file_over_max_file_size_goes_up_in_parts_with_one_progress_bar(
    page: Page, big_page: FrontendServer, files
):
    (path,) = files(("big video.mp4", SIZE))
    data = path.read_bytes()
    ui = UploadPage(page).open(big_page.origin)
    puts = count_part_puts(page)
    etags: dict[int, str] = {}
    page.on(
        "request",
        lambda r: (n := part_number(r)) is not None and etags.setdefault(n, r.headers.get("etag")),
    )
    ui.throttle_uploads(24 * MiB)  # about half a second: progress shows between 0 and 100
    page.evaluate(
        """() => {
          window.progressSeen = [];
          new MutationObserver(() => window.progressSeen.push(
            document.querySelector("li.upload progress").value)
          ).observe(document.body, { attributes: true, attributeFilter: ["value"], subtree: true });
        }"""
    )

    ui.pick(path)

    assert ui.wait_final("big video.mp4") == "done", ui.status("big video.mp4")
    assert puts == {n: 1 for n in range(1, 7)}
    # Each part carried its own MD5 (Swift refuses a part whose bytes differ).
    for number, etag in etags.items():
        chunk = data[(number - 1) * PART : number * PART]
        assert etag == hashlib.md5(chunk).hexdigest(), number  # noqa: S324
    row = ui.row("big video.mp4")
    expect(row.locator("progress")).to_have_count(1)
    expect(row.locator(".upload-parts")).to_have_text("6 of 6 parts")
    seen = page.evaluate("window.progressSeen")
    assert any(0 < value < 100 for value in seen) and seen[-1] == 100, seen
    check_download(ui, "big video.mp4", data)
    expect(page.locator("#unfinished")).to_be_hidden()
    assert page.errors == []


def test_a_part_that_fails_once_is_retried_and_the_upload_succeeds(
    page: Page, big_page: FrontendServer, files
):
    (path,) = files(("flaky.bin", SIZE))
    data = path.read_bytes()
    ui = UploadPage(page).open(big_page.origin)
    puts = count_part_puts(page)
    failed: list[int] = []

    def fail_part_2_once(route: Route, request: Request) -> None:
        if part_number(request) == 2 and not failed:
            failed.append(2)
            # With CORS headers, as a proxy in front of Swift would answer: the page sees 503.
            route.fulfill(
                status=503,
                headers={"Access-Control-Allow-Origin": big_page.origin, "Retry-After": "1"},
                body="busy",
            )
        else:
            route.continue_()

    page.route(f"**/{SEGMENTS}/**", fail_part_2_once)

    ui.pick(path)

    assert ui.wait_final("flaky.bin") == "done", ui.status("flaky.bin")
    assert failed == [2]
    assert puts == {1: 1, 2: 2, 3: 1, 4: 1, 5: 1, 6: 1}  # only the failed part went twice
    check_download(ui, "flaky.bin", data)
    assert page.errors == []


def test_after_a_reload_the_same_file_resumes_with_only_the_missing_parts(
    page: Page, big_page: FrontendServer, files
):
    (path,) = files(("resume me.iso", SIZE))
    data = path.read_bytes()
    ui = UploadPage(page).open(big_page.origin)
    before = count_part_puts(page)
    # Parts 4-6 never get an answer: the upload is stuck with parts 1-3 stored.
    page.route(
        f"**/{SEGMENTS}/**",
        lambda route, request: None if (part_number(request) or 0) >= 4 else route.continue_(),
    )
    ui.pick(path)
    expect(ui.row("resume me.iso").locator(".upload-parts")).to_have_text("3 of 6 parts")

    page.reload()  # the tab is closed mid-way, as far as the upload knows
    # Only now: unrouting first would let the held PUTs through.
    page.unroute_all(behavior="ignoreErrors")
    expect(page.locator("html")).to_have_attribute("data-ready", "true")
    unfinished = page.locator("#unfinished")
    expect(unfinished).to_be_visible()
    expect(unfinished.locator(".unfinished-item")).to_contain_text("resume me.iso")
    expect(unfinished.locator(".unfinished-done")).to_contain_text("3 of 6 parts uploaded")
    assert sorted(before) == [1, 2, 3, 4, 5, 6] and before[1] == before[2] == before[3] == 1

    after = count_part_puts(page)
    ui.pick(path)  # picked again: same name, size and modification time

    assert ui.wait_final("resume me.iso") == "done", ui.status("resume me.iso")
    assert after == {4: 1, 5: 1, 6: 1}
    check_download(ui, "resume me.iso", data)
    expect(unfinished).to_be_hidden()
    assert page.errors == []


def test_an_unfinished_upload_can_be_discarded(
    page: Page, big_page: FrontendServer, small_swift: StorageServer, files
):
    (path,) = files(("never mind.bin", SIZE))
    ui = UploadPage(page).open(big_page.origin)
    page.route(
        f"**/{SEGMENTS}/**",
        lambda route, request: None if (part_number(request) or 0) >= 2 else route.continue_(),
    )
    ui.pick(path)
    row = ui.row("never mind.bin")
    expect(row.locator(".upload-parts")).to_have_text("1 of 6 parts")
    object_name = row.get_attribute("data-object-name")
    assert object_name and stored_segments(small_swift, object_name) == 1
    page.reload()
    page.unroute_all(behavior="ignoreErrors")
    item = page.locator(".unfinished-item", has_text="never mind.bin")
    item.get_by_role("button", name="Discard").click()
    expect(page.locator("#unfinished")).to_be_hidden()
    assert page.evaluate("Object.keys(localStorage).length") == 0
    assert stored_segments(small_swift, object_name) == 0  # DELETE /uploads/<id> removed it


def stored_segments(swift: StorageServer, object_name: str) -> int:
    """Parts stored for the object (the abort marker is not a part)."""
    env = swift.env
    storage = Connection(authurl=env["ST_AUTH"], user=env["ST_USER"], key=env["ST_KEY"])
    try:
        _, listing = storage.get_container(SEGMENTS, prefix=f"{object_name}/")
    finally:
        storage.close()
    return sum(1 for entry in listing if entry["name"].rsplit("/", 1)[1].isdigit())
