"""An emulated network link between the browser and Swift, for benchmarks: a TCP relay on
127.0.0.1 that gives every connection a round-trip time and a bandwidth of its own.

    python -m bench.link --target 127.0.0.1:8080 --rate 32M --rtt 40 [--port 0]

Over loopback a single connection is as fast as the CPUs, so splitting an upload into parallel
parts can only add work. Over a real path a single TCP connection is held back by its round
trip (the window it may have in flight, ``rate`` x ``rtt``) and by per-flow limits on the way;
that is what parallel parts are for. This relay shows it without root or kernel modules (no tc
netem here): each byte waits ``rtt / 2`` in each direction, each connection carries at most
``rate`` bytes/s, and at most one round trip's worth of bytes is in flight, so a sender that
outruns the link is held back by TCP itself, as on a real path. The link as a whole is not
limited: parallel connections add up, as they do until a real link's capacity is reached.

Prints ``listening on <port>`` once ready; stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

CHUNK = 64 * 1024


def parse_rate(text: str) -> float:
    """Bytes per second from ``32M``, ``512K`` or a plain number."""
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    suffix = text[-1:].upper()
    return float(text[:-1]) * units[suffix] if suffix in units else float(text)


class Link:
    def __init__(self, target: tuple[str, int], rate: float, rtt: float) -> None:
        self.target = target
        self.rate = rate
        self.one_way = rtt / 2
        # Bytes in flight: a window of two round trips at ``rate`` (so that ``rate``, not the
        # window, is what binds), never less than two chunks. A sender that fills it waits.
        self.window_chunks = max(2, int(2 * rate * rtt / CHUNK) + 1)

    async def relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Carries bytes one way, each ``one_way`` seconds late and at most ``rate`` bytes/s."""
        loop = asyncio.get_running_loop()
        in_flight: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(self.window_chunks)

        async def receive() -> None:
            while chunk := await reader.read(CHUNK):
                await in_flight.put((loop.time(), chunk))  # full: the sender's TCP waits
            await in_flight.put((loop.time(), b""))

        receiving = asyncio.create_task(receive())
        free_at = 0.0  # when the link has finished sending the previous chunk
        try:
            while True:
                arrived, chunk = await in_flight.get()
                due = max(arrived + self.one_way, free_at)
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                if not chunk:
                    if writer.can_write_eof():
                        writer.write_eof()
                    break
                writer.write(chunk)
                await writer.drain()
                # From the scheduled time, not from now: timer and scheduling delays are made
                # up on the next chunks, so the average stays ``rate``.
                free_at = due + len(chunk) / self.rate
        finally:
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await receiving

    async def connection(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter):
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        await asyncio.sleep(self.one_way * 2)  # the TCP handshake's round trip
        try:
            await asyncio.gather(self.relay(client_r, server_w), self.relay(server_r, client_w))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # a side hung up, or the link is stopping
        finally:
            for writer in (client_w, server_w):
                writer.close()


async def serve(link: Link, port: int) -> None:
    server = await asyncio.start_server(link.connection, "127.0.0.1", port)
    print(f"listening on {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


@contextlib.contextmanager
def emulated_link(target_url: str, rate: float, rtt_ms: float) -> Iterator[str]:
    """Runs the relay in its own process (so it does not share the caller's GIL) in front of
    ``target_url``; yields the link's own URL, and stops the relay on exit."""
    target = urlsplit(target_url)
    relay = subprocess.Popen(
        [sys.executable, "-m", "bench.link", "--target", f"{target.hostname}:{target.port}",
         "--rate", str(rate), "--rtt", str(rtt_ms)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    try:
        ready = relay.stdout.readline().split()  # "listening on <port>"
        if not ready:
            raise RuntimeError("the emulated link did not start")
        port = ready[-1]
        yield f"{target.scheme}://127.0.0.1:{port}"
    finally:
        relay.terminate()
        relay.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.link", description=__doc__)
    parser.add_argument("--target", required=True, help="host:port to relay to")
    parser.add_argument("--rate", type=parse_rate, required=True, help="per connection, bytes/s")
    parser.add_argument("--rtt", type=float, required=True, help="round-trip time, ms")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: free)")
    args = parser.parse_args(argv)
    host, _, port = args.target.rpartition(":")
    asyncio.run(serve(Link((host, int(port)), args.rate, args.rtt / 1000), args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
