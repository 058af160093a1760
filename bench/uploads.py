"""Large uploads by client processes of their own: pushing bytes never shares the probe's GIL."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass

import requests

from .stack import ROOT, Api, auth_headers, lower_priority, rss_kib

MIB = 1024 * 1024


def sign(api: Api, size: int) -> tuple[str, dict[str, str]]:
    answer = requests.post(
        api.url + "/uploads",
        json={"filename": "big.bin", "size": size},
        headers=auth_headers(),
        timeout=30,
    )
    answer.raise_for_status()
    body = answer.json()
    return body["upload_url"], body["upload_headers"]


def put(url: str, size: int, headers: dict[str, str], rate: int | None) -> subprocess.Popen:
    """A client process PUTting ``size`` bytes (``bench.put``), at a lower CPU priority."""
    command = [sys.executable, "-m", "bench.put", url, str(size), "--rate", str(rate or 0)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    lower_priority(process.pid)
    return process


def start_direct(api: Api, size: int, rate: int | None) -> subprocess.Popen:
    """Sign, then PUT straight to Swift with the TempURL: the service's design."""
    url, headers = sign(api, size)
    return put(url, size, headers, rate)


def start_proxied(api: Api, size: int, rate: int | None) -> subprocess.Popen:
    """PUT through a sync worker that streams the body on to Swift: the design it avoids."""
    url = f"{api.url}/bench/proxy-upload/{uuid.uuid4()}"
    headers = auth_headers() | {"Content-Type": "application/octet-stream"}
    return put(url, size, headers, rate)


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a paused one would not die before it resumes
            process.kill()
        process.wait()


def finish(processes: list[subprocess.Popen]) -> list[str]:
    """Wait for every upload; their HTTP statuses. On any error, no upload is left running."""
    try:
        return [process.communicate(timeout=3600)[0].strip() for process in processes]
    finally:
        stop(processes)


@dataclass
class PeakRss:
    """Largest resident size of any API worker while something runs, sampled every 50 ms."""

    api: Api
    worker_max_mib: float = 0.0
    workers_total_mib: float = 0.0

    def __enter__(self) -> PeakRss:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                sizes = [rss_kib(pid) / 1024 for pid in self.api.pids()[1:]]
            except (FileNotFoundError, ProcessLookupError):
                sizes = []
            if sizes:
                self.worker_max_mib = max(self.worker_max_mib, *sizes)
                self.workers_total_mib = max(self.workers_total_mib, sum(sizes))
            self._stop.wait(0.05)

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def timed_upload(start, api: Api, size: int) -> dict:
    with PeakRss(api) as peak:
        began = time.perf_counter()
        (status,) = finish([start(api, size, None)])
        seconds = time.perf_counter() - began
    return {
        "status": status,
        "seconds": seconds,
        "mib_per_s": size / MIB / seconds,
        "peak_worker_rss_mib": peak.worker_max_mib,
    }


class Alternator:
    """Pauses and resumes upload processes (SIGSTOP/SIGCONT) every ``period`` seconds.

    A probe running meanwhile sees the same machine with uploads streaming and with uploads
    paused, interleaved second by second, so that other jobs' load (which comes and goes over
    seconds to minutes) weighs on both alike. ``phase()`` names the state; requests sent just
    after a switch are "switching" and left out.
    """

    SETTLE = 0.3  # seconds for streams to stop or restart after a switch

    def __init__(self, processes: list[subprocess.Popen], period: float) -> None:
        self.processes = processes
        self.period = period
        self._streaming = True
        self._switched = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def phase(self) -> str:
        if time.monotonic() - self._switched < self.SETTLE:
            return "switching"
        return "streaming" if self._streaming else "paused"

    def _signal(self, number: int) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(number)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self._streaming = not self._streaming
            self._signal(signal.SIGCONT if self._streaming else signal.SIGSTOP)
            self._switched = time.monotonic()

    def __enter__(self) -> Alternator:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._signal(signal.SIGCONT)
