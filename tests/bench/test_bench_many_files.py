"""bench/many_files.py's arguments, floor and request counts (the run itself is the benchmark's)."""

from __future__ import annotations

import pytest

from bench import many_files
from bench.__main__ import parse_args as bench_args
from bench.many_files import (
    answer_times,
    count_requests,
    floor,
    parse_args,
    render,
    request_kind,
    summarize,
)

KiB = 1024
MiB = 1024 * KiB
API = "http://127.0.0.1:4000"
STORAGE = "http://localhost:5000"
ORIGINS = {"api": API, "storage": STORAGE, "page": "http://127.0.0.1:3000"}


def test_defaults_are_200_files_of_100_kib_at_50_ms_and_a_10_mib_uplink():
    args = parse_args([])
    assert (args.files, args.size, args.large) == (200, 100 * KiB, None)
    assert (args.rtt, args.uplink, args.runs) == (50.0, 10 * MiB, 3)


def test_no_uplink_cap_and_the_large_file_mode():
    args = parse_args(["--files", "50", "--uplink", "0"])
    assert (args.files, args.uplink) == (50, 0)
    args = parse_args(["--large", "512M", "--runs", "1"])
    assert (args.files, args.size, args.runs) == (1, 512 * MiB, 1)


@pytest.mark.parametrize(("text", "ms"), [("50ms", 50.0), ("50", 50.0), ("0.05s", 50.0)])
def test_round_trips_in_ms_or_seconds(text, ms):
    assert parse_args(["--rtt", text]).rtt == ms


@pytest.mark.parametrize(
    "argv",
    [["--rtt", "fast"], ["--files", "0"], ["--size", "0"], ["--uplink", "x"], ["--large", "0"]],
)
def test_bad_arguments_stop_with_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        parse_args(argv)
    assert stopped.value.code == 2
    assert "usage: bench/many_files.py" in capsys.readouterr().err


def test_make_bench_passes_its_options_through():
    args = bench_args(["--only", "many_files", "--many-files", "--files 50 --uplink 0"])
    assert args.only == ["many_files"]
    assert (args.many_files.files, args.many_files.uplink) == (50, 0)
    assert bench_args([]).many_files.files == 200


def test_floor_of_200_files_over_a_shared_10_mib_uplink():
    bound = floor(200, 200 * 100 * KiB, 50, 10 * MiB, 100 * MiB)
    # 19.5 MiB at 10 MiB/s, and 6 round trips + ceil(200 / 6) = 34 of storage requests.
    assert bound["transfer_seconds"] == pytest.approx(1.953125)
    assert (bound["round_trips"], bound["storage_round_trips"]) == (40, 34)
    assert bound["seconds"] == pytest.approx(1.953125 + 2.0)


def test_without_an_uplink_cap_six_connections_per_origin_bound_the_bytes():
    bound = floor(50, 50 * 100 * KiB, 50, 0, 100 * MiB)
    assert bound["bandwidth_bytes_per_s"] == 600 * MiB
    assert bound["round_trips"] == 6 + 9
    assert bound["seconds"] == pytest.approx(5000 * KiB / (600 * MiB) + 0.75)


def sent(request_id: str, method: str, url: str, redirect: bool = False) -> dict:
    event = {"requestId": request_id, "request": {"method": method, "url": url}}
    return event | ({"redirectResponse": {"status": 303}} if redirect else {})


def received(request_id: str, url: str, connection: int, reused: bool, wait: float = 50) -> dict:
    timing = {"sendEnd": 1.0, "receiveHeadersEnd": 1.0 + wait}
    return {
        "requestId": request_id,
        "response": {
            "url": url,
            "connectionId": connection,
            "connectionReused": reused,
            "timing": timing,
        },
    }


# One file as the page sends it today: preflight and sign, preflight and form POST to storage,
# preflight and complete; and a redirect on storage, and a request elsewhere.
FORM = f"{STORAGE}/v1/AUTH_local/uploads_segments/0b5c1f7e-1f0a-4f43-9c53-1c2b3d4e5f60/1"
COMPLETE = f"{API}/uploads/{'W' * 60}/complete"
SENT = [
    sent("1.p", "OPTIONS", f"{API}/uploads"),
    sent("1", "POST", f"{API}/uploads"),
    sent("2.p", "OPTIONS", FORM),
    sent("2", "POST", FORM),
    sent("2", "GET", f"{STORAGE}/v1/AUTH_local/uploads/done", redirect=True),
    sent("3.p", "OPTIONS", COMPLETE),
    sent("3", "POST", COMPLETE),
    sent("4", "GET", "http://example.test/x"),
]
RECEIVED = [
    received("1.p", f"{API}/uploads", 7, False, wait=150),
    received("1", f"{API}/uploads", 7, True),
    received("2.p", FORM, 9, False),
    received("2", f"{STORAGE}/v1/AUTH_local/uploads/done", 9, True, wait=70),
    received("3.p", COMPLETE, 7, True),
    received("3", COMPLETE, 7, True, wait=230),
]


def test_requests_are_counted_by_origin_and_method_preflights_included():
    counts = count_requests(SENT, RECEIVED, ORIGINS)
    assert counts["api"]["methods"] == {"OPTIONS": 2, "POST": 2}
    assert counts["storage"]["methods"] == {"GET": 1, "OPTIONS": 1, "POST": 1}
    assert counts["storage"]["redirects"] == 1
    assert counts["other"]["requests"] == 1
    assert counts["page"]["requests"] == 0
    assert (counts["api"]["connection_ids"], counts["api"]["answers"]) == (1, 4)
    assert counts["api"]["answers_on_reused_connection"] == 3
    assert counts["storage"]["connection_ids"] == 1


def test_paths_are_grouped_with_their_ids_left_out():
    assert request_kind(COMPLETE) == "/uploads/<id>/complete"
    assert request_kind(FORM) == "/v1/<id>/uploads_segments/<id>/<id>"
    assert request_kind(f"{API}/uploads") == "/uploads"


def test_answer_times_are_medians_by_kind_of_request():
    times = answer_times(SENT, RECEIVED, ORIGINS)
    assert times["api POST /uploads/<id>/complete"] == {"median_ms": 230.0, "count": 1}
    assert times["api OPTIONS /uploads"]["median_ms"] == 150.0


def test_summary_takes_the_median_run_and_prints():
    args = parse_args(["--files", "1", "--runs", "3"])
    counts = count_requests(SENT, RECEIVED, ORIGINS)
    times = answer_times(SENT, RECEIVED, ORIGINS)
    runs = [
        {"seconds": s, "requests": counts, "answer_ms": times, "tcp_connections": {"api": 1}}
        for s in (3.0, 1.0, 2.0)
    ]
    result = summarize(args, runs)
    assert result["seconds_median"] == 2.0
    assert result["requests_per_file"]["api"] == {"OPTIONS": 2.0, "POST": 2.0}
    assert result["requests_per_file"]["total"] == 8.0
    assert result["time_over_floor"] == pytest.approx(2.0 / result["floor"]["seconds"], abs=0.01)
    assert result["throughput_over_uplink"] == pytest.approx(100 * KiB / 2.0 / (10 * MiB), abs=1e-3)
    result["tcp_connections"] = {"api": 1, "storage": 1}
    text = render(result)
    assert "wall time: median 2.00 s" in text
    assert "api: 4 (4.00/file): OPTIONS 2 (2.00), POST 2 (2.00)" in text
    assert many_files.CONNECTIONS_PER_ORIGIN == 6
