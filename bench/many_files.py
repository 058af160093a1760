"""Benchmark: many small files (or one large one) through the demo page in Chromium over an
emulated WAN: a round trip on every connection, and one uplink that all of them share.

    .venv/bin/python bench/many_files.py                     # 200 x 100K, --rtt 50ms --uplink 10M
    .venv/bin/python bench/many_files.py --files 50 --uplink 0        # no shared cap
    .venv/bin/python bench/many_files.py --large 512M --runs 1        # one file: throughput/uplink
    .venv/bin/python bench/many_files.py --page per-file     # the page before batching (git)
    .venv/bin/python bench/many_files.py --frontend ../other/frontend # another version of the page
    .venv/bin/python bench/many_files.py --suite             # all of the set below, one table
    make bench BENCH_ARGS="--only many_files"                # the set, as a `make bench` part

``--suite`` runs, over one ``--rtt`` (default 50 ms): 200 x 100 KiB with a 10 MiB/s uplink
through the per-file page and through the batched one; the same 50 x 100 KiB drop with no
uplink cap through both; one 512 MiB file (``--large`` sets another size) through the batched
page, once. Each scenario gets a fresh stack; the summary table at the end gives each one's
median wall time against its floor, requests per file, the per-file page's time over the
batched page's, the large file's throughput over the uplink, and CPU by component.

The per-file page is this repository's frontend/ at ``PER_FILE_REVISION``, taken from git
(``git archive``) into a temporary directory; without git or that commit (a tarball), the
per-file scenarios are skipped, and say so.

Starts the embedded Swift, the API under gunicorn (the repository's gunicorn.conf.py and the
service's default settings), the page on its own origin, and one ``bench/link.py`` relay process
in front of the API and of Swift: every connection gets ``--rtt`` and ``--rate``, and all of
them, to either server, share the ``--uplink`` cap from browser to server (as a home uplink is
shared). Only the browser crosses the link: the API reaches Swift directly, as servers in one
datacenter do. (The API is given Swift as ``localhost:<port>``, so every URL it signs names that
origin; Chromium alone maps it to the relay with ``--host-resolver-rules``.)

Per run, a fresh browser context (no open connection, no cached preflight) loads the page,
picks the files in its file input, as a person would, and waits until every row is done. The
script only drives the UI and counts what Chromium sends, so it measures whatever the page
does (file by file, or in batches). It reports:

- wall time: from the file input's ``change`` event to the last row done (the page's clock),
  median over ``--runs``;
- every request Chromium sent after the pick, from its own network log (DevTools protocol,
  ``Network.requestWillBeSent``: CORS preflights included, which Playwright's request events
  leave out), by origin (API, storage) and method, and per file;
- the TCP connections the relays accepted per origin, and the share of requests sent on a
  connection that was already open (keep-alive);
- the floor, and time / floor; with ``--large``, throughput / uplink too;
- the requests the Swift proxy logged (its proxy-logging lines), per file: the browser's, the
  API's (the completion, mostly) and Swift's own internal sub-requests;
- the CPU seconds each part used during the pick (from /proc, only this run's process trees):
  storage (the Swift servers), API (gunicorn), relay (bench/link.py), Chromium (every process
  of the browser) and driver (this script and Playwright's), next to the wall time, the
  machine's cores and how busy the whole machine was (other jobs included), and from these
  what bound the run: the machine's CPU, one saturated process, the link (at the floor), or
  neither (waits: round trips and server latency beyond the floor's).

The floor is what HTTP/1.1 allows over this link, for N files of B bytes in all:

    floor = B / bandwidth + RTT x (2 + 2 + 2 + ceil(N / 6))
    bandwidth = min(uplink, 6 x rate)      (6 x rate without an uplink cap)

- 2 TCP handshakes: to the API, then to storage (its connections open at once);
- 2 CORS preflights: of the sign and of the complete endpoint (a fresh context has none
  cached; the Authorization header always needs one);
- 2 API calls: one batch sign for every file, one batch complete;
- ceil(N / 6): one storage request per file, 6 at a time (Chromium's limit per origin on
  HTTP/1.1), each at least one round trip; a simple request (a form POST without upload
  progress events) needs no preflight.

Bytes and round trips add, not overlap: on HTTP/1.1 a connection sends nothing while it waits
for its answer. Headers and form framing are left out of B. It is a target, not a proof: a page
could overlap the complete with the last uploads, or preconnect to storage.

Everything runs on 127.0.0.1; every server it starts is stopped at the end. Figures go to
bench/results/many_files-<time>.json.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.settings.parsers import parse_size  # noqa: E402
from bench.accounting import ProxyLog, RunCpu, bound_by, cpu_line, percent  # noqa: E402
from bench.harness import MiB, load_line, make_file  # noqa: E402
from bench.report import table  # noqa: E402

TOKEN = secrets.token_urlsafe(24)
CONTAINER = "bench-many-files"
CONNECTIONS_PER_ORIGIN = 6  # Chromium's HTTP/1.1 limit per origin (socket group)
# The page's rows: one per file, its state in data-state.
ROW = "li.upload"
SETTLED = ("done", "failed", "cancelled")
POLL_SECONDS = 0.1
# Network events still on their way when the last row turns done.
SETTLE_SECONDS = 0.5
# The demo page before batching (the parent of "API calls no longer send cache: no-store"). Per
# file, three files at a time: POST /uploads (sent with cache: no-store, so never on a cached
# preflight: an OPTIONS first), the file through the upload form with an upload listener (an
# OPTIONS first), then POST /uploads/<id>/complete (an OPTIONS first): 6 requests a file.
PER_FILE_REVISION = "8905b8c361da2297d869aa8879d8c4c174cad0d2"
PAGES = ("batched", "per-file")
KiB = 1024
# --suite: (scenario, page, what it sets). The 50 ms RTT is --rtt's default.
SUITE = (
    ("200 x 100 KiB, 10 MiB/s uplink", "per-file", {"files": 200, "size": 100 * KiB}),
    ("200 x 100 KiB, 10 MiB/s uplink", "batched", {"files": 200, "size": 100 * KiB}),
    ("50 x 100 KiB, no uplink cap", "per-file", {"files": 50, "size": 100 * KiB, "uplink": 0}),
    ("50 x 100 KiB, no uplink cap", "batched", {"files": 50, "size": 100 * KiB, "uplink": 0}),
    ("1 x {large}, 10 MiB/s uplink", "batched", {"files": 1, "runs": 1}),
)
SUITE_UPLINK = 10 * MiB
SUITE_LARGE = 512 * MiB
# In production the API logs to a pipe; here to tmpfs when there is one (see bench/__main__.py).
LOG_DIR = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None  # noqa: S108

# Installed in the page before the pick: when the file input changes (capture phase, so before
# the page's own listener), and when every row has settled, on the page's clock.
WATCH = """([row, expected]) => {
  const watch = { start: null, end: null, rows: 0, done: 0, failed: [] };
  window.__manyFiles = watch;
  document.addEventListener("change", () => { watch.start ??= performance.now(); }, true);
  const count = () => {
    const rows = document.querySelectorAll(row);
    let settled = 0;
    let done = 0;
    const failed = [];
    for (const r of rows) {
      const state = r.dataset.state;
      if (state === "done") done += 1;
      if (state === "done" || state === "failed" || state === "cancelled") settled += 1;
      if (state === "failed" || state === "cancelled") {
        failed.push(`${r.querySelector(".upload-name")?.textContent}: ${r.textContent.trim()}`);
      }
    }
    Object.assign(watch, { rows: rows.length, done, failed: failed.slice(0, 5) });
    if (watch.end === null && rows.length >= expected && settled >= expected) {
      watch.end = performance.now();
    }
  };
  new MutationObserver(count).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"],
  });
}"""


# ---------------------------------------------------------------- arguments


def size_or_zero(text: str) -> int:
    """Bytes (binary units: ``10M``, ``512K``), 0 allowed."""
    try:
        return parse_size(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_size(text: str) -> int:
    value = size_or_zero(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be above 0")
    return value


def milliseconds(text: str) -> float:
    """``50ms``, ``50`` (milliseconds) or ``0.05s``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 50ms)")
    value = float(match[1])
    return value * 1000 if match[2] == "s" else value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/many_files.py",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--files", type=positive_int, default=200, help="how many (default 200)")
    parser.add_argument(
        "--size", type=positive_size, default=100 * 1024, help="each file's (default 100K)"
    )
    parser.add_argument(
        "--large",
        type=positive_size,
        help="one file of this size instead (e.g. 512M): reports throughput / uplink",
    )
    parser.add_argument(
        "--rtt", type=milliseconds, default=50.0, help="round trip per connection (default 50ms)"
    )
    parser.add_argument(
        "--uplink",
        type=size_or_zero,
        default=10 * MiB,
        help="bytes/s from the browser, shared by every connection to both servers; 0: no "
        "shared cap (default 10M)",
    )
    parser.add_argument(
        "--rate",
        type=positive_size,
        default=100 * MiB,
        help="bytes/s of each connection, either way (default 100M)",
    )
    parser.add_argument("--runs", type=positive_int, default=3, help="median of (default 3)")
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=(os.cpu_count() or 1) * 2 + 1,
        help="gunicorn workers (default: gunicorn.conf.py's, 2 x cores + 1)",
    )
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds a run may take (default 900)"
    )
    parser.add_argument(
        "--page",
        choices=PAGES,
        default="batched",
        help="batched: this repository's frontend/ (default); per-file: the page before "
        f"batching, frontend/ at {PER_FILE_REVISION[:7]} from git",
    )
    parser.add_argument(
        "--frontend",
        type=Path,
        help="the page's directory (default: this repository's frontend/): another version of "
        "the page, measured the same way",
    )
    parser.add_argument(
        "--suite",
        action="store_true",
        help="run the whole set (see above) and print one table: --rtt, --rate, --runs, "
        "--workers and --timeout apply to each scenario, --large sets the large file's size "
        "(default 512M)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument(
        "--network-log",
        type=Path,
        help="write the last run's DevTools network events (requests, answers, ends) here",
    )
    args = parser.parse_args(argv)
    if args.frontend and args.page == "per-file":
        parser.error("--frontend and --page per-file both name the page: give one")
    if args.frontend is None and args.page == "batched":
        args.frontend = ROOT / "frontend"
    if args.large and not args.suite:
        args.files, args.size = 1, args.large
    return args


