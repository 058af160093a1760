"""``python -m bench.put URL SIZE [--rate BYTES_PER_S] [-H 'Name: value']...``: one HTTP PUT.

Sends SIZE zero bytes and prints the response status (000 if there is none). Paced against a
clock that never runs more than one chunk ahead, so an upload paused with SIGSTOP resumes at its
rate instead of bursting to catch up, as curl's ``--limit-rate`` does.
"""

from __future__ import annotations

import argparse
import http.client
import time
from urllib.parse import urlsplit

CHUNK = 64 * 1024


def send(url: str, size: int, rate: int, headers: list[str]) -> int:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    connection.putrequest("PUT", target, skip_accept_encoding=True)
    for header in headers:
        name, _, value = header.partition(":")
        connection.putheader(name.strip(), value.strip())
    connection.putheader("Content-Length", str(size))
    connection.endheaders()
    block, remaining = bytes(CHUNK), size
    step = CHUNK / rate if rate else 0.0
    due = time.monotonic()
    try:
        while remaining:
            count = min(CHUNK, remaining)
            connection.send(block if count == CHUNK else block[:count])
            remaining -= count
            if step:
                due = max(due + step, time.monotonic() - step)
                time.sleep(max(0.0, due - time.monotonic()))
    except OSError:
        pass  # the server answered early (an error): read what it said
    try:
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.put", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("size", type=int)
    parser.add_argument("--rate", type=int, default=0, help="bytes per second (0: unpaced)")
    parser.add_argument("-H", dest="headers", action="append", default=[])
    args = parser.parse_args(argv)
    print(f"{send(args.url, args.size, args.rate, args.headers):03d}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
