"""The Uppy plugin (@upload-signer/client/uppy) in Chromium: a page bundled by esbuild from the
package as installed in tests/npm/, against the embedded Swift."""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Page, Request, Route
from swiftclient.client import ClientException, Connection

from app.cli.frontend_server import FrontendServer
from app.uploads import layout
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
SMALL_SEGMENTS = f"{CONTAINER}_segments"
SECOND_TOKEN = "test-token-second-0123456789"
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


def add_files(page: Page, paths: list[Path], total: int) -> None:
    """Picks `paths`; Uppy then holds `total` files."""
    page.locator("#files").set_input_files([str(path) for path in paths])
    page.wait_for_function(f"window.uppy.getFiles().length === {total}")


def pick_and_upload(page: Page, paths: list[Path]) -> None:
    add_files(page, paths, total=len(paths))
    page.evaluate(
        """() => {
            window.uploadSettled = false;
            window.uploaded = window.uppy.upload();
            window.uploaded.finally(() => { window.uploadSettled = true; });
        }"""
    )


def wait_settled(page: Page, count: int, timeout: float = 60_000) -> dict:
    page.wait_for_function(
        f"window.seen.success.length + window.seen.error.length >= {count}", timeout=timeout
    )
    return page.evaluate("window.seen")


def wait_until(
    page: Page, condition: Callable[[], bool], message: str, timeout: float = 60
) -> None:
    """Checks `condition` until it holds; fails after `timeout` seconds. The page waits in
    between, so Playwright goes on handling its events."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        page.wait_for_timeout(100)


def api_log(page: Page) -> list[dict]:
    """The page's API calls (uppy_page.js records them), the reachability probe left out."""
    return [entry for entry in page.evaluate("window.apiLog") if entry["path"] != "/healthz"]


def signing_requests(log: list[dict]) -> list[dict]:
    return [entry for entry in log if entry["method"] == "POST" and entry["path"] == "/uploads"]


def sent_files(entry: dict) -> list[dict]:
    """The files a POST /uploads asked for: a batch's `files`, or the one file."""
    return entry["body"]["files"] if "files" in entry["body"] else [entry["body"]]


def signed_files(log: list[dict]) -> list[dict]:
    """Every file the API signed: each POST /uploads's answer, a batch's `files` or the one."""
    return [
        signed
        for entry in signing_requests(log)
        if entry["status"] == 201
        for signed in entry["answer"].get("files", [entry["answer"]])
    ]


def signed_names(log: list[dict]) -> list[list[str]]:
    """The file names of each POST /uploads, in order."""
    return [[f["filename"] for f in sent_files(entry)] for entry in signing_requests(log)]


def record_storage_posts(page: Page, swift: StorageServer) -> list[str]:
    """The URLs of the form POSTs the page sends to storage, as they go."""
    posts: list[str] = []

    def record(request: Request) -> None:
        if request.method == "POST" and request.url.startswith(swift.url):
            posts.append(request.url)

    page.on("request", record)
    return posts


def listing(storage: Connection, container: str) -> set[str]:
    try:
        return {entry["name"] for entry in storage.get_container(container, full_listing=True)[1]}
    except ClientException as error:
        if error.http_status == 404:
            return set()
        raise


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
    before = listing(storage, CONTAINER)
    before_segments = listing(storage, SMALL_SEGMENTS)
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
    # The upload ends once every cancelled file has had its DELETE answered.
    page.wait_for_function("window.uploadSettled", timeout=60_000)
    seen = page.evaluate("window.seen")
    assert seen["error"] == []
    assert 1 <= len(seen["success"]) < count
    assert page.evaluate("window.uppy.getFiles().length") == 0

    log = api_log(page)
    signed = {f["object_name"]: f["upload_id"] for f in signed_files(log)}
    succeeded = {success["body"]["object_name"] for success in seen["success"]}
    assert succeeded <= signed.keys()
    cancelled = {name: upload_id for name, upload_id in signed.items() if name not in succeeded}
    assert cancelled, "some cancelled files had been signed"
    deleted = {
        entry["path"].removeprefix("/uploads/")
        for entry in log
        if entry["method"] == "DELETE" and entry["status"] in (204, 404)
    }
    assert deleted == set(cancelled.values()), "one DELETE per signed file cancelled, no other"

    def kept_only_the_successes() -> bool:
        published = listing(storage, CONTAINER) - before
        staged = listing(storage, SMALL_SEGMENTS) - before_segments
        left = {name for name in staged if layout.upload_of(name) in cancelled}
        markers = {layout.abort_marker(name) for name in cancelled}
        return published == succeeded and left == markers

    wait_until(page, kept_only_the_successes, "storage keeps the successes and abort markers only")
    staged = listing(storage, SMALL_SEGMENTS) - before_segments
    assert {layout.upload_of(name) for name in staged} <= signed.keys()
    assert page.errors == []


