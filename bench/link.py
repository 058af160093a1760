"""An emulated network link between the browser and the servers, for benchmarks: TCP relays on
127.0.0.1 that give every connection a round-trip time and a bandwidth of its own, and
optionally share one uplink.

    python -m bench.link --target 127.0.0.1:8080 --rate 32M --rtt 40 [--port 0]
    python -m bench.link --target 127.0.0.1:8000 --target 127.0.0.1:8080 \\
        --rate 100M --rtt 50 --uplink 10M

Over loopback a single connection is as fast as the CPUs, so splitting an upload into parallel
parts can only add work. Over a real path a single TCP connection is held back by its round
trip (the window it may have in flight, ``rate`` x ``rtt``) and by per-flow limits on the way;
that is what parallel parts are for. This relay shows it without root or kernel modules (no tc
netem here): each byte waits ``rtt / 2`` in each direction, each connection carries at most
``rate`` bytes/s, and at most one round trip's worth of bytes is in flight, so a sender that
outruns the link is held back by TCP itself, as on a real path.

Without ``--uplink`` the link as a whole is not limited: parallel connections add up. With
``--uplink RATE`` every connection through every ``--target`` of the process shares one
client-to-server capacity of RATE bytes/s (a token bucket, :class:`Uplink`), as every
connection of a home shares its uplink: an API call waits behind the file bytes queued before
it. Answers (server to client) are limited per connection only.

One listening port per ``--target``, in the same order: prints ``listening on <port> ...`` once
ready; on SIGUSR1 prints ``stats {json}`` (per port: connections accepted, bytes each way);
stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

CHUNK = 64 * 1024


def parse_rate(text: str) -> float:
    """Bytes per second from ``32M``, ``512K`` or a plain number."""
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    suffix = text[-1:].upper()
    return float(text[:-1]) * units[suffix] if suffix in units else float(text)


class Uplink:
    """A capacity of ``rate`` bytes/s shared by every connection it is given to: a token bucket
    that holds at most ``burst`` bytes' worth of tokens.

    :meth:`reserve` takes the tokens for a chunk at once and answers how long the chunk must
    wait for them: tokens may go negative, so reservations are served in the order they were
    made (a FIFO queue, as at a router's uplink), and a chunk reserved behind ``n`` queued bytes
    waits ``n / rate`` seconds. Thread-safe; the clock is injectable for tests.
    """

    def __init__(
        self, rate: float, burst: float = CHUNK, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("an uplink needs a rate above 0")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._tokens = burst
        self._updated = clock()
        self._lock = threading.Lock()

    def reserve(self, size: int, now: float | None = None) -> float:
        """Seconds from ``now`` (default: the clock's time) until ``size`` bytes may be sent."""
        with self._lock:
            now = self.clock() if now is None else now
            if now > self._updated:  # a clock read late by another thread does not refill
                self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
            self._tokens -= size
            if self._tokens >= 0:
                return 0.0
            # The bucket is in debt as of ``_updated``: paid off ``-tokens / rate`` later.
            return -self._tokens / self.rate + (self._updated - now)


def window_chunks(rate: float, rtt: float) -> int:
    """Chunks a connection may have in flight: two round trips at ``rate``, at least two."""
    return max(2, int(2 * rate * rtt / CHUNK) + 1)


class Link:
    """One relayed target: per-connection ``rate`` and ``rtt``, and the shared ``uplink`` (if
    any) for the bytes the client sends."""

    def __init__(
        self, target: tuple[str, int], rate: float, rtt: float, uplink: Uplink | None = None
    ) -> None:
        self.target = target
        self.rate = rate
        self.one_way = rtt / 2
        self.uplink = uplink
        # Bytes in flight: a window of two round trips at ``rate`` (so that ``rate``, not the
        # window, is what binds), never less than two chunks. A sender that fills it waits.
        self.window_chunks = window_chunks(rate, rtt)
        # Towards the server, at the uplink's rate when that is lower: no connection can go
        # faster, and a deeper window would only queue more bytes ahead of every other
        # connection's (a few seconds' worth at 100 MiB/s and 10 MiB/s).
        self.upstream_window_chunks = window_chunks(min(rate, uplink.rate) if uplink else rate, rtt)
        self.stats = {"connections": 0, "bytes_up": 0, "bytes_down": 0}

    async def relay(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: bool
    ) -> None:
        """Carries bytes one way, each ``one_way`` seconds late and at most ``rate`` bytes/s;
        ``upstream`` (client to server) also through the shared uplink."""
        loop = asyncio.get_running_loop()
        window = self.upstream_window_chunks if upstream else self.window_chunks
        in_flight: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(window)
        uplink = self.uplink if upstream else None
        counter = "bytes_up" if upstream else "bytes_down"

        async def receive() -> None:
            while chunk := await reader.read(CHUNK):
                now = loop.time()
                # When the chunk has left the client's uplink: behind every byte queued before
                # it, on any connection.
                sent = now + uplink.reserve(len(chunk), now) if uplink else now
                await in_flight.put((sent, chunk))  # full: the sender's TCP waits
            await in_flight.put((loop.time(), b""))

        receiving = asyncio.create_task(receive())
        free_at = 0.0  # when the link has finished sending the previous chunk
        try:
            while True:
                sent, chunk = await in_flight.get()
                due = max(sent + self.one_way, free_at)
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                if not chunk:
                    if writer.can_write_eof():
                        writer.write_eof()
                    break
                writer.write(chunk)
                await writer.drain()
                self.stats[counter] += len(chunk)
                # From the scheduled time, not from now: timer and scheduling delays are made
                # up on the next chunks, so the average stays ``rate``.
                free_at = due + len(chunk) / self.rate
        finally:
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await receiving

    async def connection(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter):
        self.stats["connections"] += 1
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        try:
            await asyncio.sleep(self.one_way * 2)  # the TCP handshake's round trip
            await asyncio.gather(
                self.relay(client_r, server_w, upstream=True),
                self.relay(server_r, client_w, upstream=False),
            )
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # a side hung up, or the link is stopping
        finally:
            for writer in (client_w, server_w):
                writer.close()


async def serve(links: list[Link], ports: list[int]) -> None:
    servers = [
        await asyncio.start_server(link.connection, "127.0.0.1", port)
        for link, port in zip(links, ports, strict=True)
    ]
    bound = [server.sockets[0].getsockname()[1] for server in servers]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    def report() -> None:
        stats = {str(port): dict(link.stats) for port, link in zip(bound, links, strict=True)}
        print(f"stats {json.dumps(stats)}", flush=True)

    loop.add_signal_handler(signal.SIGUSR1, report)
    # Ready only once SIGUSR1 is handled: its default action would end the process.
    print(f"listening on {' '.join(map(str, bound))}", flush=True)
    async with contextlib.AsyncExitStack() as stack:
        for server in servers:
            await stack.enter_async_context(server)
        await stop.wait()


class Relays:
    """The relay process of :func:`emulated_links`: its ``urls`` (one per target, in order) and
    its counters."""

    def __init__(self, process: subprocess.Popen, urls: list[str]) -> None:
        self.process = process
        self.urls = urls

    def stats(self) -> list[dict[str, int]]:
        """Per URL, so far: ``connections`` accepted, ``bytes_up`` (client to server) and
        ``bytes_down`` relayed."""
        self.process.send_signal(signal.SIGUSR1)
        line = self.process.stdout.readline()
        if not line.startswith("stats "):
            raise RuntimeError(f"the emulated link answered {line!r}")
        by_port = json.loads(line.removeprefix("stats "))
        return [by_port[url.rsplit(":", 1)[1]] for url in self.urls]


@contextlib.contextmanager
def emulated_links(
    target_urls: list[str], rate: float, rtt_ms: float, uplink: float = 0
) -> Iterator[Relays]:
    """Runs one relay process (so it does not share the caller's GIL) in front of every URL of
    ``target_urls``, each connection with ``rate`` and ``rtt_ms``, all of them sharing one
    client-to-server ``uplink`` in bytes/s (0: none); yields its :class:`Relays` and stops the
    process on exit."""
    command = [sys.executable, "-m", "bench.link", "--rate", str(rate), "--rtt", str(rtt_ms)]
    targets = [urlsplit(url) for url in target_urls]
    for target in targets:
        command += ["--target", f"{target.hostname}:{target.port}"]
    if uplink:
        command += ["--uplink", str(uplink)]
    relay = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent
    )
    try:
        ready = relay.stdout.readline().split()  # "listening on <port> ..."
        if len(ready) != 2 + len(targets):
            raise RuntimeError("the emulated link did not start")
        urls = [
            f"{target.scheme}://127.0.0.1:{port}"
            for target, port in zip(targets, ready[2:], strict=True)
        ]
        yield Relays(relay, urls)
    finally:
        relay.terminate()
        relay.wait(10)


@contextlib.contextmanager
def emulated_link(target_url: str, rate: float, rtt_ms: float) -> Iterator[str]:
    """One relay in front of ``target_url`` (no shared uplink); yields the link's own URL."""
    with emulated_links([target_url], rate, rtt_ms) as relays:
        yield relays.urls[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.link",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--target", action="append", required=True, help="host:port to relay to (repeatable)"
    )
    parser.add_argument("--rate", type=parse_rate, required=True, help="per connection, bytes/s")
    parser.add_argument("--rtt", type=float, required=True, help="round-trip time, ms")
    parser.add_argument(
        "--port",
        type=int,
        action="append",
        help="port to listen on, one per --target in order (default: free ones)",
    )
    parser.add_argument(
        "--uplink",
        type=parse_rate,
        default=0,
        help="client-to-server bytes/s shared by every connection to every target (default: "
        "no shared cap)",
    )
    args = parser.parse_args(argv)
    ports = args.port or [0] * len(args.target)
    if len(ports) != len(args.target):
        parser.error("give one --port per --target, or none")
    uplink = Uplink(args.uplink) if args.uplink else None
    links = []
    for target in args.target:
        host, _, port = target.rpartition(":")
        links.append(Link((host, int(port)), args.rate, args.rtt / 1000, uplink))
    asyncio.run(serve(links, ports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