def suite(args: argparse.Namespace) -> list[tuple[str, argparse.Namespace]]:
    """The scenarios of ``--suite``: each one's name, and ``args`` with its files, size, uplink
    and page (the link's RTT and per-connection rate, the runs and the workers are ``args``')."""
    large = args.large or SUITE_LARGE
    scenarios = []
    for name, page, changes in SUITE:
        scenario = argparse.Namespace(**vars(args))
        scenario.suite = False
        scenario.page = page
        scenario.frontend = ROOT / "frontend" if page == "batched" else None
        scenario.uplink = SUITE_UPLINK
        scenario.large = None
        vars(scenario).update(changes)
        if "{large}" in name:
            scenario.large = scenario.size = large
        scenarios.append((name.format(large=shown_size(large)), scenario))
    return scenarios


def shown_size(size: int) -> str:
    return f"{size / MiB:g} MiB" if size >= MiB else f"{size / KiB:g} KiB"


# ---------------------------------------------------------------- figures


def floor(files: int, total_bytes: int, rtt_ms: float, uplink: float, rate: float) -> dict:
    """The floor of the module docstring: its seconds and its terms."""
    bandwidth = CONNECTIONS_PER_ORIGIN * rate
    if uplink:
        bandwidth = min(uplink, bandwidth)
    storage_rounds = math.ceil(files / CONNECTIONS_PER_ORIGIN)
    round_trips = 2 + 2 + 2 + storage_rounds
    transfer = total_bytes / bandwidth
    return {
        "seconds": transfer + round_trips * rtt_ms / 1000,
        "transfer_seconds": transfer,
        "round_trips": round_trips,
        "storage_round_trips": storage_rounds,
        "bandwidth_bytes_per_s": bandwidth,
    }


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def count_requests(sent: list[dict], received: list[dict], origins: dict[str, str]) -> dict:
    """From DevTools ``Network.requestWillBeSent`` and ``Network.responseReceived`` events:
    per name in ``origins`` (name -> origin), requests by method, redirects followed, the
    distinct connections answers came on, and how many answers came on a reused one."""
    names = {value: name for name, value in origins.items()}
    counts: dict[str, dict] = {
        name: {
            "methods": Counter(),
            "redirects": 0,
            "connections": set(),
            "answers": 0,
            "reused": 0,
        }
        for name in [*origins, "other"]
    }
    for event in sent:
        entry = counts[names.get(origin(event["request"]["url"]), "other")]
        entry["methods"][event["request"]["method"]] += 1
        if event.get("redirectResponse"):
            entry["redirects"] += 1
    for event in received:
        response = event["response"]
        entry = counts[names.get(origin(response["url"]), "other")]
        entry["answers"] += 1
        if response.get("connectionId"):
            entry["connections"].add(response["connectionId"])
        entry["reused"] += bool(response.get("connectionReused"))
    return {
        name: {
            "requests": sum(entry["methods"].values()),
            "methods": dict(sorted(entry["methods"].items())),
            "redirects": entry["redirects"],
            "answers": entry["answers"],
            "connection_ids": len(entry["connections"]),
            "answers_on_reused_connection": entry["reused"],
        }
        for name, entry in counts.items()
        if entry["methods"] or name in origins
    }


