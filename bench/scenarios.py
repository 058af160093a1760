"""The three signing measurements: signing near the floor, responsiveness, cost growth."""

from __future__ import annotations

import statistics
import time

from app.embedded.node import EmbeddedSwift

from .load import probe, probe_by_phase, wrk
from .stack import BACKGROUND_NICE, Api, proxy_requests
from .uploads import (
    MIB,
    Alternator,
    PeakRss,
    finish,
    start_direct,
    start_proxied,
    stop,
    timed_upload,
)

SIGN_BODY = {"filename": "quarterly report.pdf", "content_type": "application/pdf", "size": MIB}


def signing(
    api: Api, node: EmbeddedSwift, rounds: int, seconds: float, connections: int, warmup: float = 2
) -> dict:
    """POST /uploads and the trivial endpoint, alternated (ABBA) on the same server, under wrk."""
    urls = {"uploads": api.url + "/uploads", "trivial": api.url + "/bench/trivial"}
    for url in urls.values():
        wrk(url, SIGN_BODY, warmup, connections)  # warm-up: imports, first connections, page cache
    runs: dict[str, list[dict]] = {"uploads": [], "trivial": []}
    storage_requests = 0
    for index in range(rounds):
        order = ("trivial", "uploads") if index % 2 == 0 else ("uploads", "trivial")
        for name in order:
            before, cpu_before = proxy_requests(node), api.cpu_seconds()
            result = wrk(urls[name], SIGN_BODY, seconds, connections)
            result["server_cpu_ms_per_request"] = (
                (api.cpu_seconds() - cpu_before) * 1000 / max(result["requests"], 1)
            )
            result["storage_requests"] = proxy_requests(node) - before
            runs[name].append(result)
            if name == "uploads":
                storage_requests += result["storage_requests"]

    def combined(results: list[dict]) -> dict:
        return {
            "rps": sum(r["requests"] for r in results) / sum(r["seconds"] for r in results),
            "p50_ms": statistics.median(r["p50_ms"] for r in results),
            "p99_ms": statistics.median(r["p99_ms"] for r in results),
            "server_cpu_ms_per_request": sum(
                r["server_cpu_ms_per_request"] * r["requests"] for r in results
            )
            / sum(r["requests"] for r in results),
            "requests": sum(r["requests"] for r in results),
            "errors": sum(r["errors"] for r in results),
        }

    uploads, trivial = combined(runs["uploads"]), combined(runs["trivial"])
    return {
        "connections": connections,
        "rounds": rounds,
        "seconds_per_run": seconds,
        "uploads": uploads,
        "trivial": trivial,
        "ratio": uploads["rps"] / trivial["rps"],
        # Throughput on dedicated cores is inversely proportional to the server's CPU per request;
        # unlike requests/s, this hardly moves when other jobs share the machine.
        "cpu_ratio": trivial["server_cpu_ms_per_request"] / uploads["server_cpu_ms_per_request"],
        "round_ratios": [
            u["rps"] / t["rps"] for u, t in zip(runs["uploads"], runs["trivial"], strict=True)
        ],
        "storage_requests_during_signing": storage_requests,
        "runs": runs,
    }


def _probe_during(api: Api, start, count: int, size: int, rate: int, window: float, qps: float):
    uploads: list = []
    try:
        uploads += [start(api, size, rate) for _ in range(count)]
        time.sleep(1.0)  # every upload connected and streaming
        result = probe(api.url + "/uploads", SIGN_BODY, qps, window).summary()
    except BaseException:
        stop(uploads)
        raise
    statuses = finish(uploads)
    return result | {"upload_statuses": statuses}


def responsiveness(
    api: Api,
    count: int,
    size: int,
    rate: int,
    window: float,
    qps: float,
    period: float = 2.0,
) -> dict:
    """POST /uploads latency while direct uploads stream vs pause, and during proxied uploads.

    Direct uploads are paused and resumed every ``period`` seconds while the probe runs, so the
    idle baseline is measured in the same minute as the loaded case, interleaved with it.
    """
    # Direct uploads stream half of the probe's window: they must outlast it (1 s to spare).
    if size / rate < window / 2 + 2:
        raise ValueError("uploads too small or too fast for the window: slow them down")
    url = api.url + "/uploads"
    uploads: list = []
    try:
        uploads += [start_direct(api, size, rate) for _ in range(count)]
        time.sleep(1.0)  # every upload connected and streaming
        with Alternator(uploads, period) as alternator:
            phases = probe_by_phase(url, SIGN_BODY, qps, window, alternator.phase)
    except BaseException:
        stop(uploads)
        raise
    statuses = finish(uploads)
    idle = phases["paused"].summary()
    direct = phases["streaming"].summary() | {"upload_statuses": statuses}
    # Proxied uploads run without pauses: a paused one would hold its worker past gunicorn's
    # timeout. The probe ends while they are all still in flight.
    proxied = _probe_during(
        api, start_proxied, count, size, rate, min(window / 2, size / rate - 2), qps
    )
    return {
        "uploads": count,
        "upload_mib": size / MIB,
        "upload_rate_mib_s": rate / MIB,
        "probe_rate_per_s": qps,
        "window_s": window,
        "switch_period_s": period,
        "workers": api.workers,
        "nice": BACKGROUND_NICE,
        "idle": idle,
        "direct": direct,
        "proxied": proxied,
        "direct_p99_vs_idle": direct["p99_ms"] / idle["p99_ms"],
        "proxied_p99_vs_idle": proxied["p99_ms"] / idle["p99_ms"],
    }


def growth(api: Api, sizes: list[int], qps: float, window: float) -> list[dict]:
    """Per declared and uploaded size: signing latency and worker memory, direct vs proxied."""
    rows = []
    for size in sizes:
        body = SIGN_BODY | {"size": size}
        with PeakRss(api) as peak:
            latency = probe(api.url + "/uploads", body, qps, window).summary()
        direct = timed_upload(start_direct, api, size)
        proxied = timed_upload(start_proxied, api, size)
        rows.append(
            {
                "size_mib": size / MIB,
                "sign_p50_ms": latency["p50_ms"],
                "sign_p99_ms": latency["p99_ms"],
                "sign_failures": latency["failures"],
                "signing_peak_worker_rss_mib": peak.worker_max_mib,
                "direct": direct,
                "proxied": proxied,
                "api_rss_after_mib": api.rss_mib(),
            }
        )
    return rows
