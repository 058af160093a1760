"""The system under test: the embedded Swift and the API under gunicorn, on free ports.

gunicorn runs with the repository's gunicorn.conf.py, as production does; only the WSGI module
differs (``bench.wsgi``: the app plus the benchmark's own comparison endpoints).
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from app.embedded.node import Credentials, EmbeddedSwift, free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TOKEN = secrets.token_urlsafe(24)  # this run only
# One proxy-logging line per request the proxy served (internal sub-requests start with "- -").
PROXY_REQUEST_LINE = re.compile(r"^proxy-server: \S+ \S+ \d{2}/\w{3}/\d{4}/")


@dataclass
class Api:
    process: subprocess.Popen
    url: str
    workers: int
    log_path: Path
    env: dict[str, str] = field(repr=False)

    def pids(self) -> list[int]:
        """The master first, then its workers."""
        master = self.process.pid
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        return [master, *map(int, children)]

    def rss_mib(self) -> dict[str, float]:
        """Resident memory of the master and of each worker, in MiB."""
        sizes = [rss_kib(pid) / 1024 for pid in self.pids()]
        return {"master": sizes[0], "workers_total": sum(sizes[1:]), "worker_max": max(sizes[1:])}

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the master and its live workers."""
        return sum(cpu_seconds(pid) for pid in self.pids())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# On one machine, Swift and the upload clients stand in for remote storage and remote browsers:
# at a lower CPU priority they do not take the API's cores the way they could not in production.
BACKGROUND_NICE = 10


def lower_priority(pid: int) -> None:
    os.setpriority(os.PRIO_PROCESS, pid, BACKGROUND_NICE)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    # Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def start_swift(data_dir: Path) -> tuple[EmbeddedSwift, Credentials]:
    node = EmbeddedSwift(data_dir, port=free_port())
    credentials = node.start()
    for process in node.processes.values():
        lower_priority(process.pid)
    return node, credentials


def proxy_requests(node: EmbeddedSwift) -> int:
    """How many requests the Swift proxy has logged so far."""
    path = node.logs / "proxy.log"
    with path.open(errors="replace") as log:
        return sum(1 for line in log if PROXY_REQUEST_LINE.match(line))


def start_api(
    credentials: Credentials, workers: int, log_path: Path, extra_env: dict[str, str] | None = None
) -> Api:
    """The API under gunicorn on a free port; ``extra_env`` adds or overrides settings (e.g.
    ``GUNICORN_CMD_ARGS``)."""
    port = free_port()
    env = dict(os.environ) | credentials.as_env() | (extra_env or {})
    env |= {"API_TOKENS": TOKEN, "WEB_CONCURRENCY": str(workers), "PORT": str(port)}
    env["BIND"] = f"127.0.0.1:{port}"
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # gunicorn.conf.py makes a private one
    # Single-PUT TempURLs at every size measured (up to 1 GiB): where the service splits large
    # files into segments, that plan is measured on its own, not here.
    env.setdefault("SEGMENT_THRESHOLD", "5G")
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "bench.wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    api = Api(process, f"http://127.0.0.1:{port}", workers, log_path, env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log_path}")
        try:
            if requests.get(api.url + "/readyz", timeout=2).ok and len(api.pids()) > workers:
                return api
        except requests.RequestException:
            pass
        time.sleep(0.2)
    api.stop()
    raise RuntimeError(f"the API did not become ready; see {log_path}")


def auth_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}
