"""Benchmark: a 1 GiB file from Chromium to the embedded Swift — segmented (4 parallel parts,
each with its MD5) vs one PUT through the same page vs ``curl -T`` — in one run.

    .venv/bin/python bench/segmented_upload.py [--size-mib 1024] [--rounds 2] [--segment-size 64M]
        [--link 32M,40]

Starts the embedded Swift, two APIs on it (one that segments above 64 MiB, as by default, and
one whose SEGMENT_THRESHOLD keeps the file a single PUT) and the demo page on a second origin.
Per round it uploads the file with curl, then through the page (picked in the file input) as a
single PUT, segmented, and segmented without MD5 (``upload: {checksum: false}`` in config.js).
Prints the targets and writes the figures as JSON under bench/results/:

- segmented throughput >= single PUT throughput (time from the first byte sent to the
  API's answer to ``complete``, from the page's Resource Timing; curl's ``time_total``);
- peak JS heap of the page during the segmented upload < 64 MiB (DevTools protocol; the
  ArrayBuffers of the MD5 stream are counted too).

It also prints the CPU seconds per GiB each Chromium process and Swift server used (where the
work goes). With ``--link RATE,RTT_MS`` the browser and curl reach Swift over an emulated link
(``bench/link.py``: that round trip and at most RATE bytes/s per connection), where a single
connection is held back as on a real network and parallel parts add up.

Everything runs on 127.0.0.1; every server it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
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

from playwright.sync_api import Browser, sync_playwright  # noqa: E402
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
from bench.link import emulated_link, parse_rate  # noqa: E402
from tests.browser.frontend import launch_chromium  # noqa: E402
from tests.support.servers import ApiServer, StorageServer  # noqa: E402

TOKEN = secrets.token_urlsafe(24)
CONTAINER = "bench-segmented"
PAGE_VARIANTS = {
    # name: (which API, upload options for the page)
    "single": ("single", {}),
    "segmented": ("segmented", {"parallel": 4}),
    "segmented_no_md5": ("segmented", {"parallel": 4, "checksum": False}),
}


def link_setting(text: str) -> tuple[float, float]:
    """``32M,40``: bytes/s per connection and round-trip milliseconds."""
    rate, _, rtt = text.partition(",")
    try:
        return parse_rate(rate), float(rtt)
    except (KeyError, ValueError):
        raise argparse.ArgumentTypeError(
            f"expected RATE,RTT_MS such as 32M,40, not {text!r}"
        ) from None


def page_config(api_url: str, options: dict) -> bytes:
    config = {"apiBase": api_url, "token": TOKEN, "upload": options}
    return f"export default {json.dumps(config)};\n".encode()


def upload_seconds(run: dict) -> dict:
    """From the page's Resource Timing: the first storage PUT's start to the end of the API's
    answer to complete (``upload``), and from POST /uploads on (``end_to_end``)."""
    resources = run["resources"]
    puts = [r for r in resources if r["type"] == "xmlhttprequest"]
    api = [r for r in resources if r["type"] == "fetch"]
    sign = next(r for r in api if r["name"].endswith("/uploads"))
    complete = [r for r in api if r["name"].endswith("/complete")][-1]
    return {
        "upload": (complete["end"] - min(r["start"] for r in puts)) / 1000,
        "end_to_end": (complete["end"] - sign["start"]) / 1000,
        "puts": len(puts),
    }


def browser_run(browser: Browser, frontend: FrontendServer, path: Path) -> dict:
    context = browser.new_context()
    hashed = []  # storage PUTs that carried an MD5 (checksum "auto" may stop sending them)
    try:
        page = context.new_page()
        page.on(
            "request",
            lambda r: r.method == "PUT" and hashed.append("etag" in r.headers),
        )
        run = upload_through_page(page, frontend.origin, path)
    finally:
        context.close()
    return run | upload_seconds(run) | {"puts_with_md5": sum(hashed)}


def delete(storage: Connection, name: str, segmented: bool) -> None:
    # For an SLO, multipart-manifest=delete removes its segments too.
    query = "multipart-manifest=delete" if segmented else None
    storage.delete_object(CONTAINER, name, query_string=query)


def cpu_table(runs: dict[str, list[dict]], size: int) -> str:
    """CPU seconds per GiB uploaded, by process kind and page variant (median over rounds)."""
    variants = list(PAGE_VARIANTS)
    kinds = sorted({kind for name in variants for r in runs[name] for kind in r["cpu_seconds"]})
    per_gib = {
        name: {
            kind: statistics.median(r["cpu_seconds"].get(kind, 0.0) for r in runs[name])
            * (1024 * MiB / size)
            for kind in kinds
        }
        for name in variants
    }
    lines = ["CPU seconds per GiB uploaded (Chromium and Swift processes):"]
    lines.append(f"{'process':>26} " + " ".join(f"{name:>16}" for name in variants))
    for kind in [*kinds, "total"]:
        cells = [
            sum(per_gib[name].values()) if kind == "total" else per_gib[name][kind]
            for name in variants
        ]
        lines.append(f"{kind:>26} " + " ".join(f"{cell:16.2f}" for cell in cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="file size (default 1024)")
    parser.add_argument("--rounds", type=int, default=2, help="uploads per client (default 2)")
    parser.add_argument(
        "--segment-size",
        default="",
        help="the segmenting API's SEGMENT_SIZE, e.g. 64M (default: the API's, 16 MiB)",
    )
    parser.add_argument(
        "--link",
        type=link_setting,
        help="browser and curl reach Swift over an emulated link: RATE,RTT_MS per connection,"
        " e.g. 32M,40 (bench/link.py); default: loopback",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    if not shutil.which("curl"):
        sys.exit("curl is not installed (make test installs it)")
    size = args.size_mib * MiB
    work = Path(tempfile.mkdtemp(prefix="upload-signer-bench-"))
    runs: dict[str, list[dict]] = {"curl": [], **{name: [] for name in PAGE_VARIANTS}}
    try:
        path = work / f"bench-{args.size_mib}MiB.bin"
        print(f"making a {args.size_mib} MiB file of random bytes…", flush=True)
        make_file(path, size)
        with (
            StorageServer(work / "swift") as swift,
            FrontendServer() as frontend,
            sync_playwright() as playwright,
            contextlib.ExitStack() as stack,
        ):
            storage_env = swift.env
            if args.link:
                # The APIs authenticate through the link, so the storage URL they sign for (and
                # every upload: page and curl) goes through it.
                link_url = stack.enter_context(emulated_link(swift.url, *args.link))
                storage_env = swift.env | {"ST_AUTH": f"{link_url}/auth/v1.0"}
            env = storage_env | {
                "API_TOKENS": TOKEN,
                "CORS_ORIGINS": frontend.origin,
                "UPLOAD_CONTAINER": CONTAINER,
            }
            single_env = env | {"SEGMENT_THRESHOLD": str(5 * 1024 * MiB)}
            if args.segment_size:
                env |= {"SEGMENT_SIZE": args.segment_size}
            with ApiServer(env, workers=1) as segmented, ApiServer(single_env, workers=1) as single:
                apis = {"single": single, "segmented": segmented}
                storage = Connection(
                    authurl=swift.env["ST_AUTH"], user=swift.env["ST_USER"], key=swift.env["ST_KEY"]
                )
                browser = launch_chromium(playwright)
                try:
                    for round_number in range(1, args.rounds + 1):
                        seconds, name = curl_upload(single.url, TOKEN, path)
                        delete(storage, name, segmented=False)
                        runs["curl"].append({"upload": seconds})
                        line = [f"curl {size / seconds / MiB:6.1f}"]
                        for variant, (api, options) in PAGE_VARIANTS.items():
                            frontend.config = page_config(apis[api].url, options)
                            run = browser_run(browser, frontend, path)
                            stored = storage.head_object(CONTAINER, run["object_name"])
                            if int(stored["content-length"]) != size:
                                raise RuntimeError(f"{variant}: stored {stored['content-length']}")
                            delete(storage, run["object_name"], segmented=api == "segmented")
                            runs[variant].append(run)
                            line.append(
                                f"{variant} {size / run['upload'] / MiB:6.1f} "
                                f"({run['puts_with_md5']}/{run['puts']} PUTs with MD5)"
                            )
                        print(f"round {round_number} (MiB/s): " + ", ".join(line), flush=True)
                finally:
                    browser.close()
                    storage.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    speed = {
        name: round(statistics.median(size / r["upload"] / MiB for r in items), 1)
        for name, items in runs.items()
    }
    best = {name: max(size / r["upload"] / MiB for r in items) for name, items in runs.items()}
    ratio = speed["segmented"] / speed["single"]
    heaps = {name: heap_verdict(runs[name]) for name in PAGE_VARIANTS}
    heap, buffers = heaps["segmented"]
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "file_bytes": size,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "parallel_parts": 4,
        "segment_size": args.segment_size or "API default (16 MiB)",
        "link": (
            {"per_connection_bytes_per_s": args.link[0], "rtt_ms": args.link[1]}
            if args.link
            else "loopback"
        ),
        "mib_per_s_median": speed,
        "mib_per_s_best": {k: round(v, 1) for k, v in best.items()},
        "ratio_segmented_vs_single": round(ratio, 3),
        "ratio_segmented_vs_single_best": round(best["segmented"] / best["single"], 3),
        "ratio_segmented_vs_curl": round(speed["segmented"] / speed["curl"], 3),
        "ratio_single_vs_curl": round(speed["single"] / speed["curl"], 3),
        "ratio_segmented_no_md5_vs_single": round(speed["segmented_no_md5"] / speed["single"], 3),
        "peak_js_heap_used_bytes": {name: h for name, (h, _) in heaps.items()},
        "peak_array_buffer_bytes": {name: b for name, (_, b) in heaps.items()},
        "peak_js_heap_limit_bytes": HEAP_LIMIT,
        "seconds": {
            name: [
                {
                    k: r[k]
                    for k in ("upload", "end_to_end", "puts", "puts_with_md5", "cpu_seconds")
                    if k in r
                }
                for r in items
            ]
            for name, items in runs.items()
        },
        "load_average_after": os.getloadavg(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"segmented_upload-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    verdict = {True: "meets target", False: "MISSES target"}
    where = (
        f"over an emulated link ({args.link[0] / MiB:g} MiB/s per connection, RTT "
        f"{args.link[1]:g} ms)"
        if args.link
        else "on loopback"
    )
    print(
        f"\n{where}: median MiB/s over {args.rounds} round(s): curl {speed['curl']}, single PUT "
        f"{speed['single']}, segmented {speed['segmented']}, segmented without MD5 "
        f"{speed['segmented_no_md5']}"
    )
    print(
        f"segmented / single PUT: {ratio:.2f}x — {verdict[ratio >= 1.0]} >= 1.0x "
        f"(best vs best {result['ratio_segmented_vs_single_best']:.2f}x); "
        f"segmented / curl {result['ratio_segmented_vs_curl']:.2f}x, "
        f"single / curl {result['ratio_single_vs_curl']:.2f}x"
    )
    print(
        f"peak JS heap during the segmented upload: {heap / MiB:.1f} MiB "
        f"(ArrayBuffer backing stores {buffers / MiB:.1f} MiB) "
        f"— {verdict[heap + buffers < HEAP_LIMIT]} < {HEAP_LIMIT // MiB} MiB"
    )
    print(cpu_table(runs, size))
    print(load_line())
    print(f"figures written to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
