"""The Uppy plugin (@upload-signer/client/uppy) in Chromium: a page bundled by esbuild from the
package as installed in tests/npm/, against the embedded Swift."""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Page, Request, Route
from swiftclient.client import Connection

from app.cli.frontend_server import FrontendServer
from tests.support.constants import TOKEN
from tests.support.servers import ApiServer, StorageServer

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "tests" / "npm" / "node_modules"
KiB = 1024
MiB = 1024 * KiB
PART = 2 * MiB
SIZE = 12 * MiB  # six parts
SEGMENTS = "uppy-big_segments"
CONTAINER = "uppy-uploads"
PAGE = b"""<!doctype html><meta charset="utf-8"><title>Uppy</title>
<input id="files" type="file" multiple><script type="module" src="/uppy-bundle.js"></script>"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrontendServer]:
    """uppy.html and its bundle (esbuild, from the installed package) on an origin of their own."""
    esbuild = NODE_MODULES / ".bin" / "esbuild"
    if not esbuild.exists():
        pytest.fail("tests/npm is not installed: `make test` runs npm install there")
    work = tmp_path_factory.mktemp("uppy-bundle")
    (work / "node_modules").symlink_to(NODE_MODULES)
    (work / "entry.js").write_text((Path(__file__).parent / "uppy_page.js").read_text())
    served = work / "site"
    served.mkdir()
    subprocess.run(
        [str(esbuild), "entry.js", "--bundle", "--format=esm", "--outfile=site/uppy-bundle.js"],
        cwd=work,
        check=True,
        capture_output=True,
        timeout=120,
    )
    code = (served / "uppy-bundle.js").read_bytes()
    assert b"hashwasm" in code, "the MD5 code is in the bundle"
    (served / "uppy.html").write_bytes(PAGE)
    with FrontendServer(directory=served) as server:
        yield server


@pytest.fixture(scope="module")
def small_api(
    swift: StorageServer, site: FrontendServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    env = swift.env | {
        "API_TOKENS": TOKEN,
        "CORS_ORIGINS": site.origin,
        "UPLOAD_CONTAINER": CONTAINER,
    }
    log = tmp_path_factory.mktemp("uppy-small-api") / "gunicorn.log"
    with ApiServer(env, log_path=log) as api:
        yield api


def open_uppy(page: Page, site: FrontendServer, api: ApiServer, **options) -> None:
    page.goto(f"{site.origin}/uppy.html")
    page.wait_for_function("typeof window.startUppy === 'function'")
    page.evaluate(
        "([apiBase, token, options]) => window.startUppy(apiBase, token, options)",
        [api.url, TOKEN, options],
    )


def pick_and_upload(page: Page, paths: list[Path]) -> None:
    page.locator("#files").set_input_files([str(path) for path in paths])
    page.wait_for_function(f"window.uppy.getFiles().length === {len(paths)}")
    page.evaluate("() => { window.uploaded = window.uppy.upload(); }")


def wait_settled(page: Page, count: int, timeout: float = 60_000) -> dict:
    page.wait_for_function(
        f"window.seen.success.length + window.seen.error.length >= {count}", timeout=timeout
    )
    return page.evaluate("window.seen")


def count_requests(page: Page) -> list[tuple[str, str, str]]:
    """Every request Chromium sends, preflights included: (method, origin, path)."""
    seen: list[tuple[str, str, str]] = []
    cdp = page.context.new_cdp_session(page)

    def record(event: dict) -> None:
        url = urlsplit(event["request"]["url"])
        seen.append((event["request"]["method"], f"{url.scheme}://{url.netloc}", url.path))

    cdp.on("Network.requestWillBeSent", record)
    cdp.send("Network.enable")
    return seen


def test_one_small_file(page: Page, site: FrontendServer, small_api: ApiServer, files):
    (path,) = files(("uppy small.txt", 10 * KiB))
    open_uppy(page, site, small_api)
    pick_and_upload(page, [path])
    seen = wait_settled(page, 1)
    assert seen["error"] == []
    (success,) = seen["success"]
    assert success["status"] == 200
    assert success["uploadURL"] == success["body"]["download_url"]
    assert set(success["body"]) >= {"object_name", "download_url", "etag"}
    response = requests.get(success["uploadURL"], timeout=30)
    assert response.content == path.read_bytes()
    assert page.evaluate("window.uppy.getFiles()[0].progress.uploadComplete") is True
    assert page.errors == []


def test_twenty_files_come_back_identical_in_few_requests(
    page: Page, site: FrontendServer, small_api: ApiServer, swift: StorageServer, files
):
    count = 20
    paths = files(*[(f"uppy {n:02}.bin", 50 * KiB) for n in range(count)])
    open_uppy(page, site, small_api)
    requests_seen = count_requests(page)
    pick_and_upload(page, paths)
    seen = wait_settled(page, count)
    assert seen["error"] == []
    by_name = {success["name"]: success for success in seen["success"]}
    for path in paths:
        response = requests.get(by_name[path.name]["uploadURL"], timeout=30)
        assert response.content == path.read_bytes(), path.name
        assert path.name in response.headers["Content-Disposition"]
    origins = {small_api.url, swift.url}
    counted = Counter((m, o) for m, o, _ in requests_seen if o in origins)
    total = sum(counted.values())
    print(f"requests for {count} files through Uppy:", dict(counted), total / count, "per file")
    assert counted[("POST", swift.url)] == count, counted
    assert total <= 1.5 * count, counted
    assert page.errors == []


def test_cancel_all_stops_the_rest_and_keeps_none_of_it(
    page: Page, site: FrontendServer, small_api: ApiServer, files, storage: Connection
):
    count = 20
    paths = files(*[(f"uppy cancel {n:02}.bin", 100 * KiB) for n in range(count)])
    before = {entry["name"] for entry in storage.get_container(CONTAINER, full_listing=True)[1]}
    open_uppy(page, site, small_api)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 200 * KiB},
    )
    pick_and_upload(page, paths)
    page.wait_for_function("window.seen.success.length >= 1", timeout=30_000)
    page.evaluate("() => window.uppy.cancelAll()")
    time.sleep(3)  # the cancelled uploads' DELETEs
    seen = page.evaluate("window.seen")
    assert seen["error"] == []
    assert 1 <= len(seen["success"]) < count
    assert page.evaluate("window.uppy.getFiles().length") == 0
    after = {entry["name"] for entry in storage.get_container(CONTAINER, full_listing=True)[1]}
    served = {urlsplit(s["body"]["download_url"]).path for s in seen["success"]}
    new = after - before
    # Only what succeeded is stored (a name may carry a marker object of its own).
    assert all(any(path.endswith("/" + name) for path in served) for name in new if "." in name)
    assert len([name for name in new if "." in name]) <= len(seen["success"]), new
    assert page.errors == []


@pytest.fixture(scope="module")
def big_api(site: FrontendServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """An origin for the page and an API on a Swift whose max_file_size is 10 MiB, cutting
    large files into 2 MiB parts."""
    with StorageServer(tmp_path_factory.mktemp("uppy-swift"), max_file_size=10 * MiB) as swift:
        env = swift.env | {
            "API_TOKENS": TOKEN,
            "CORS_ORIGINS": site.origin,
            "UPLOAD_CONTAINER": "uppy-big",
            "SEGMENT_SIZE": str(PART),
        }
        log = tmp_path_factory.mktemp("uppy-api") / "gunicorn.log"
        with ApiServer(env, workers=1, log_path=log) as api:
            yield api


def part_number(request: Request) -> int | None:
    if request.method != "PUT" or f"/{SEGMENTS}/" not in request.url:
        return None
    return int(request.url.split("?")[0].rsplit("/", 1)[1])


def test_a_segmented_file_sends_each_part_with_its_md5_and_retries_a_failed_part(
    page: Page, site: FrontendServer, big_api: ApiServer, files
):
    (path,) = files(("uppy big.bin", SIZE))
    data = path.read_bytes()
    open_uppy(page, site, big_api, checksum=True)
    puts: Counter = Counter()
    etags: dict[int, str] = {}
    failed: list[int] = []

    def seen_request(request: Request) -> None:
        if (number := part_number(request)) is not None:
            puts[number] += 1
            etags.setdefault(number, request.headers.get("etag", ""))

    def fail_first_part_once(route: Route, request: Request) -> None:
        if part_number(request) == 1 and not failed:
            failed.append(1)
            route.fulfill(
                status=503,
                headers={"Access-Control-Allow-Origin": site.origin, "Retry-After": "1"},
                body="busy",
            )
        else:
            route.continue_()

    page.on("request", seen_request)
    page.route(f"**/{SEGMENTS}/**", fail_first_part_once)
    pick_and_upload(page, [path])
    seen = wait_settled(page, 1, timeout=120_000)
    assert seen["error"] == []
    (success,) = seen["success"]
    assert failed == [1]
    assert puts == {1: 2, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1}  # only the failed part went twice
    for number, etag in etags.items():
        chunk = data[(number - 1) * PART : number * PART]
        assert etag == hashlib.md5(chunk).hexdigest(), number  # noqa: S324
    assert seen["progress"]["uppy big.bin"] == SIZE
    response = requests.get(success["uploadURL"], timeout=60)
    assert response.content == data
    assert page.errors == []
