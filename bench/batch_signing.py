"""Benchmark: signing N files in one ``POST /uploads`` against N single calls, on one server.

    .venv/bin/python bench/batch_signing.py [--files 50] [--rounds 15] [--workers 2]

Starts the embedded Swift and the API under gunicorn with the production configuration
(``bench.stack``: free ports, stopped at the end). Each round signs ``--files`` small files
once as N single ``POST /uploads`` and once as one ``{"files": [...]}`` batch, in alternating
order, over one keep-alive connection (what a browser has once it is connected), and records
the wall time of each. Prints the medians and their ratio (batch / singles; the target is at
most 0.2) and writes them as JSON under bench/results/. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.report import machine  # noqa: E402
from bench.stack import auth_headers, start_api, start_swift  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/batch_signing.py", description=__doc__)
    parser.add_argument("--files", type=int, default=50, help="files per batch (default 50)")
    parser.add_argument("--rounds", type=int, default=15, help="alternations (default 15)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    return parser.parse_args(argv)


def files(count: int) -> list[dict]:
    return [{"filename": f"photo {n:04d}.jpg", "size": 102_400} for n in range(count)]


def time_singles(http: requests.Session, url: str, batch: list[dict]) -> float:
    started = time.perf_counter()
    for file in batch:
        response = http.post(url, json=file, headers=auth_headers(), timeout=30)
        response.raise_for_status()
    return time.perf_counter() - started


def time_batch(http: requests.Session, url: str, batch: list[dict]) -> float:
    started = time.perf_counter()
    response = http.post(url, json={"files": batch}, headers=auth_headers(), timeout=30)
    response.raise_for_status()
    assert len(response.json()["files"]) == len(batch)
    return time.perf_counter() - started


def measure(args: argparse.Namespace, workdir: Path) -> dict:
    node, credentials = start_swift(workdir / "swift")
    try:
        api = start_api(credentials, args.workers, workdir / "gunicorn.log")
        try:
            url, batch = api.url + "/uploads", files(args.files)
            singles, batches = [], []
            with requests.Session() as http:
                time_singles(http, url, batch)  # warm: connections, caches, the first signer
                for round_number in range(args.rounds):
                    order = (singles, batches) if round_number % 2 == 0 else (batches, singles)
                    for into in order:
                        timer = time_singles if into is singles else time_batch
                        into.append(timer(http, url, batch))
        finally:
            api.stop()
    finally:
        node.stop()
    single, batched = statistics.median(singles), statistics.median(batches)
    return {
        "files": args.files,
        "rounds": args.rounds,
        "singles_ms": single * 1000,
        "batch_ms": batched * 1000,
        "ratio": batched / single,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = {"benchmark": "batch_signing", "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        results |= measure(args, Path(scratch))
    results["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"batch_signing-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"{results['files']} files: {results['files']} single POST /uploads "
        f"{results['singles_ms']:.1f} ms, one batch {results['batch_ms']:.1f} ms (medians of "
        f"{results['rounds']}): batch / singles = {results['ratio']:.3f} (target <= 0.2)"
    )
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