def request_kind(url: str) -> str:
    """``/uploads/<id>/complete`` from a URL: path segments that look like ids replaced."""
    segments = urlsplit(url).path.split("/")
    return "/".join("<id>" if len(part) > 40 or ID.fullmatch(part) else part for part in segments)


ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|AUTH_\w+|\d+")


def answer_times(sent: list[dict], received: list[dict], origins: dict[str, str]) -> dict:
    """Median milliseconds from a request's last byte sent to its answer's headers (one round
    trip plus the server's time), and how many, by origin, method and kind of path."""
    names = {value: name for name, value in origins.items()}
    methods = {event["requestId"]: event["request"]["method"] for event in sent}
    times: dict[str, list[float]] = {}
    for event in received:
        response, timing = event["response"], event["response"].get("timing")
        if not timing or timing.get("sendEnd", -1) < 0:
            continue
        name = names.get(origin(response["url"]), "other")
        method = methods.get(event["requestId"], "")
        key = f"{name} {method} {request_kind(response['url'])}"
        times.setdefault(key, []).append(timing["receiveHeadersEnd"] - timing["sendEnd"])
    return {
        key: {"median_ms": round(statistics.median(values), 1), "count": len(values)}
        for key, values in sorted(times.items())
    }


def per_file(requests: dict, files: int) -> dict:
    """Requests per file by origin and method, and in all."""
    table = {
        name: {method: n / files for method, n in entry["methods"].items()}
        for name, entry in requests.items()
    }
    table["total"] = sum(entry["requests"] for entry in requests.values()) / files
    return table


