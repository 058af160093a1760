"""The demo page as tests drive it: open it, give it files, read its rows."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

FINAL = re.compile("^(done|failed|cancelled)$")
# The container the page tests upload to (the session API of tests/browser/conftest.py).
CONTAINER = "browser-uploads"


class UploadPage:
    def __init__(self, page: Page) -> None:
        self.page = page

    def open(self, origin: str) -> UploadPage:
        self.page.goto(f"{origin}/")
        expect(self.page.locator("html")).to_have_attribute("data-ready", "true")
        return self

    def connect(self, api_base: str, token: str) -> None:
        """Types the settings as a person would (the page then ignores config.js)."""
        if not self.page.locator("#settings").evaluate("details => details.open"):
            self.page.locator("#settings summary").click()
        self.page.get_by_label("API URL").fill(api_base)
        self.page.get_by_label("API token").fill(token)

    def pick(self, *paths: Path) -> None:
        self.page.locator("#files").set_input_files([str(path) for path in paths])

    def row(self, name: str) -> Locator:
        return self.page.locator("li.upload").filter(
            has=self.page.locator(".upload-name", has_text=name)
        )

    def wait_final(self, name: str, timeout: float = 30_000) -> str:
        row = self.row(name)
        expect(row).to_have_attribute("data-state", FINAL, timeout=timeout)
        return row.get_attribute("data-state") or ""

    def status(self, name: str) -> str:
        return self.row(name).locator(".upload-status").inner_text()

    def download_url(self, name: str) -> str:
        return self.row(name).locator("a.download").get_attribute("href") or ""

    def throttle_uploads(self, bytes_per_second: int) -> None:
        """Slows the page's uploads down (DevTools network emulation) to keep one in flight."""
        cdp = self.page.context.new_cdp_session(self.page)
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": 0,
                "downloadThroughput": -1,
                "uploadThroughput": bytes_per_second,
            },
        )
