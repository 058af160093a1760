"""Debian's Chromium as the browser tests and ``bench/browser_upload.py`` launch it."""

from __future__ import annotations

from playwright.sync_api import Browser, Playwright

from app.cli.dev import frontend_config

CHROMIUM = "/usr/bin/chromium"
# No internet here: without these, Chromium keeps trying to reach Google services.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-dev-shm-usage",
]


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def config_js(api_base: str, token: str) -> bytes:
    """The config.js that ``upload-signer dev`` writes."""
    return frontend_config(api_base, token).encode()
