"""Benchmark: how the API keeps client connections alive, measured four ways over one WAN link.

    .venv/bin/python bench/keepalive.py [--calls 50] [--rtt 50ms]

A browser reuses its connection to the API when the server lets it; every new connection costs
a TCP handshake (one more round trip, two or three with TLS). gunicorn's sync workers close
the connection after each answer; its gthread workers keep it open ``keepalive`` seconds; a
reverse proxy keeps the client's connection whatever the worker does. Each way gets the same
client (one ``requests`` session: it reuses a connection whenever the server allows, as a
browser does) sending ``--calls`` sequential ``POST /uploads`` through a ``bench/link.py``
relay with ``--rtt`` per connection:

- ``gthread``: the repository's gunicorn.conf.py (gthread workers, ``keepalive = 5``), direct;
- ``sync``: the same with sync workers, direct (each answer closes its connection);
- ``nginx → sync``: Debian's nginx in front of sync workers, as docs/operations.md configures
  it (the client keeps its connection to nginx; nginx opens one to gunicorn per request, on
  the same machine);
- ``nginx → gthread``: nginx in front of gthread workers with upstream ``keepalive``.

Prints, per way, the TCP connections the link accepted, the median and p90 milliseconds per
call, and the wall time; writes them as JSON under bench/results/. nginx comes from Debian
(``make bench`` installs it); without it those two ways are skipped with a line saying so.
Everything runs on 127.0.0.1 and every process it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from app.embedded.node import free_port  # noqa: E402
from bench.harness import load_line  # noqa: E402
from bench.link import emulated_links  # noqa: E402
from bench.report import machine, table  # noqa: E402
from bench.stack import Api, auth_headers, start_api, start_swift  # noqa: E402

# gunicorn runs gthread whenever threads > 1, whatever the worker class: one thread for sync.
SYNC_ENV = {"GUNICORN_CMD_ARGS": "-k app.web.worker.ProblemSyncWorker", "GUNICORN_THREADS": "1"}
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WAYS = ("gthread", "sync", "nginx → sync", "nginx → gthread")


def milliseconds(text: str) -> float:
    """``50ms``, ``50`` or ``0.05s`` as milliseconds."""
    text = text.strip().lower()
    if text.endswith("ms"):
        return float(text[:-2])
    if text.endswith("s"):
        return float(text[:-1]) * 1000
    return float(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/keepalive.py", description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=50, help="sequential calls per way (50)")
    parser.add_argument("--rtt", type=milliseconds, default=50.0, help="round trip (50ms)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.workers < 1 or args.rtt < 0:
        parser.error("--calls and --workers must be 1 or more, --rtt 0 or more")
    return args


def nginx_config(work: Path, listen_port: int, upstream_port: int) -> str:
    """docs/operations.md's proxy settings, on loopback without TLS, every path in ``work``; the
    upstream block keeps idle connections to gunicorn (used only where gunicorn keeps them)."""
    temp = "".join(
        f"    {kind}_temp_path {work / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        "daemon off;\nworker_processes 1;\n"
        f"pid {work / 'nginx.pid'};\nerror_log {work / 'error.log'} warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n    access_log off;\n" + temp + "    keepalive_timeout 75s;\n"
        f"    upstream upload_signer {{ server 127.0.0.1:{upstream_port}; keepalive 16; }}\n"
        f"    server {{\n        listen 127.0.0.1:{listen_port};\n"
        "        client_max_body_size 64k;\n"
        "        location / {\n"
        "            proxy_pass http://upload_signer;\n"
        "            proxy_http_version 1.1;\n"
        '            proxy_set_header Connection "";\n'
        "            proxy_set_header Host $host;\n"
        "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "            proxy_set_header X-Forwarded-Proto $scheme;\n"
        "            proxy_connect_timeout 5s;\n            proxy_read_timeout 35s;\n"
        "        }\n    }\n}\n"
    )


@contextmanager
def nginx_in_front(api_url: str, work: Path) -> Iterator[str]:
    """nginx proxying to ``api_url``; yields its own URL."""
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = work / "nginx.conf"
    config.write_text(nginx_config(work, port, int(api_url.rsplit(":", 1)[1])))
    process = subprocess.Popen([NGINX, "-c", str(config), "-e", str(work / "error.log")])
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited; see {work / 'error.log'}")
            try:
                requests.get(url + "/healthz", timeout=2).raise_for_status()
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def calls(url: str, count: int) -> list[float]:
    """``count`` sequential ``POST /uploads`` on one session; each one's seconds."""
    session = requests.Session()
    body = {"filename": "keepalive.bin", "size": 102_400}
    seconds = []
    for _ in range(count):
        began = time.perf_counter()
        answer = session.post(url + "/uploads", json=body, headers=auth_headers(), timeout=30)
        seconds.append(time.perf_counter() - began)
        if answer.status_code != 201:
            raise RuntimeError(f"POST /uploads answered {answer.status_code}: {answer.text[:200]}")
    session.close()
    return seconds


def through_link(url: str, count: int, rtt: float) -> dict:
    """The calls through a relay with ``rtt``: connections it accepted and the timings."""
    with emulated_links([url], 100 * 1024 * 1024, rtt) as relays:
        before = relays.stats()[0]["connections"]
        began = time.perf_counter()
        seconds = calls(relays.urls[0], count)
        wall = time.perf_counter() - began
        connections = relays.stats()[0]["connections"] - before
    ms = sorted(s * 1000 for s in seconds)
    return {
        "calls": count,
        "tcp_connections": connections,
        "median_ms": round(statistics.median(ms), 1),
        "p90_ms": round(ms[min(len(ms) - 1, int(0.9 * len(ms)))], 1),
        "wall_s": round(wall, 2),
    }


def measure(args: argparse.Namespace) -> dict:
    results: dict[str, dict] = {}
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="upload-signer-ka-")))
        node, credentials = start_swift(work / "swift")
        stack.callback(node.stop)
        apis: dict[str, Api] = {}
        for kind, extra in (("gthread", {}), ("sync", SYNC_ENV)):
            api = start_api(credentials, args.workers, work / f"{kind}.log", extra)
            stack.callback(api.stop)
            apis[kind] = api
        for kind, api in apis.items():
            results[kind] = through_link(api.url, args.calls, args.rtt)
            print(f"{kind}: {results[kind]}", flush=True)
        if not Path(NGINX).exists():
            print("nginx is not installed (`make bench` installs it): the proxied ways skipped")
            return results
        for kind, api in apis.items():
            way = f"nginx → {kind}"
            with nginx_in_front(api.url, work / kind.replace(" ", "-")) as proxy:
                results[way] = through_link(proxy, args.calls, args.rtt)
            print(f"{way}: {results[way]}", flush=True)
    return results


def render(args: argparse.Namespace, results: dict) -> str:
    rows = [
        [way, r["tcp_connections"], f"{r['median_ms']:.0f}", f"{r['p90_ms']:.0f}", r["wall_s"]]
        for way in WAYS
        if (r := results.get(way))
    ]
    head = f"{args.calls} sequential POST /uploads from one client, {args.rtt:.0f} ms RTT"
    return "\n".join(
        [head, table(["way", "TCP connections", "median ms", "p90 ms", "wall s"], rows)]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(json.dumps(machine()), load_line(), sep="\n", flush=True)
    results = measure(args)
    print(render(args, results))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"keepalive-{stamp}.json"
    path.write_text(json.dumps({"args": vars(args) | {"out": str(args.out)}, "results": results}))
    print(f"figures written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