def test_a_restored_upload_sends_only_the_files_not_complete(
    page: Page, site: FrontendServer, small_api: ApiServer, swift: StorageServer, files
):
    """Golden Retriever restores an interrupted upload as Uppy state (each file `isRestored`, a
    finished one without its bytes) and runs it again with `uppy.restore`: the plugin is given
    every file of it. The finished one is not sent again; `upload-start` is emitted only for the
    one that had not started. A later `uppy.upload()` sends only the file added since."""
    done, started, fresh, later = files(
        ("uppy done.txt", 20 * KiB),
        ("uppy started.txt", 20 * KiB),
        ("uppy fresh.txt", 20 * KiB),
        ("uppy later.txt", 20 * KiB),
    )
    open_uppy(page, site, small_api)
    storage_posts = record_storage_posts(page, swift)
    pick_and_upload(page, [done])
    wait_settled(page, 1)
    add_files(page, [started, fresh], total=3)
    page.evaluate(
        """([done, started]) => {
            const files = { ...window.uppy.getState().files };
            const ids = {};
            for (const file of Object.values(files)) {
                ids[file.name] = file.id;
                const progress = file.name === started
                    ? { ...file.progress, uploadStarted: Date.now() - 60_000 }
                    : file.progress;
                const data = file.name === done ? undefined : file.data;
                files[file.id] = { ...file, isRestored: true, progress, data };
            }
            window.uppy.setState({
                files,
                currentUploads: { restored: { fileIDs: Object.values(ids), step: 0, result: {} } },
            });
            window.restored = window.uppy.restore("restored");
        }""",
        [done.name, started.name],
    )
    page.evaluate("window.restored")  # resolves once the restored upload has ended
    seen = page.evaluate("window.seen")
    assert seen["error"] == []
    assert sorted(s["name"] for s in seen["success"]) == sorted(
        [done.name, started.name, fresh.name]
    )
    assert seen["started"] == [done.name, fresh.name]  # the first upload's, then the fresh file
    assert signed_names(api_log(page)) == [[done.name], [started.name, fresh.name]]
    assert len(storage_posts) == 3

    add_files(page, [later], total=4)
    page.evaluate("() => { window.uploaded = window.uppy.upload(); }")
    seen = wait_settled(page, 4)
    assert seen["error"] == []
    assert seen["success"][-1]["name"] == later.name
    assert signed_names(api_log(page))[2:] == [[later.name]]
    assert len(storage_posts) == 4
    for path in (done, started, fresh, later):
        (success,) = [s for s in seen["success"] if s["name"] == path.name]
        assert requests.get(success["uploadURL"], timeout=30).content == path.read_bytes()
    assert page.errors == []


def test_edited_name_and_type_are_what_is_stored(
    page: Page, site: FrontendServer, small_api: ApiServer, files
):
    """The Dashboard's metadata editor changes `file.meta`: its name and type are sent."""
    (path,) = files(("uppy original.txt", 5 * KiB))
    open_uppy(page, site, small_api)
    add_files(page, [path], total=1)
    page.evaluate(
        """() => {
            const [file] = window.uppy.getFiles();
            window.uppy.setFileMeta(file.id, { name: "edited name.csv", type: "text/csv" });
            window.uploaded = window.uppy.upload();
        }"""
    )
    seen = wait_settled(page, 1)
    assert seen["error"] == []
    (sent,) = [f for entry in signing_requests(api_log(page)) for f in sent_files(entry)]
    assert (sent["filename"], sent["content_type"]) == ("edited name.csv", "text/csv")
    response = requests.get(seen["success"][0]["uploadURL"], timeout=30)
    assert response.content == path.read_bytes()
    assert "edited name.csv" in response.headers["Content-Disposition"]
    assert response.headers["Content-Type"].startswith("text/csv")
    assert page.errors == []


