"""Cancel in the middle of a segmented upload, in Chromium against the real API and Swift: once
the page says "Cancelled", nothing of the upload is stored, not even a part whose body had gone
out whole when Cancel was clicked.

Storage stores a request whose body it has received in full, whether the browser still waits
for the answer or has aborted it. To make that moment last, the page reaches Swift through
``HoldingRelay``, which keeps the last byte of part 2 back until it is released: the browser
has sent all of part 2, storage has not yet stored it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Page, expect
from swiftclient.client import Connection

from app.cli.frontend_server import FrontendServer
from tests.browser.pages import UploadPage
from tests.browser.relay import HoldingRelay
from tests.support.constants import TOKEN
from tests.support.servers import ApiServer, StorageServer

MiB = 1024 * 1024
SIZE = 12 * MiB  # six parts of 2 MiB
CONTAINER = "cancel-uploads"
SEGMENTS = f"{CONTAINER}_segments"
# Records, in the page, the storage requests whose whole body has gone out (XHR upload "load").
RECORD_SENT = """(() => {
  window.sentWhole = [];
  const open = XMLHttpRequest.prototype.open;
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    this.recordedUrl = String(url);
    return open.call(this, method, url, ...rest);
  };
  XMLHttpRequest.prototype.send = function (body) {
    this.upload.addEventListener("load", () => window.sentWhole.push(this.recordedUrl));
    return send.call(this, body);
  };
})();"""


def is_part_2(method: str, path: str) -> bool:
    return method == "PUT" and f"/{SEGMENTS}/" in path and path.split("?")[0].endswith("/000002")


@pytest.fixture(scope="module")
def relayed(
    swift: StorageServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FrontendServer, ApiServer, HoldingRelay]]:
    """The page and an API whose storage URLs lead through the relay (it authenticates
    through it), cutting files over 4 MiB into 2 MiB parts."""
    with HoldingRelay(swift.url, is_part_2) as relay, FrontendServer() as frontend:
        env = swift.env | {
            "ST_AUTH": f"{relay.url}/auth/v1.0",
            "API_TOKENS": TOKEN,
            "CORS_ORIGINS": frontend.origin,
            "UPLOAD_CONTAINER": CONTAINER,
            "SEGMENT_THRESHOLD": "4M",
            "SEGMENT_SIZE": "2M",
        }
        log = tmp_path_factory.mktemp("cancel-api") / "gunicorn.log"
        with ApiServer(env, workers=1, log_path=log) as api:
            config = {"apiBase": api.url, "token": TOKEN, "upload": {"checksum": False}}
            frontend.config = f"export default {json.dumps(config)};\n".encode()
            yield frontend, api, relay


def test_cancel_mid_flight_leaves_nothing_of_a_segmented_upload_stored(
    page: Page, relayed: tuple[FrontendServer, ApiServer, HoldingRelay], storage: Connection, files
):
    frontend, api, relay = relayed
    (path,) = files(("cancel me.bin", SIZE))
    page.add_init_script(RECORD_SENT)
    deletes: list[str] = []

    def on_finished(request) -> None:
        if request.method == "DELETE":
            deletes.append(request.url)
            relay.release()  # whatever storage still had on the wire arrives now

    page.on("requestfinished", on_finished)
    ui = UploadPage(page).open(frontend.origin)
    ui.pick(path)
    row = ui.row("cancel me.bin")

    # Part 2 has gone out whole (the page knows it) and storage waits for its last byte.
    assert relay.held.wait(30), "part 2 never reached the relay"
    page.wait_for_function("() => window.sentWhole.some((url) => url.includes('/000002?'))")
    record = page.evaluate(
        "() => JSON.parse(localStorage.getItem(Object.keys(localStorage)"
        ".find((key) => key.startsWith('upload-signer.resume:'))))"
    )
    upload_id, object_name = record["upload_id"], record["object_name"]
    assert row.get_attribute("data-object-name") == object_name

    row.get_by_role("button", name="Cancel").click()
    relay.release_after(2)  # storage finishes part 2 soon, DELETE or not

    expect(row).to_have_attribute("data-state", "cancelled", timeout=30_000)
    assert relay.answered.wait(30), "storage never answered part 2"
    assert deletes, "the page sent no DELETE"
    _, listing = storage.get_container(SEGMENTS, prefix=f"{object_name}/")
    parts = [entry["name"] for entry in listing if entry["name"].rsplit("/", 1)[1].isdigit()]
    assert parts == [], f"stored after the cancel: {parts}"
    status = requests.get(
        f"{api.url}/uploads/{upload_id}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert status.status_code == 404
    assert page.errors == []