def summarize(args: argparse.Namespace, runs: list[dict]) -> dict:
    total_bytes = args.files * args.size
    seconds = statistics.median(r["seconds"] for r in runs)
    median_run = min(runs, key=lambda r: abs(r["seconds"] - seconds))
    bound = floor(args.files, total_bytes, args.rtt, args.uplink, args.rate)
    result = {
        "mode": "large" if args.large else "files",
        "files": args.files,
        "file_bytes": args.size,
        "total_bytes": total_bytes,
        "link": {
            "rtt_ms": args.rtt,
            "uplink_bytes_per_s": args.uplink or None,
            "per_connection_bytes_per_s": args.rate,
        },
        "api_workers": args.workers,
        "page": args.page,
        "frontend": str(args.frontend),
        "runs": len(runs),
        "seconds": [round(r["seconds"], 3) for r in runs],
        "seconds_median": round(seconds, 3),
        "floor": {k: round(v, 3) if isinstance(v, float) else v for k, v in bound.items()},
        "time_over_floor": round(seconds / bound["seconds"], 2),
        "requests": median_run["requests"],
        "requests_per_file": per_file(median_run["requests"], args.files),
        "tcp_connections": median_run["tcp_connections"],
        "answer_ms": median_run["answer_ms"],
        "requests_differ_between_runs": len({json.dumps(r["requests"]) for r in runs}) > 1,
        "each_run": runs,
    }
    if args.page == "per-file":
        result["revision"] = PER_FILE_REVISION
    if "storage_requests" in median_run:
        counts = median_run["storage_requests"]
        result["storage_requests"] = counts
        result["storage_requests_per_file"] = {
            source: round(n / args.files, 2) for source, n in counts.items()
        }
    result["cpu"] = median_run.get("cpu")
    result["bound_by"] = bound_by(result["time_over_floor"], result["cpu"])
    throughput = total_bytes / seconds
    result["throughput_bytes_per_s"] = round(throughput)
    if args.uplink:
        result["throughput_over_uplink"] = round(throughput / args.uplink, 3)
    return result