def test_a_remote_file_fails_at_once_and_the_local_ones_go_up(
    page: Page, site: FrontendServer, small_api: ApiServer, files
):
    (path,) = files(("uppy local.txt", 5 * KiB))
    open_uppy(page, site, small_api)
    add_files(page, [path], total=1)
    page.evaluate(
        """() => {
            window.uppy.addFile({
                name: "from drive.jpg",
                type: "image/jpeg",
                data: { size: 2048 },
                isRemote: true,
                remote: {
                    companionUrl: "https://companion.example",
                    url: "https://companion.example/drive/get/1",
                    requestClientId: "GoogleDrive",
                    provider: "drive",
                    providerName: "Google Drive",
                },
            });
            window.uploaded = window.uppy.upload();
        }"""
    )
    seen = wait_settled(page, 2)
    assert [s["name"] for s in seen["success"]] == [path.name]
    (error,) = seen["error"]
    assert error["name"] == "from drive.jpg"
    assert error["message"].startswith("UploadSigner uploads local files only; "), error
    assert "Google Drive" in error["message"]
    assert signed_names(api_log(page)) == [[path.name]]
    assert page.evaluate("window.uppy.getFiles().find((file) => file.isRemote).error"), (
        "Uppy marks the remote file as failed"
    )
    assert page.errors == []


def test_removing_the_plugin_cancels_its_uploads(
    page: Page, site: FrontendServer, small_api: ApiServer, files, storage: Connection
):
    paths = files(*[(f"uppy removed {n}.bin", 200 * KiB) for n in range(4)])
    before = listing(storage, CONTAINER)
    open_uppy(page, site, small_api)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 50 * KiB},
    )
    pick_and_upload(page, paths)
    # Signed, and far from sent at 50 KiB/s.
    page.wait_for_function("window.apiLog.some((e) => e.path === '/uploads' && e.status === 201)")
    page.evaluate("() => window.uppy.removePlugin(window.uppy.getPlugin('UploadSigner'))")
    page.wait_for_function("window.uploadSettled", timeout=60_000)
    seen = page.evaluate("window.seen")
    assert seen["success"] == [] and seen["error"] == []
    log = api_log(page)
    signed = {f["upload_id"] for f in signed_files(log)}
    assert signed
    deleted = {
        entry["path"].removeprefix("/uploads/")
        for entry in log
        if entry["method"] == "DELETE" and entry["status"] in (204, 404)
    }
    assert deleted == signed
    assert not [entry for entry in log if entry["path"].startswith("/uploads/complete")]
    assert listing(storage, CONTAINER) == before
    assert page.errors == []


@pytest.fixture(scope="module")
def two_token_api(
    swift: StorageServer, site: FrontendServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    env = swift.env | {
        # One caller's two tokens, as when a token is replaced: an upload is its caller's.
        "API_TOKENS": f"uppy:{TOKEN},uppy:{SECOND_TOKEN}",
        "CORS_ORIGINS": site.origin,
        "UPLOAD_CONTAINER": CONTAINER,
    }
    log = tmp_path_factory.mktemp("uppy-tokens-api") / "gunicorn.log"
    with ApiServer(env, workers=1, log_path=log) as api:
        yield api


def test_a_token_function_is_asked_before_each_api_request(
    page: Page, site: FrontendServer, two_token_api: ApiServer, files
):
    """Each API request carries a token the function gave for it, so an upload that outlasts
    one token goes on with the next."""
    paths = files(*[(f"uppy token {n}.txt", 5 * KiB) for n in range(3)])
    open_uppy(page, site, two_token_api, tokens=[TOKEN, SECOND_TOKEN], completeBatch=1)
    pick_and_upload(page, paths)
    seen = wait_settled(page, 3)
    assert seen["error"] == []
    calls = [entry for entry in api_log(page) if entry["path"].startswith("/uploads")]
    assert len(calls) >= 4  # one signing request, then a completion per file
    given = page.evaluate("window.tokensGiven")
    # The first is asked for as the upload starts; each request then asks again.
    assert len(given) == len(calls) + 1
    assert Counter(entry["auth"] for entry in calls) == Counter(f"Bearer {t}" for t in given[1:])
    assert {entry["auth"] for entry in calls} == {f"Bearer {TOKEN}", f"Bearer {SECOND_TOKEN}"}
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
