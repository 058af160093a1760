"""``python -m bench``: start Swift and the API, run the benchmarks, print and save the results."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from app.cli.main import size_argument

from . import many_files, scenarios
from .load import require_wrk
from .report import machine, render
from .stack import start_api, start_swift
from .uploads import MIB

RESULTS = Path(__file__).resolve().parent / "results"
ALL = ("signing", "responsiveness", "growth", "many_files")
# Scenarios that measure the API and Swift started here; many_files starts its own (with the
# page, Chromium and an emulated WAN link: bench/many_files.py).
ON_STACK = ("signing", "responsiveness", "growth")
# In production the API logs to a pipe (stdout), never to the disk storage writes to. On one
# machine Swift's fsyncs would stall the API's log appends on the shared disk's journal, so the
# API's log goes to tmpfs when there is one.
LOG_DIR = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None  # noqa: S108


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", choices=ALL, action="append", help="run only these (repeatable)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    # Many short alternations: bursts of other jobs' load fall on both endpoints alike.
    parser.add_argument("--rounds", type=int, default=8, help="signing: alternations (default 8)")
    parser.add_argument("--seconds", type=float, default=4, help="signing: seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8, help="signing: wrk connections")
    parser.add_argument("--uploads", type=int, default=4, help="responsiveness: parallel uploads")
    parser.add_argument("--upload-size", type=size_argument, default=256 * MIB, help="default 256M")
    # 256 MiB at 10 MiB/s takes 26 s: in flight during the whole probe, yet within gunicorn's
    # 30 s worker timeout, so that the proxied uploads can succeed too.
    parser.add_argument(
        "--upload-rate",
        type=size_argument,
        default=10 * MIB,
        help="per upload, bytes/s (default 10M)",
    )
    parser.add_argument(
        "--window", type=float, default=40, help="seconds probed during direct uploads (40)"
    )
    parser.add_argument("--probe-rate", type=float, default=50, help="probe requests/s")
    parser.add_argument(
        "--sizes",
        type=lambda text: [size_argument(part) for part in text.split(",")],
        default=[MIB, 16 * MIB, 256 * MIB, 1024 * MIB],
        help="growth: comma-separated sizes (default 1M,16M,256M,1G)",
    )
    parser.add_argument(
        "--many-files",
        type=lambda text: many_files.parse_args(shlex.split(text)),
        default=many_files.parse_args(["--suite"]),
        metavar="ARGS",
        help='many_files: bench/many_files.py\'s options, e.g. "--files 50 --uplink 0" '
        "(default: --suite, its whole set at 50 ms RTT: 200 x 100K at a 10 MiB/s uplink "
        "through the per-file and the batched page, 50 x 100K without an uplink cap through "
        "both, one 512 MiB file; 3 runs each, 1 of the large file)",
    )
    parser.add_argument("--note", default="", help="free text saved with the results")
    return parser.parse_args(argv)


def run_on_stack(args: argparse.Namespace, chosen: list[str], results: dict) -> None:
    """The scenarios that share one embedded Swift and one API under gunicorn."""
    with (
        tempfile.TemporaryDirectory(prefix="upload-signer-bench-") as scratch,
        tempfile.TemporaryDirectory(prefix="upload-signer-bench-log-", dir=LOG_DIR) as logs,
    ):
        workdir = Path(scratch)
        node, credentials = start_swift(workdir / "swift")
        api = None
        try:
            api = start_api(credentials, args.workers, Path(logs) / "gunicorn.log")
            results["api_rss_idle_mib"] = api.rss_mib()
            if "signing" in chosen:
                print("signing throughput ...", flush=True)
                results["signing"] = scenarios.signing(
                    api, node, args.rounds, args.seconds, args.connections
                )
            if "responsiveness" in chosen:
                print("responsiveness under upload load ...", flush=True)
                results["responsiveness"] = scenarios.responsiveness(
                    api,
                    args.uploads,
                    args.upload_size,
                    args.upload_rate,
                    args.window,
                    args.probe_rate,
                )
            if "growth" in chosen:
                print("cost growth with file size ...", flush=True)
                results["growth"] = scenarios.growth(api, args.sizes, args.probe_rate, 4)
        finally:
            if api:
                api.stop()
            node.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = args.only or list(ALL)
    if any(name in ON_STACK for name in chosen):
        require_wrk()
    results: dict = {
        "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": shlex.join(["python", "-m", "bench", *sys.argv[1:]]),
        "note": args.note,
        "machine": machine(),
        "workers": args.workers,
    }
    if any(name in ON_STACK for name in chosen):
        run_on_stack(args, chosen, results)
    if "many_files" in chosen:
        print("many files through the page over an emulated WAN link ...", flush=True)
        results["many_files"] = many_files.run(args.many_files)
    results["load_average_at_end"] = os.getloadavg()
    results["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for path in (RESULTS / f"bench-{stamp}.json", RESULTS / "latest.json"):
        path.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(render(results))
    print(f"\nresults: {RESULTS / f'bench-{stamp}.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
