"""bench/many_files.py's arguments, floor, request counts, CPU accounting and the suite's table
(the runs themselves are the benchmark's)."""

from __future__ import annotations

import shutil

import pytest

from bench import many_files
from bench.__main__ import parse_args as bench_args
from bench.accounting import (
    ProxyLog,
    bound_by,
    cpu_accounting,
    cpu_line,
    descendants,
    machine_jiffies,
    proxy_log_source,
)
from bench.many_files import (
    ROOT,
    PageUnavailable,
    answer_times,
    count_requests,
    floor,
    parse_args,
    per_file_page,
    render,
    render_suite,
    request_kind,
    suite,
    suite_summary,
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
    assert not args.many_files.suite


def test_make_bench_runs_the_whole_suite_by_default():
    assert bench_args([]).many_files.suite
    assert bench_args(["--many-files", "--suite --runs 1"]).many_files.runs == 1


def test_the_page_is_batched_unless_the_per_file_one_is_asked_for():
    args = parse_args([])
    assert (args.page, args.frontend) == ("batched", ROOT / "frontend")
    args = parse_args(["--page", "per-file"])
    assert (args.page, args.frontend) == ("per-file", None)  # taken from git when measured


def test_the_per_file_page_and_another_directory_are_not_both_taken(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        parse_args(["--page", "per-file", "--frontend", str(tmp_path)])
    assert stopped.value.code == 2
    assert "--frontend and --page per-file" in capsys.readouterr().err


def test_the_suite_is_both_pages_for_200_and_50_files_and_one_large_file():
    args = parse_args(["--suite", "--rtt", "40ms", "--workers", "3"])
    scenarios = suite(args)
    assert [(name, s.page) for name, s in scenarios] == [
        ("200 x 100 KiB, 10 MiB/s uplink", "per-file"),
        ("200 x 100 KiB, 10 MiB/s uplink", "batched"),
        ("50 x 100 KiB, no uplink cap", "per-file"),
        ("50 x 100 KiB, no uplink cap", "batched"),
        ("1 x 512 MiB, 10 MiB/s uplink", "batched"),
    ]
    shapes = [(s.files, s.size, s.uplink, s.runs, s.large) for _, s in scenarios]
    assert shapes == [
        (200, 100 * KiB, 10 * MiB, 3, None),
        (200, 100 * KiB, 10 * MiB, 3, None),
        (50, 100 * KiB, 0, 3, None),
        (50, 100 * KiB, 0, 3, None),
        (1, 512 * MiB, 10 * MiB, 1, 512 * MiB),
    ]
    assert all((s.rtt, s.workers, s.suite) == (40.0, 3, False) for _, s in scenarios)
    assert [s.frontend for _, s in scenarios][:2] == [None, ROOT / "frontend"]
    assert (args.files, args.large) == (200, None)  # the suite's own arguments are left alone


def test_the_suite_takes_the_large_files_size_and_the_runs():
    scenarios = suite(parse_args(["--suite", "--large", "64M", "--runs", "5"]))
    name, large = scenarios[-1]
    assert (name, large.files, large.size, large.runs) == (
        "1 x 64 MiB, 10 MiB/s uplink",
        1,
        64 * MiB,
        1,
    )
    assert scenarios[0][1].runs == 5


@pytest.mark.skipif(not shutil.which("git"), reason="needs git")
def test_the_per_file_page_comes_from_git_and_uploads_file_by_file(tmp_path):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    page = per_file_page(tmp_path)
    assert (page / "index.html").exists()
    assert not (page / "batch.js").exists()  # no uploadFiles / UploadBatch yet
    assert 'cache: "no-store"' in (page / "api.js").read_text()  # a preflight per API call
    assert "MAX_PARALLEL = 3" in (page / "app.js").read_text()  # one Upload per file


def test_without_the_revision_the_per_file_page_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(many_files, "PER_FILE_REVISION", "0" * 40)
    with pytest.raises(PageUnavailable, match="git archive 0000000"):
        per_file_page(tmp_path)


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


def test_summary_carries_the_median_runs_cpu_and_storage_requests_and_what_bound_it():
    args = parse_args(["--files", "2", "--runs", "3", "--page", "per-file"])
    counts = count_requests(SENT, RECEIVED, ORIGINS)
    runs = [
        {
            "seconds": s,
            "requests": counts,
            "answer_ms": {},
            "tcp_connections": {"api": 1, "storage": 1},
            "storage_requests": {"browser": 4, "api": 16, "internal": int(s)},
            "cpu": {
                "seconds": {"storage": s},
                "total_seconds": s,
                "cores": 2,
                "wall_seconds": s,
                "share_of_machine": 0.5,
                "machine_busy_share": 0.6,
                "busiest_process": {"kind": "relay", "seconds": s, "share_of_a_core": 1.0},
            },
        }
        for s in (30.0, 10.0, 20.0)
    ]
    result = summarize(args, runs)
    assert result["storage_requests_per_file"] == {"browser": 2.0, "api": 8.0, "internal": 10.0}
    assert result["cpu"]["seconds"] == {"storage": 20.0}
    assert result["bound_by"] == "one core (relay)"
    assert result["revision"] == many_files.PER_FILE_REVISION
    text = render(result)
    assert f"the per-file page: frontend/ at {many_files.PER_FILE_REVISION[:7]}" in text
    assert (
        "per file: browser 2.00, API 8.00 (its completion, mostly), Swift's internal 10.00" in text
    )
    assert "bound by: one core (relay)" in text


# ---------------------------------------------------------------- CPU and storage requests


def test_descendants_are_the_whole_tree_under_a_process():
    parent_of = {1: 0, 10: 1, 11: 10, 12: 10, 13: 12, 20: 1}
    assert sorted(descendants(10, parent_of)) == [10, 11, 12, 13]
    assert descendants(99, parent_of) == [99]


def test_the_machine_is_busy_for_every_tick_but_idle_and_iowait():
    text = "cpu  100 5 50 800 40 3 2 0 0 0\ncpu0 50 2 25 400 20 1 1 0 0 0\n"
    assert machine_jiffies(text) == (160, 1000)


def test_cpu_is_what_each_component_used_between_two_snapshots():
    before = {
        1: ("storage", "swift proxy-server", 10.0),
        2: ("storage", "swift object-server", 4.0),
        3: ("api", "gunicorn worker", 2.0),
        4: ("relay", "relay", 1.0),
        5: ("chromium", "chromium renderer", 3.0),
    }
    after = {
        1: ("storage", "swift proxy-server", 11.5),
        2: ("storage", "swift object-server", 4.4),
        3: ("api", "gunicorn worker", 2.3),
        4: ("relay", "relay", 1.2),
        5: ("chromium", "chromium renderer", 3.5),
        6: ("chromium", "chromium renderer", 0.6),  # started during the run: all of it counts
    }
    cpu = cpu_accounting(before, after, wall=2.5, cores=2, machine_busy=0.9)
    assert cpu["seconds"] == {
        "storage": 1.9,
        "api": 0.3,
        "relay": 0.2,
        "chromium": 1.1,
        "driver": 0.0,
    }
    assert cpu["total_seconds"] == 3.5
    assert cpu["share_of_machine"] == pytest.approx(3.5 / 5.0)
    assert cpu["by_process_kind"]["chromium renderer"] == 1.1
    assert cpu["busiest_process"] == {
        "kind": "swift proxy-server",
        "seconds": 1.5,
        "share_of_a_core": 0.6,
    }
    assert "storage 1.90, api 0.30, relay 0.20, chromium 1.10, driver 0.00 = 3.50 CPU-s of 2 " in (
        cpu_line(cpu)
    )
    assert "cores x 2.50 s (70%); the whole machine busy 90%" in cpu_line(cpu)


def cpu(machine: float, ours: float = 0.3, busiest: float = 0.4) -> dict:
    return {
        "machine_busy_share": machine,
        "share_of_machine": ours,
        "busiest_process": {"kind": "swift proxy-server", "share_of_a_core": busiest},
    }


@pytest.mark.parametrize(
    ("over_floor", "used", "verdict"),
    [
        (3.0, cpu(0.95, ours=0.9), "machine CPU (this run)"),
        (3.0, cpu(0.95), "machine CPU (shared)"),
        (3.0, cpu(0.5, busiest=0.97), "one core (swift proxy-server)"),
        (1.1, cpu(0.5), "network (floor)"),
        (1.02, cpu(0.96), "network (floor)"),  # at the floor, however busy the machine
        (1.1, None, "network (floor)"),
        (3.0, cpu(0.5), "waits"),
    ],
)
def test_what_bound_a_run(over_floor, used, verdict):
    assert bound_by(over_floor, used) == verdict


BROWSER_LINE = (
    "proxy-server: 127.0.0.1 127.0.0.1 07/Dec/2026/03/46/44 POST /v1/AUTH_local/c_segments/x/1 "
    "HTTP/1.0 303 http://127.0.0.1:3000/ Mozilla/5.0%20(X11%3B%20Linux%20x86_64) - - - - tx1 - "
    "0.05 - - 1.0 1.1 0 -"
)
API_LINE = (
    "proxy-server: 127.0.0.1 127.0.0.1 07/Dec/2026/03/46/44 PUT /v1/AUTH_local/c/o HTTP/1.0 201 - "
    "python-swiftclient-4.11.0 AUTH_tk9df209689... 1 - - tx3 - 0.0553 - - 1.0 1.1 0 local:admin"
)
INTERNAL_LINE = (
    "proxy-server: - - 07/Dec/2026/03/46/44 HEAD /v1/AUTH_local/c HTTP/1.0 204 - Swift - - - - "
    "tx3 - 0.0037 VW - 1.0 1.1 0 -"
)


def test_proxy_log_lines_are_told_apart_by_who_sent_them():
    assert proxy_log_source(BROWSER_LINE) == "browser"
    assert proxy_log_source(API_LINE) == "api"
    assert proxy_log_source(INTERNAL_LINE) == "internal"
    assert proxy_log_source("proxy-server: autocreate account '/AUTH_local' (txn: tx9)") is None


def test_the_proxy_log_counts_only_complete_lines_written_since_the_last_count(tmp_path):
    path = tmp_path / "proxy.log"
    log = ProxyLog(path)
    assert log.count() == {"browser": 0, "api": 0, "internal": 0}  # no log yet
    path.write_text(f"{API_LINE}\n{INTERNAL_LINE}\n")
    assert log.count() == {"browser": 0, "api": 1, "internal": 1}
    with path.open("a") as out:
        out.write(f"{BROWSER_LINE}\n{BROWSER_LINE[:40]}")  # the last one still being written
    assert log.count() == {"browser": 1, "api": 0, "internal": 0}
    with path.open("a") as out:
        out.write(f"{BROWSER_LINE[40:]}\n")
    assert log.count() == {"browser": 1, "api": 0, "internal": 0}


# ---------------------------------------------------------------- the suite's table


def scenario(name: str, page: str, seconds: float, files: int = 200, **more) -> dict:
    """What ``measure`` gives for one scenario, as far as the table reads it."""
    return {
        "scenario": name,
        "page": page,
        "files": files,
        "seconds_median": seconds,
        "floor": {"seconds": 4.0},
        "time_over_floor": round(seconds / 4.0, 2),
        "requests_per_file": {"total": 6.0 if page == "per-file" else 1.18},
        "storage_requests_per_file": {"browser": 2.0, "api": 8.0, "internal": 2.0},
        "bound_by": "waits",
        "cpu": {
            "seconds": {"storage": 9.5, "api": 2.0, "relay": 0.6, "chromium": 4.1, "driver": 0.3},
            "share_of_machine": 0.25,
            "machine_busy_share": 0.97,
        },
    } | more


def test_the_summary_has_the_speed_up_over_the_batched_page_and_the_large_files_throughput():
    scenarios = [
        scenario("200 files", "per-file", 36.0),
        scenario("200 files", "batched", 12.0),
        {"scenario": "50 files", "page": "per-file", "skipped": "per-file page unavailable"},
        scenario("50 files", "batched", 2.5, files=50),
        scenario("1 x 512 MiB", "batched", 60.0, files=1, throughput_over_uplink=0.85),
        {"scenario": "broken", "page": "batched", "error": "3 rows not done"},
    ]
    rows = suite_summary(scenarios)
    assert rows[1]["speed_up_over_per_file"] == 3.0
    assert "speed_up_over_per_file" not in rows[0]
    assert "speed_up_over_per_file" not in rows[3]  # its per-file scenario was skipped
    assert rows[0]["requests_per_file"] == 6.0
    assert rows[0]["api_storage_requests_per_file"] == 8.0
    assert rows[0]["cpu_seconds"]["storage"] == 9.5
    assert rows[2] == {
        "scenario": "50 files",
        "page": "per-file",
        "note": "per-file page unavailable",
    }
    assert rows[4]["throughput_over_uplink"] == 0.85
    assert "throughput_over_uplink" not in rows[3]
    assert rows[5]["note"] == "3 rows not done"

    text = render({"mode": "suite", "scenarios": scenarios, "summary": rows})
    assert text == render_suite({"summary": rows})
    lines = text.splitlines()
    assert lines[1].split() == [
        *("scenario", "page", "wall", "floor", "/floor", "req/file", "API", "st/file"),
        *("speed-up", "thru/uplink", "CPU-s", "st/api/relay/chr", "ours", "machine", "bound", "by"),
    ]
    per_file = next(line for line in lines if line.lstrip().startswith("200 files  per-file"))
    assert per_file.split() == [
        *("200", "files", "per-file", "36.00", "s", "4.00", "s", "9.00x", "6.00", "8.00"),
        *("-", "-", "9.5/2.0/0.6/4.1", "25%", "97%", "waits"),
    ]
    batched = next(line for line in lines if line.lstrip().startswith("200 files   batched"))
    assert batched.split()[3:11] == ["12.00", "s", "4.00", "s", "3.00x", "1.18", "8.00", "3.00x"]
    assert "1 x 512 MiB" in text and "0.85" in text
    assert "50 files, per-file page: per-file page unavailable" in text
    assert "broken, batched page: 3 rows not done" in text
