"""An uploaded page never runs on the storage origin, whatever a download URL is edited to ask."""

from __future__ import annotations

import time

import pytest
import requests
from playwright.sync_api import Error, Page
from swiftclient.client import Connection

from app.storage.signing import Signer
from tests.browser.pages import CONTAINER
from tests.support.constants import TOKEN
from tests.support.servers import ApiServer

PAGE = b"<html><head><title>start</title></head><body><script>document.title='ran'</script></body>"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def published(api: ApiServer, filename: str) -> dict:
    answer = requests.post(
        api.url + "/uploads", json={"filename": filename, "size": len(PAGE)}, headers=AUTH,
        timeout=30,
    ).json()  # fmt: skip
    assert requests.put(answer["upload_url"], data=PAGE, timeout=30).status_code == 201
    done = requests.post(f"{api.url}/uploads/{answer['upload_id']}/complete", headers=AUTH,
                         timeout=30)  # fmt: skip
    assert done.status_code == 200, done.text
    return answer


def title_after_opening(page: Page, url: str) -> str | None:
    """The page's title once Chromium opened ``url``; None when it downloaded it instead."""
    downloads: list[object] = []

    def downloaded(download: object) -> None:
        downloads.append(download)

    page.on("download", downloaded)
    try:
        page.goto(url)
    except Error as exc:  # Playwright's goto fails with "Download is starting" for a download
        assert "Download is starting" in str(exc), exc
        return None
    finally:
        page.remove_listener("download", downloaded)
    assert not downloads
    return page.title()


@pytest.mark.parametrize("filename", ["page.html", "drawing.svg", "doc.xhtml"])
def test_an_uploaded_page_opened_inline_is_downloaded_never_run(page, browser_api, filename):
    answer = published(browser_api, filename)
    for suffix in ("&inline", "&inline&filename=x.html", "&filename=x.html"):
        assert title_after_opening(page, answer["download_url"] + suffix) is None, suffix


def test_the_same_page_stored_with_its_own_type_would_run(page, storage: Connection):
    """What the service prevents: a text/html object opened with ``&inline`` runs its script."""
    name = f"control-{time.time_ns()}.html"
    storage.put_object(CONTAINER, name, PAGE, content_type="text/html")
    key = storage.head_account()["x-account-meta-temp-url-key"]
    signer = Signer(storage.url, CONTAINER, key)
    url = signer.sign("GET", name, int(time.time()) + 60) + "&inline"
    try:
        assert title_after_opening(page, url) == "ran"
    finally:
        storage.delete_object(CONTAINER, name)
