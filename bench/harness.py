"""What the browser benchmarks share: test files, curl uploads, and one upload through the demo
page in Chromium with its peak JS heap (DevTools protocol) and Resource Timing entries."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import requests
from playwright.sync_api import Page

from .stack import cpu_seconds

MiB = 1024 * 1024
HEAP_LIMIT = 64 * MiB
# A file buffered in memory would stay there for the whole upload: 4 samples a second see it.
POLL_SECONDS = 0.25
# The page's requests as Resource Timing saw them (ms since the page's time origin).
RESOURCES = """() => performance.getEntriesByType("resource").map((e) => ({
  name: e.name, type: e.initiatorType, start: e.startTime, end: e.responseEnd,
  duration: e.duration }))"""


def make_file(path: Path, size: int) -> None:
    with path.open("wb") as out:
        for _ in range(size // MiB):
            out.write(os.urandom(MiB))
        out.write(os.urandom(size % MiB))


def sign(api_url: str, token: str, name: str) -> dict:
    response = requests.post(
        f"{api_url}/uploads",
        json={"filename": name},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


def curl_upload(api_url: str, token: str, path: Path) -> tuple[float, str]:
    """Seconds for ``curl -T`` of the file to a fresh TempURL, and the object's name."""
    answer = sign(api_url, token, path.name)
    headers = [
        arg
        for name, value in answer["upload_headers"].items()
        for arg in ("-H", f"{name}: {value}")
    ]
    command = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}"]
    result = subprocess.run(
        [*command, "-T", str(path), *headers, answer["upload_url"]],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    status, seconds = result.stdout.split()
    if status != "201":
        raise RuntimeError(f"curl upload answered {status}")
    return float(seconds), answer["object_name"]


def upload_through_page(page: Page, origin: str, path: Path, timeout: float = 600) -> dict:
    """Picks the file in the page and waits for its row to finish.

    Returns ``object_name``, the heap ``peak`` during the upload and the ``baseline`` before it
    (JSHeapUsedSize, and ArrayBuffer backing stores, which live outside the V8 heap: a file
    read with ``arrayBuffer()`` shows there), the page's Resource Timing ``resources``, and the
    ``cpu_seconds`` Chromium's and Swift's processes used meanwhile (``CpuMeter``).
    """
    page.goto(f"{origin}/")
    page.wait_for_selector("html[data-ready=true]")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    peaks = {"js_heap_used": 0, "js_heap_total": 0, "heap_usage_used": 0, "backing_storage": 0}

    def sample() -> None:
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        usage = cdp.send("Runtime.getHeapUsage")
        for key, value in (
            ("js_heap_used", metrics.get("JSHeapUsedSize", 0)),
            ("js_heap_total", metrics.get("JSHeapTotalSize", 0)),
            ("heap_usage_used", usage.get("usedSize", 0)),
            ("backing_storage", usage.get("backingStorageSize", 0)),
        ):
            peaks[key] = max(peaks[key], int(value))

    def state() -> str:
        # Straight through CDP: cheaper than a Playwright locator, on a machine with 2 cores.
        answer = cdp.send(
            "Runtime.evaluate",
            {"expression": "document.querySelector('li.upload')?.dataset.state ?? ''"},
        )
        return answer["result"].get("value", "")

    # Every request, not only the first 250 (a segmented upload makes one per part).
    page.evaluate("performance.setResourceTimingBufferSize(100000)")
    sample()
    baseline = dict(peaks)
    meter = CpuMeter()
    meter.start()
    page.locator("#files").set_input_files(str(path))
    deadline = time.monotonic() + timeout
    while (current := state()) not in ("done", "failed", "cancelled"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the browser upload did not finish in {timeout:.0f} s")
        sample()
        time.sleep(POLL_SECONDS)
    sample()
    cpu_seconds = meter.stop()
    row = page.locator("li.upload").first
    if current != "done":
        raise RuntimeError(
            f"browser upload {current}: {row.locator('.upload-status').inner_text()}"
        )
    resources = page.evaluate(RESOURCES)
    cdp.detach()
    return {
        "object_name": row.get_attribute("data-object-name"),
        "peak": peaks,
        "baseline": baseline,
        "resources": resources,
        "cpu_seconds": cpu_seconds,
    }


def heap_verdict(runs: list[dict]) -> tuple[int, int]:
    """Peak JS heap and peak ArrayBuffer bytes over the runs."""
    heap = max(r["peak"]["js_heap_used"] for r in runs)
    buffers = max(r["peak"]["backing_storage"] for r in runs)
    return heap, buffers


def load_line() -> str:
    return (
        f"load average now: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs (other work on the machine skews the figures)"
    )


def process_kind(pid: str) -> str | None:
    """What a process is, for the CPU breakdown: a Chromium process type, a Swift server."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    args = [arg.decode(errors="replace") for arg in argv if arg]
    if len(args) == 1:  # Chromium's child processes rewrite theirs as one space-joined string
        args = args[0].split()
    if not args:
        return None
    if "app.embedded.launch" in args:
        return f"swift {args[args.index('app.embedded.launch') + 1]}-server"
    if "chrom" in Path(args[0]).name:
        options = dict(arg[2:].partition("=")[::2] for arg in args if arg.startswith("--"))
        kind = options.get("utility-sub-type") or options.get("type") or "browser"
        return f"chromium {kind.removeprefix('network.mojom.')}"
    return None


class CpuMeter:
    """CPU seconds used by Chromium's processes (by type) and Swift's servers between
    ``start()`` and ``stop()``: where an upload's work is done, read from /proc."""

    def __init__(self) -> None:
        self._before: dict[str, float] = {}

    @staticmethod
    def _snapshot() -> dict[str, float]:
        times = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    times[entry.name] = cpu_seconds(int(entry.name))
                except OSError:  # the process ended meanwhile
                    continue
        return times

    def start(self) -> None:
        self._before = self._snapshot()

    def stop(self) -> dict[str, float]:
        used: dict[str, float] = {}
        for pid, seconds in self._snapshot().items():
            kind = process_kind(pid)
            if kind is not None:
                used[kind] = used.get(kind, 0.0) + seconds - self._before.get(pid, 0.0)
        return {kind: round(seconds, 2) for kind, seconds in sorted(used.items()) if seconds > 0}
