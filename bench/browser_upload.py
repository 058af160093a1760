"""Benchmark: a big file through the demo page in Chromium vs ``curl -T``, in one run.

    .venv/bin/python bench/browser_upload.py [--size-mib 256] [--rounds 5]

Starts the embedded Swift, the API under gunicorn and the page on a second origin (as
``make run`` does), makes a file of random bytes, then per round uploads it once with ``curl -T``
to a fresh TempURL and once through the page (picked in the file input, as a person would).
Prints the two targets and writes the figures as JSON under bench/results/:

- throughput of the browser's PUT (Resource Timing of the XHR) / curl's, target >= 0.7;
- peak JS heap of the page during the upload (DevTools protocol), target < 64 MiB: the
  file is streamed from disk, not read into memory.

Everything runs on 127.0.0.1; every server it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402
from swiftclient.client import Connection  # noqa: E402

from app.cli.frontend_server import FrontendServer  # noqa: E402
from bench.harness import (  # noqa: E402
    HEAP_LIMIT,
    MiB,
    curl_upload,
    heap_verdict,
    load_line,
    make_file,
    upload_through_page,
)
from tests.browser.frontend import config_js, launch_chromium  # noqa: E402
from tests.support.servers import ApiServer, StorageServer  # noqa: E402

TOKEN = secrets.token_urlsafe(24)
CONTAINER = "bench"
RATIO_TARGET = 0.7


def browser_upload(page: Page, origin: str, path: Path) -> dict:
    """Uploads through the page; the PUT's seconds (its Resource Timing) and the heap figures."""
    run = upload_through_page(page, origin, path)
    durations = [
        r["duration"]
        for r in run["resources"]
        if r["type"] == "xmlhttprequest" and run["object_name"] in r["name"]
    ]
    return run | {"seconds": durations[-1] / 1000}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=256, help="file size (default 256)")
    parser.add_argument("--rounds", type=int, default=5, help="uploads per client (default 5)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    if not shutil.which("curl"):
        sys.exit("curl is not installed (make test installs it)")
    size = args.size_mib * MiB
    work = Path(tempfile.mkdtemp(prefix="upload-signer-bench-"))
    curl_runs: list[float] = []
    browser_runs: list[dict] = []
    try:
        path = work / f"bench-{args.size_mib}MiB.bin"
        print(f"making a {args.size_mib} MiB file of random bytes…", flush=True)
        make_file(path, size)
        with (
            StorageServer(work / "swift") as swift,
            FrontendServer() as frontend,
            sync_playwright() as playwright,
        ):
            env = swift.env | {
                "API_TOKENS": TOKEN,
                "CORS_ORIGINS": frontend.origin,
                "UPLOAD_CONTAINER": CONTAINER,
                # One PUT, as curl's: the page declares the size, and 256 MiB would otherwise
                # be segmented (bench/segmented_upload.py measures that).
                "SEGMENT_THRESHOLD": "5G",
            }
            with ApiServer(env, workers=1) as api:
                frontend.config = config_js(api.url, TOKEN)
                storage = Connection(
                    authurl=swift.env["ST_AUTH"], user=swift.env["ST_USER"], key=swift.env["ST_KEY"]
                )
                browser = launch_chromium(playwright)
                try:
                    for round_number in range(1, args.rounds + 1):
                        seconds, name = curl_upload(api.url, TOKEN, path)
                        storage.delete_object(CONTAINER, name)
                        curl_runs.append(seconds)
                        context = browser.new_context()
                        try:
                            run = browser_upload(context.new_page(), frontend.origin, path)
                        finally:
                            context.close()
                        storage.delete_object(CONTAINER, run["object_name"])
                        browser_runs.append(run)
                        print(
                            f"round {round_number}: curl {size / seconds / MiB:7.1f} MiB/s, "
                            f"browser {size / run['seconds'] / MiB:7.1f} MiB/s, "
                            f"peak JS heap {run['peak']['js_heap_used'] / MiB:.1f} MiB",
                            flush=True,
                        )
                finally:
                    browser.close()
                    storage.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    curl_mibs = statistics.median(size / s / MiB for s in curl_runs)
    browser_mibs = statistics.median(size / r["seconds"] / MiB for r in browser_runs)
    ratio = browser_mibs / curl_mibs
    best_ratio = max(size / r["seconds"] for r in browser_runs) / max(size / s for s in curl_runs)
    # A file read into memory (FileReader, arrayBuffer()) would show in the ArrayBuffers.
    peak_heap, peak_buffers = heap_verdict(browser_runs)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "file_bytes": size,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "curl_seconds": curl_runs,
        "browser_seconds": [r["seconds"] for r in browser_runs],
        "curl_mib_per_s_median": round(curl_mibs, 1),
        "browser_mib_per_s_median": round(browser_mibs, 1),
        "throughput_ratio": round(ratio, 3),
        "throughput_ratio_best_vs_best": round(best_ratio, 3),
        "throughput_ratio_target": RATIO_TARGET,
        "load_average_after": os.getloadavg(),
        "peak_js_heap_used_bytes": peak_heap,
        "peak_array_buffer_bytes": peak_buffers,
        "peak_js_heap_limit_bytes": HEAP_LIMIT,
        "heap_details": [{"peak": r["peak"], "before": r["baseline"]} for r in browser_runs],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"browser_upload-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    verdict = {True: "meets target", False: "MISSES target"}
    print(
        f"\nthroughput browser/curl: {ratio:.2f}x "
        f"({browser_mibs:.1f} vs {curl_mibs:.1f} MiB/s, median of {args.rounds}) "
        f"— {verdict[ratio >= RATIO_TARGET]} >= {RATIO_TARGET}x; best vs best {best_ratio:.2f}x"
    )
    print(
        f"peak JS heap during upload: {peak_heap / MiB:.1f} MiB "
        f"(ArrayBuffer backing stores {peak_buffers / MiB:.1f} MiB) "
        f"— {verdict[peak_heap + peak_buffers < HEAP_LIMIT]} < {HEAP_LIMIT // MiB} MiB"
    )
    print(load_line())
    print(f"figures written to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