def render(result: dict) -> str:
    """The printed summary of one ``measure``, or of the suite (``render_suite``)."""
    if result.get("mode") == "suite":
        return render_suite(result)
    link = result["link"]
    uplink = link["uplink_bytes_per_s"]
    where = (
        f"RTT {link['rtt_ms']:g} ms, uplink {uplink / MiB:g} MiB/s shared"
        if uplink
        else f"RTT {link['rtt_ms']:g} ms, no shared uplink cap"
    ) + f", {link['per_connection_bytes_per_s'] / MiB:g} MiB/s per connection"
    shown = shown_size(result["file_bytes"])
    f = result["floor"]
    lines = [
        f"{result['files']} x {shown} through the page ({where}); "
        f"{result['api_workers']} gunicorn workers",
        f"wall time: median {result['seconds_median']:.2f} s of "
        f"{', '.join(f'{s:.2f}' for s in result['seconds'])}",
        f"floor: {f['seconds']:.2f} s = {f['transfer_seconds']:.2f} s of bytes at "
        f"{f['bandwidth_bytes_per_s'] / MiB:g} MiB/s + {f['round_trips']} round trips "
        f"(2 handshakes, 2 preflights, 2 API calls, {f['storage_round_trips']} storage)",
        f"time / floor: {result['time_over_floor']:.2f}x",
    ]
    if result.get("page") == "per-file":
        lines.insert(1, f"the per-file page: frontend/ at {result['revision'][:7]}")
    elif result.get("frontend", str(ROOT / "frontend")) != str(ROOT / "frontend"):
        lines.insert(1, f"page served from {result['frontend']}")
    if result["mode"] == "large" or result["files"] == 1:
        mibs = result["throughput_bytes_per_s"] / MiB
        ratio = result.get("throughput_over_uplink")
        lines.append(
            f"throughput: {mibs:.2f} MiB/s"
            + (f" = {ratio:.2f} x the uplink" if ratio is not None else "")
        )
    lines.append("requests Chromium sent (median run), per file:")
    for name in ("api", "storage", "page", "other"):  # page: its own origin (scripts)
        entry = result["requests"].get(name)
        if not entry or not entry["requests"]:
            continue
        methods = ", ".join(
            f"{method} {n} ({n / result['files']:.2f})" for method, n in entry["methods"].items()
        )
        lines.append(
            f"  {name:>7}: {entry['requests']} ({entry['requests'] / result['files']:.2f}/file):"
            f" {methods}" + (f"; {entry['redirects']} redirects" if entry["redirects"] else "")
        )
    lines.append(f"  {'total':>7}: {result['requests_per_file']['total']:.2f} per file")
    tcp = result["tcp_connections"]
    lines.append(
        "TCP connections the link accepted: "
        + ", ".join(
            f"{name} {tcp[name]} ({result['requests'][name]['answers_on_reused_connection']}/"
            f"{result['requests'][name]['answers']} answers on a reused connection)"
            for name in ("api", "storage")
        )
    )
    lines.append("median ms from request sent to answer (a round trip + the server's time):")
    lines += [
        f"  {key}: {entry['median_ms']:.0f} ({entry['count']}x)"
        for key, entry in result["answer_ms"].items()
        if not key.startswith(("other", "page"))
    ]
    per = result.get("storage_requests_per_file")
    if per:
        lines.append(
            f"requests the Swift proxy logged (median run), per file: browser {per['browser']:.2f}"
            f", API {per['api']:.2f} (its completion, mostly), Swift's internal "
            f"{per['internal']:.2f}"
        )
    if result.get("cpu"):
        lines.append(cpu_line(result["cpu"]))
    if "bound_by" in result:
        lines.append(f"bound by: {result['bound_by']}")
    if result["requests_differ_between_runs"]:
        lines.append("(the request counts differ between runs: see each_run in the JSON)")
    return "\n".join(lines)


# ---------------------------------------------------------------- the per-file page


class PageUnavailable(RuntimeError):
    """The per-file page cannot be had from git here (no git, no history, no such commit)."""


