"""Benchmark: what completing a single upload costs, and the two ways to publish a staged object.

    .venv/bin/python bench/completion.py [--rounds 21] [--sizes 1M,64M] [--workers 4]

Starts the embedded Swift and the API under gunicorn with the production configuration
(``bench.stack``: free ports, stopped at the end). Per size and round:

- over HTTP: ``POST /uploads`` with the size, the bytes PUT to ``upload_url`` (not timed), then
  ``POST /uploads/<id>/complete`` timed end to end (a new connection each time, as a browser
  coming back after a long upload has). It checks the staged object and publishes it as a
  one-segment Static Large Object manifest pinning the segment's etag and size.
- at the storage level (swiftclient with the service's account, the same Swift): a staged object
  of that size published both ways, a server-side COPY to a new name (``copy_object``: reads and
  writes every byte) and a one-segment manifest PUT (``multipart-manifest=put`` with path, etag
  and size_bytes: one small PUT, Swift HEADs the segment) created at most once
  (``If-None-Match: *``) as the service publishes; a COPY has no such guard (its conditional
  headers are the source's). The order alternates between rounds.

Prints p50, p90, min and max of ``complete`` per size, the p50 of COPY and manifest per size and
their ratio, how many storage requests one of each made, and writes the figures as JSON under
bench/results/. Everything runs on 127.0.0.1; on one machine Swift's disk is this machine's.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from swiftclient.client import Connection  # noqa: E402

from app.cli.main import size_argument  # noqa: E402
from app.embedded.node import Credentials, EmbeddedSwift  # noqa: E402
from app.settings.service import Settings  # noqa: E402
from bench.harness import load_line  # noqa: E402
from bench.report import machine, table  # noqa: E402
from bench.stack import Api, auth_headers, proxy_requests, start_api, start_swift  # noqa: E402

MIB = 1024 * 1024
PREFIX = "bench-completion"
# The API logs to tmpfs when there is one, as in ``python -m bench``: not to Swift's disk.
LOG_DIR = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None  # noqa: S108


def size_list(text: str) -> list[int]:
    """``1M,64M``: sizes in bytes, each positive."""
    return [size_argument(part.strip()) for part in text.split(",")]


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/completion.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rounds", type=positive, default=21, help="per size (default 21)")
    parser.add_argument(
        "--sizes",
        type=size_list,
        default=[MIB, 64 * MIB],
        help="comma-separated file sizes (default 1M,64M)",
    )
    parser.add_argument("--workers", type=positive, default=4, help="gunicorn workers (default 4)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=8,
        help="untimed 1 MiB completions first, so that each worker has its storage token (8)",
    )
    parser.add_argument("--note", default="", help="free text saved with the results")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    return parser.parse_args(argv)


def percentile(samples: list[float], p: float) -> float:
    """Nearest rank, as ``bench.load`` reports its percentiles."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(samples_ms: list[float]) -> dict:
    return {
        "p50_ms": percentile(samples_ms, 50),
        "p90_ms": percentile(samples_ms, 90),
        "min_ms": min(samples_ms),
        "max_ms": max(samples_ms),
        "mean_ms": statistics.fmean(samples_ms),
        "samples_ms": samples_ms,
    }


