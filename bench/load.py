"""Load generators: wrk for throughput, an open-loop asyncio probe for latency under load."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .stack import TOKEN

T = TypeVar("T")

LUA = Path(__file__).with_name("wrk") / "post.lua"


def require_wrk() -> str:
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("bench: wrk is not installed (`make bench` installs the Debian package)")
    return path


def wrk(url: str, body: dict, seconds: float, connections: int, threads: int = 2) -> dict:
    """One wrk run; returns requests/s and latency percentiles in milliseconds."""
    result = subprocess.run(
        [
            require_wrk(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            url,
        ],
        env=os.environ | {"BENCH_TOKEN": TOKEN, "BENCH_BODY": json.dumps(body)},
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("{"))
    raw = json.loads(line)
    return {
        "requests": raw["requests"],
        "seconds": raw["duration_us"] / 1e6,
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "errors": sum(raw["errors"].values()),
    }


@dataclass(frozen=True)
class ProbeResult:
    latencies_ms: list[float]  # every request's wait, failed or timed-out ones included
    failures: int

    def summary(self) -> dict:
        ordered = sorted(self.latencies_ms)

        def percentile(p: float) -> float:
            if not ordered:
                return float("nan")
            return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

        return {
            "requests": len(ordered),
            "failures": self.failures,
            "p50_ms": percentile(50),
            "p99_ms": percentile(99),
            "max_ms": ordered[-1] if ordered else float("nan"),
            "mean_ms": statistics.fmean(ordered) if ordered else float("nan"),
        }


async def _one(host: str, port: int, request: bytes, timeout: float) -> tuple[float, bool]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            await reader.read()  # gunicorn's sync workers close the connection after answering
            writer.close()
        ok = status_line.split(b" ", 2)[1:2] == [b"201"]
    except (TimeoutError, OSError):
        ok = False
    return (time.perf_counter() - started) * 1000, ok


async def _probe(
    url: str, body: bytes, rate: float, seconds: float, timeout: float, label: Callable[[], str]
) -> dict[str, ProbeResult]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    tasks, labels = [], []
    start = time.perf_counter()
    for index in range(int(rate * seconds)):
        # Open loop: requests leave on schedule whether or not earlier ones were answered, as
        # independent users' requests do, so a stalled server shows as latency, not fewer samples.
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        labels.append(label())
        tasks.append(asyncio.create_task(_one(host, port, request, timeout)))
    results = await asyncio.gather(*tasks)
    grouped: dict[str, ProbeResult] = {}
    for name in set(labels):
        mine = [result for result, tag in zip(results, labels, strict=True) if tag == name]
        grouped[name] = ProbeResult(
            [latency for latency, _ in mine], sum(1 for _, ok in mine if not ok)
        )
    return grouped


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, also from a thread whose event loop is already running (Playwright's
    sync API keeps one in the test session): then the probe gets a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def probe(url: str, body: dict, rate: float, seconds: float, timeout: float = 60) -> ProbeResult:
    """Send ``rate`` requests a second for ``seconds``; latency of each (201 expected)."""
    return _run(_probe(url, json.dumps(body).encode(), rate, seconds, timeout, lambda: "all"))[
        "all"
    ]


def probe_by_phase(
    url: str, body: dict, rate: float, seconds: float, phase: Callable[[], str], timeout: float = 60
) -> dict[str, ProbeResult]:
    """Like ``probe``, with the requests grouped by ``phase()`` at the moment each was sent."""
    return _run(_probe(url, json.dumps(body).encode(), rate, seconds, timeout, phase))
