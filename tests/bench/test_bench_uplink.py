"""The emulated link's shared uplink: a token bucket's arithmetic, on a clock the test moves."""

from __future__ import annotations

import itertools
import threading

import pytest

from bench.link import Link, Uplink

KiB = 1024
MiB = 1024 * KiB


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_the_burst_goes_at_once_then_bytes_wait_their_turn(clock):
    uplink = Uplink(MiB, burst=64 * KiB, clock=clock)
    assert uplink.reserve(64 * KiB) == 0
    # Each chunk waits for every byte reserved before it: 64 KiB at 1 MiB/s is 1/16 s.
    assert uplink.reserve(64 * KiB) == pytest.approx(1 / 16)
    assert uplink.reserve(128 * KiB) == pytest.approx(3 / 16)


def test_a_queue_drains_at_the_rate(clock):
    uplink = Uplink(MiB, burst=0, clock=clock)
    assert uplink.reserve(MiB) == pytest.approx(1.0)
    clock.now += 0.25  # a quarter of that megabyte has gone out
    assert uplink.reserve(MiB) == pytest.approx(1.75)
    clock.now += 2.0  # the queue is empty again, and the bucket holds no more than its burst
    assert uplink.reserve(KiB) == pytest.approx(KiB / MiB)


def test_idle_time_refills_the_bucket_up_to_its_burst_only(clock):
    uplink = Uplink(MiB, burst=256 * KiB, clock=clock)
    assert uplink.reserve(256 * KiB) == 0
    clock.now += 0.125  # 128 KiB of tokens back
    assert uplink.reserve(128 * KiB) == 0
    assert uplink.reserve(64 * KiB) == pytest.approx(1 / 16)
    clock.now += 3600
    assert uplink.reserve(256 * KiB) == 0
    assert uplink.reserve(MiB) == pytest.approx(1.0)


def test_connections_sharing_it_add_up_to_the_rate(clock):
    """Two connections sending 512 KiB each in 64 KiB chunks, interleaved: the last chunk
    leaves when the whole megabyte (less the burst) has gone at 1 MiB/s."""
    uplink = Uplink(MiB, burst=64 * KiB, clock=clock)
    waits = {"api": [], "storage": []}
    for _ in range(8):
        for name in waits:
            waits[name].append(uplink.reserve(64 * KiB))
    assert waits["storage"][-1] == pytest.approx((MiB - 64 * KiB) / MiB)
    # Each connection gets half: its chunks are 1/8 s apart, not 1/16 s.
    api = waits["api"]
    assert [b - a for a, b in itertools.pairwise(api)] == pytest.approx([1 / 8] * 7)


def test_an_explicit_time_is_used_instead_of_the_clock(clock):
    uplink = Uplink(MiB, burst=0, clock=clock)
    assert uplink.reserve(MiB, now=105.0) == pytest.approx(1.0)
    # A time read before the last reservation (another thread's) does not refill the bucket:
    # the wait counts from that earlier time.
    assert uplink.reserve(MiB, now=104.5) == pytest.approx(2.5)


def test_threads_reserving_at_once_lose_no_bytes(clock):
    uplink = Uplink(MiB, burst=0, clock=clock)
    barrier = threading.Barrier(8)

    def send() -> None:
        barrier.wait()
        for _ in range(500):
            uplink.reserve(KiB)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 4000 KiB reserved in all: the next byte waits for all of them.
    assert uplink.reserve(0) == pytest.approx(4000 * KiB / MiB)


def test_a_rate_of_zero_is_refused():
    with pytest.raises(ValueError):
        Uplink(0)


def test_links_given_one_uplink_share_it():
    uplink = Uplink(10 * MiB)
    api = Link(("127.0.0.1", 1), 100 * MiB, 0.05, uplink)
    storage = Link(("127.0.0.1", 2), 100 * MiB, 0.05, uplink)
    assert api.uplink is storage.uplink is uplink
    assert Link(("127.0.0.1", 3), MiB, 0.05).uplink is None


def test_a_connection_holds_two_round_trips_of_the_uplink_in_flight_towards_the_server():
    uplink = Uplink(10 * MiB)
    link = Link(("127.0.0.1", 1), 100 * MiB, 0.05, uplink)
    # 1 MiB (2 x 10 MiB/s x 50 ms) up, 10 MiB (at 100 MiB/s) down: 17 and 161 chunks of 64 KiB.
    assert (link.upstream_window_chunks, link.window_chunks) == (17, 161)
    alone = Link(("127.0.0.1", 1), 100 * MiB, 0.05)
    assert alone.upstream_window_chunks == alone.window_chunks == 161