def timed_ms(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return (time.perf_counter() - began) * 1000


def storage_requests(node: EmbeddedSwift, action: Callable[[], object]) -> int:
    """How many requests the Swift proxy logged for ``action`` (run alone, then given time for
    its log lines)."""
    time.sleep(0.3)
    before = proxy_requests(node)
    action()
    time.sleep(0.3)
    return proxy_requests(node) - before


# -- over HTTP: the service's completion ---------------------------------------------------------
def staged_upload(api: Api, data: bytes) -> str:
    """A signed single upload with its bytes in place (PUT to ``upload_url``); its upload_id."""
    answer = requests.post(
        api.url + "/uploads",
        json={
            "filename": "bench.bin",
            "content_type": "application/octet-stream",
            "size": len(data),
        },
        headers=auth_headers(),
        timeout=30,
    )
    answer.raise_for_status()
    body = answer.json()
    if body["segmented"] or "upload_url" not in body:
        raise RuntimeError(f"{len(data)} bytes were not signed as a single upload: {body}")
    stored = requests.put(
        body["upload_url"], data=data, headers=body["upload_headers"], timeout=300
    )
    stored.raise_for_status()
    return body["upload_id"]


def complete(api: Api, upload_id: str, size: int) -> dict:
    answer = requests.post(
        f"{api.url}/uploads/{upload_id}/complete", headers=auth_headers(), timeout=60
    )
    if answer.status_code != 200:
        raise RuntimeError(f"complete answered {answer.status_code}: {answer.text[:300]}")
    body = answer.json()
    if body["size"] != size:
        raise RuntimeError(f"complete published {body['size']} bytes, {size} were uploaded")
    return body


def completion_rounds(
    api: Api, node: EmbeddedSwift, store: Connection, settings: Settings, size: int, rounds: int
) -> dict:
    data = os.urandom(size)
    samples = []
    for _ in range(rounds):
        upload_id = staged_upload(api, data)
        samples.append(timed_ms(lambda: complete(api, upload_id, size)))  # noqa: B023
        clean_up(store, settings)
    upload_id = staged_upload(api, data)
    requests_made = storage_requests(node, lambda: complete(api, upload_id, size))
    clean_up(store, settings)
    return summary(samples) | {"storage_requests": requests_made}


def clean_up(store: Connection, settings: Settings) -> None:
    """Delete what the completions published, their staged segments with them, and their
    markers: every round starts from the same container sizes."""
    for entry in store.get_container(settings.container, full_listing=True)[1]:
        store.delete_object(
            settings.container, entry["name"], query_string="multipart-manifest=delete"
        )
    for entry in store.get_container(settings.segments_container, full_listing=True)[1]:
        if not entry["name"].startswith(PREFIX + "/"):
            store.delete_object(settings.segments_container, entry["name"])


# -- at the storage level: COPY vs manifest ------------------------------------------------------
def publishing_rounds(
    node: EmbeddedSwift, store: Connection, settings: Settings, size: int, rounds: int
) -> dict:
    container, segments = settings.container, settings.segments_container
    staged = f"{PREFIX}/{size}/000001"
    etag = store.put_object(segments, staged, os.urandom(size))
    typed = {"Content-Type": "application/octet-stream"}
    # The service's manifest PUT is created only once (If-None-Match: *). A COPY cannot be: its
    # conditional headers apply to the source it reads (Swift answers 304 Not Modified).
    once = typed | {"If-None-Match": "*"}
    manifest = json.dumps([{"path": f"/{segments}/{staged}", "etag": etag, "size_bytes": size}])

    def copy(name: str) -> None:
        store.copy_object(segments, staged, destination=f"/{container}/{name}", headers=typed)

    def slo(name: str) -> None:
        store.put_object(
            container, name, manifest, headers=once, query_string="multipart-manifest=put"
        )

    ways = {"copy": copy, "manifest": slo}
    samples: dict[str, list[float]] = {"copy": [], "manifest": []}
    for index in range(-1, rounds):  # round -1: a warm-up, not counted
        order = ("copy", "manifest") if index % 2 == 0 else ("manifest", "copy")
        for way in order:
            name = f"{PREFIX}/{way}-{size}-{index}"
            elapsed = timed_ms(lambda: ways[way](name))  # noqa: B023
            published = store.head_object(container, name)
            if int(published["content-length"]) != size:
                raise RuntimeError(f"{way} published {published['content-length']} bytes")
            if index >= 0:
                samples[way].append(elapsed)
            store.delete_object(container, name)  # a manifest only: the staged object stays
    requests_made = {
        way: storage_requests(node, lambda: ways[way](f"{PREFIX}/{way}-{size}-count"))  # noqa: B023
        for way in ways
    }
    for way in ways:
        store.delete_object(container, f"{PREFIX}/{way}-{size}-count")
    store.delete_object(segments, staged)
    copy_stats, manifest_stats = summary(samples["copy"]), summary(samples["manifest"])
    return {
        "copy": copy_stats | {"storage_requests": requests_made["copy"]},
        "manifest": manifest_stats | {"storage_requests": requests_made["manifest"]},
        "copy_vs_manifest_p50": copy_stats["p50_ms"] / manifest_stats["p50_ms"],
    }


# -- the run ------------------------------------------------------------------------------------
def measure(args: argparse.Namespace, workdir: Path, logs: Path) -> dict:
    node, credentials = start_swift(workdir / "swift")
    api = None
    try:
        api = start_api(credentials, args.workers, logs / "gunicorn.log")
        settings = Settings.from_env(api.env)
        store = storage_connection(credentials)
        try:
            warmup = os.urandom(MIB)
            for _ in range(args.warmup):
                complete(api, staged_upload(api, warmup), MIB)
            clean_up(store, settings)
            rows = []
            for size in args.sizes:
                print(f"{size / MIB:g} MiB: complete over HTTP …", flush=True)
                http = completion_rounds(api, node, store, settings, size, args.rounds)
                print(f"{size / MIB:g} MiB: COPY vs manifest …", flush=True)
                storage = publishing_rounds(node, store, settings, size, args.rounds)
                rows.append({"size_bytes": size, "complete": http} | storage)
        finally:
            store.close()
        return {"rows": rows, "api_rss_after_mib": api.rss_mib()}
    finally:
        if api:
            api.stop()
        node.stop()


def storage_connection(credentials: Credentials) -> Connection:
    return Connection(
        authurl=credentials.auth_url, user=credentials.user, key=credentials.key, retries=0
    )


def render(results: dict) -> str:
    m = results["machine"]
    rows = results["rows"]
    complete_rows = [
        [
            f"{row['size_bytes'] / MIB:g}",
            *(f"{row['complete'][k]:.1f}" for k in ("p50_ms", "p90_ms", "min_ms", "max_ms")),
            row["complete"]["storage_requests"],
        ]
        for row in rows
    ]
    publish_rows = [
        [
            f"{row['size_bytes'] / MIB:g}",
            f"{row['copy']['p50_ms']:.1f}",
            f"{row['copy']['p90_ms']:.1f}",
            f"{row['manifest']['p50_ms']:.1f}",
            f"{row['manifest']['p90_ms']:.1f}",
            f"{row['copy_vs_manifest_p50']:.1f}x",
        ]
        for row in rows
    ]
    return "\n".join(
        [
            f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python "
            f"{m['python']}; load average {m['load_average_at_start'][0]:.2f} at start, "
            f"{results['load_average_at_end'][0]:.2f} at end. gunicorn workers: "
            f"{results['workers']}, {results['rounds']} rounds per size.",
            "",
            "POST /uploads/<id>/complete of a single upload, over HTTP (ms)",
            table(["MiB", "p50", "p90", "min", "max", "Swift requests"], complete_rows),
            "",
            "Publishing a staged object, swiftclient to the same Swift (ms)",
            table(
                ["MiB", "COPY p50", "COPY p90", "manifest p50", "manifest p90", "COPY/manifest"],
                publish_rows,
            ),
            "Swift proxy requests (its sub-requests included) for one: "
            + "; ".join(
                f"{row['size_bytes'] / MIB:g} MiB: COPY {row['copy']['storage_requests']}, "
                f"manifest {row['manifest']['storage_requests']}"
                for row in rows
            )
            + " (complete: the column above)",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict = {
        "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": shlex.join(["bench/completion.py", *(sys.argv[1:] if argv is None else argv)]),
        "note": args.note,
        "machine": machine(),
        "workers": args.workers,
        "rounds": args.rounds,
        "warmup_completions": args.warmup,
    }
    with (
        tempfile.TemporaryDirectory(prefix="upload-signer-bench-") as scratch,
        tempfile.TemporaryDirectory(prefix="upload-signer-bench-log-", dir=LOG_DIR) as logs,
    ):
        results |= measure(args, Path(scratch), Path(logs))
    results["load_average_at_end"] = os.getloadavg()
    results["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"completion-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(render(results))
    print(load_line())
    print(f"figures written to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