def per_file_page(directory: Path) -> Path:
    """frontend/ at ``PER_FILE_REVISION``, from this repository's git history, extracted into
    ``directory``: the page's own directory."""
    command = ["git", "-C", str(ROOT), "archive", PER_FILE_REVISION, "frontend"]
    try:
        archive = subprocess.run(command, capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PageUnavailable(f"git archive failed: {exc}") from None
    if archive.returncode:
        why = archive.stderr.decode(errors="replace").strip().splitlines() or ["no message"]
        raise PageUnavailable(f"git archive {PER_FILE_REVISION[:7]}: {why[-1]}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(directory, filter="data")
    page = directory / "frontend"
    if not (page / "index.html").exists():
        raise PageUnavailable(f"frontend/ at {PER_FILE_REVISION[:7]} has no index.html")
    return page


# ---------------------------------------------------------------- one run


def browser_run(
    browser,
    page_origin: str,
    paths: list[Path],
    origins: dict,
    timeout: float,
    cpu: RunCpu | None = None,
):
    """One pick of every file in a fresh context: seconds, what Chromium sent, and the CPU
    each part used from the pick until every row was done (``cpu``)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        sent: list[dict] = []
        received: list[dict] = []
        # Lambdas: Playwright tags each handler, which a builtin such as list.append refuses.
        cdp.on("Network.requestWillBeSent", lambda event: sent.append(event))
        cdp.on("Network.responseReceived", lambda event: received.append(event))
        finished: list[dict] = []
        cdp.on("Network.loadingFinished", lambda event: finished.append(event))
        cdp.on("Network.loadingFailed", lambda event: finished.append(event))
        cdp.send("Network.enable")
        page.goto(f"{page_origin}/")
        page.wait_for_selector("html[data-ready=true]")
        page.evaluate(WATCH, [ROW, len(paths)])
        sent.clear()
        received.clear()
        finished.clear()
        if cpu:
            cpu.start()
        page.locator("#files").set_input_files([str(p) for p in paths])
        deadline = time.monotonic() + timeout
        while True:
            # Straight through CDP (the page's CSP refuses Playwright's string predicates).
            answer = cdp.send(
                "Runtime.evaluate",
                {"expression": "JSON.stringify(window.__manyFiles)", "returnByValue": True},
            )
            watch = json.loads(answer["result"]["value"])
            if watch["end"] is not None:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"after {timeout:.0f} s, {watch['done']} of {len(paths)} rows are done "
                    f"({watch['rows']} rows)"
                )
            time.sleep(POLL_SECONDS)
        used = cpu.stop() if cpu else None
        if watch["failed"] or watch["done"] < len(paths):
            raise RuntimeError(f"{len(paths) - watch['done']} rows not done: {watch['failed']}")
        time.sleep(SETTLE_SECONDS)
        cdp.send("Runtime.evaluate", {"expression": "0"})  # deliver the last events
        cdp.detach()
        return {
            "seconds": (watch["end"] - watch["start"]) / 1000,
            "requests": count_requests(sent, received, origins),
            "answer_ms": answer_times(sent, received, origins),
            "cpu": used,
            "network_log": {"sent": sent, "received": received, "finished": finished},
        }
    finally:
        context.close()


def measure(args: argparse.Namespace) -> dict:
    """Starts everything, runs ``args.runs`` picks, and returns the figures (``summarize``)."""
    from playwright.sync_api import sync_playwright

    from app.cli.frontend_server import FrontendServer
    from bench.link import emulated_links
    from tests.browser.frontend import CHROMIUM, CHROMIUM_ARGS, config_js
    from tests.support.servers import ApiServer, StorageServer

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is not installed (`make test` installs Debian's chromium)")
    work = Path(tempfile.mkdtemp(prefix="upload-signer-bench-"))
    logs = Path(tempfile.mkdtemp(prefix="upload-signer-bench-log-", dir=LOG_DIR))
    runs: list[dict] = []
    try:
        files = work / "files"
        files.mkdir()
        paths = [files / f"file-{n:04d}.bin" for n in range(1, args.files + 1)]
        print(f"making {args.files} file(s) of {args.size} bytes of random bytes…", flush=True)
        for path in paths:
            make_file(path, args.size)
        if args.frontend is None:  # the per-file page
            args.frontend = per_file_page(work)
        with (
            StorageServer(work / "swift") as swift,
            FrontendServer(directory=args.frontend.resolve()) as frontend,
        ):
            # The name the API signs for; the browser alone is sent through the link for it.
            storage_origin = f"http://localhost:{swift.port}"
            env = swift.env | {
                "ST_AUTH": f"{storage_origin}/auth/v1.0",
                "API_TOKENS": TOKEN,
                "CORS_ORIGINS": frontend.origin,
                "UPLOAD_CONTAINER": CONTAINER,
            }
            with (
                ApiServer(env, workers=args.workers, log_path=logs / "gunicorn.log") as api,
                emulated_links([api.url, swift.url], args.rate, args.rtt, args.uplink) as relays,
                sync_playwright() as playwright,
            ):
                api_link, storage_link = relays.urls
                frontend.config = config_js(api_link, TOKEN)
                rule = f"MAP localhost:{swift.port} 127.0.0.1:{urlsplit(storage_link).port}"
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM,
                    args=[*CHROMIUM_ARGS, f"--host-resolver-rules={rule}"],
                )
                origins = {"api": api_link, "storage": storage_origin, "page": frontend.origin}
                roots = {"storage": swift.process.pid, "api": api.process.pid}
                cpu = RunCpu(roots | {"relay": relays.process.pid})
                proxy_log = ProxyLog(swift.data_dir / "logs" / "proxy.log")
                try:
                    for number in range(1, args.runs + 1):
                        before = relays.stats()
                        proxy_log.count()
                        run = browser_run(
                            browser, frontend.origin, paths, origins, args.timeout, cpu
                        )
                        run["storage_requests"] = proxy_log.count()
                        after = relays.stats()
                        run["tcp_connections"] = {
                            name: a["connections"] - b["connections"]
                            for name, b, a in zip(("api", "storage"), before, after, strict=True)
                        }
                        run["bytes_up"] = {
                            name: a["bytes_up"] - b["bytes_up"]
                            for name, b, a in zip(("api", "storage"), before, after, strict=True)
                        }
                        log = run.pop("network_log")
                        if args.network_log:
                            args.network_log.write_text(json.dumps(log) + "\n")
                        runs.append(run)
                        print(
                            f"run {number}: {run['seconds']:.2f} s, "
                            f"{sum(e['requests'] for e in run['requests'].values())} requests, "
                            f"TCP connections {run['tcp_connections']}, "
                            f"{run['cpu']['total_seconds']:.1f} CPU-s, machine busy "
                            f"{percent(run['cpu']['machine_busy_share'])}",
                            flush=True,
                        )
                finally:
                    browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)
    return summarize(args, runs)


# ---------------------------------------------------------------- the suite


def run_suite(args: argparse.Namespace) -> dict:
    """Every scenario of ``suite(args)``, each on a stack of its own; one that fails (or the
    per-file page, when git cannot give it) is reported as such and the others go on."""
    scenarios: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="upload-signer-bench-page-") as scratch:
        try:
            page: Path | None = per_file_page(Path(scratch))
            skipped = ""
        except PageUnavailable as exc:
            page = None
            skipped = f"per-file page unavailable ({exc}): its scenarios are skipped"
            print(skipped, flush=True)
        for name, scenario in suite(args):
            entry = {"scenario": name, "page": scenario.page}
            if scenario.page == "per-file" and page is None:
                scenarios.append(entry | {"skipped": skipped})
                continue
            if scenario.page == "per-file":
                scenario.frontend = page
            print(f"\n== {name}, {scenario.page} page ==", flush=True)
            try:
                entry |= measure(scenario)
            except (RuntimeError, OSError) as exc:
                print(f"{name}, {scenario.page} page: failed: {exc}", flush=True)
                entry["error"] = str(exc)
            else:
                print(render(entry), flush=True)
            scenarios.append(entry)
    return {"mode": "suite", "scenarios": scenarios, "summary": suite_summary(scenarios)}


def suite_summary(scenarios: list[dict]) -> list[dict]:
    """One row per scenario for the table: its median wall time against its floor, requests
    per file (the browser's; and the storage requests the API made), the batched page's
    speed-up (the per-file page's time over its own in the same scenario), throughput over the
    uplink for one file, CPU seconds by component, and what bound it."""
    per_file = {
        s["scenario"]: s["seconds_median"]
        for s in scenarios
        if s["page"] == "per-file" and "seconds_median" in s
    }
    rows = []
    for s in scenarios:
        row = {"scenario": s["scenario"], "page": s["page"]}
        if "seconds_median" not in s:
            row["note"] = s.get("error") or s.get("skipped") or "no figures"
            rows.append(row)
            continue
        row |= {
            "seconds": s["seconds_median"],
            "floor_seconds": s["floor"]["seconds"],
            "time_over_floor": s["time_over_floor"],
            "requests_per_file": round(s["requests_per_file"]["total"], 2),
            "api_storage_requests_per_file": (s.get("storage_requests_per_file") or {}).get("api"),
            "bound_by": s.get("bound_by"),
        }
        if s["page"] == "batched" and s["scenario"] in per_file:
            row["speed_up_over_per_file"] = round(per_file[s["scenario"]] / s["seconds_median"], 2)
        if s["files"] == 1 and s.get("throughput_over_uplink") is not None:
            row["throughput_over_uplink"] = s["throughput_over_uplink"]
        if s.get("cpu"):
            row["cpu_seconds"] = s["cpu"]["seconds"]
            row["cpu_share_of_machine"] = s["cpu"]["share_of_machine"]
            row["machine_busy_share"] = s["cpu"]["machine_busy_share"]
        rows.append(row)
    return rows


def render_suite(result: dict) -> str:
    """The suite's table (``suite_summary``'s rows), and what its columns mean."""
    headers = ["scenario", "page", "wall", "floor", "/floor", "req/file", "API st/file"]
    headers += ["speed-up", "thru/uplink", "CPU-s st/api/relay/chr", "ours", "machine"]
    headers += ["bound by"]
    rows, notes = [], []
    for row in result["summary"]:
        if "seconds" not in row:
            notes.append(f"{row['scenario']}, {row['page']} page: {row['note']}")
            rows.append([row["scenario"], row["page"], *["-"] * (len(headers) - 2)])
            continue
        cpu = row.get("cpu_seconds")
        speed_up = row.get("speed_up_over_per_file")
        thru = row.get("throughput_over_uplink")
        api_storage = row.get("api_storage_requests_per_file")
        rows.append(
            [
                row["scenario"],
                row["page"],
                f"{row['seconds']:.2f} s",
                f"{row['floor_seconds']:.2f} s",
                f"{row['time_over_floor']:.2f}x",
                f"{row['requests_per_file']:.2f}",
                "-" if api_storage is None else f"{api_storage:.2f}",
                "-" if speed_up is None else f"{speed_up:.2f}x",
                "-" if thru is None else f"{thru:.2f}",
                "-"
                if not cpu
                else "/".join(f"{cpu[k]:.1f}" for k in ("storage", "api", "relay", "chromium")),
                percent(row.get("cpu_share_of_machine")) if cpu else "-",
                percent(row.get("machine_busy_share")) if cpu else "-",
                row.get("bound_by") or "-",
            ]
        )
    lines = [
        "Many files through the page over an emulated WAN link: medians (the large file: 1 run)",
        table(headers, rows),
        "wall: pick to last row done; floor: bytes over the link + unavoidable round trips",
        "req/file: requests Chromium sent (preflights included); API st/file: storage requests "
        "the API made per file (its completion)",
        "speed-up: the batched page's, the per-file page's time over its own; thru/uplink: one "
        "file's throughput over the uplink",
        "CPU-s: used during the pick by storage (Swift), API (gunicorn), relay (bench/link.py) "
        f"and Chromium; ours: all of this run's processes over {os.cpu_count()} cores x wall; "
        "machine: every process on the machine, other jobs included",
    ]
    lines += notes
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict:
    """``--suite``'s figures (``run_suite``), or one scenario's (``measure``)."""
    return run_suite(args) if args.suite else measure(args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["bench/many_files.py", *(sys.argv[1:] if argv is None else argv)]),
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg(),
    }
    try:
        result |= run(args)
    except PageUnavailable as exc:
        print(f"the per-file page is unavailable here: {exc}", file=sys.stderr)
        return 1
    result["load_average_after"] = os.getloadavg()
    args.out.mkdir(parents=True, exist_ok=True)
    kind = "many_files-suite" if args.suite else "many_files"
    out = args.out / f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(render(result))
    print(load_line())
    print(f"figures written to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
