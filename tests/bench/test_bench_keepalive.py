"""bench/keepalive.py's arguments and nginx configuration (the run itself is the benchmark's)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bench.keepalive import WAYS, milliseconds, nginx_config, parse_args, render


def test_defaults_are_50_calls_at_50_ms():
    args = parse_args([])
    assert (args.calls, args.rtt, args.workers) == (50, 50.0, 2)


@pytest.mark.parametrize(("text", "ms"), [("50ms", 50.0), ("50", 50.0), ("0.04s", 40.0)])
def test_round_trips_read_with_or_without_a_unit(text: str, ms: float):
    assert milliseconds(text) == pytest.approx(ms)


def test_nonsense_counts_are_refused():
    with pytest.raises(SystemExit):
        parse_args(["--calls", "0"])


def test_the_proxy_keeps_upstream_connections_and_writes_only_in_its_directory(tmp_path: Path):
    config = nginx_config(tmp_path, 8443, 8000)
    assert "server 127.0.0.1:8000; keepalive 16;" in config
    assert "listen 127.0.0.1:8443;" in config
    # Upstream keep-alive needs HTTP/1.1 and no "Connection: close" passed on.
    assert "proxy_http_version 1.1;" in config and 'proxy_set_header Connection "";' in config
    paths = [word.rstrip(";") for word in config.split() if word.startswith("/") and word != "/"]
    assert paths and all(Path(path).is_relative_to(tmp_path) for path in paths)


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is installed by `make bench`")
def test_nginx_accepts_the_configuration(tmp_path: Path):
    config = tmp_path / "nginx.conf"
    config.write_text(nginx_config(tmp_path, 8443, 8000))
    checked = subprocess.run(
        ["nginx", "-t", "-c", str(config), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr


def test_the_table_lists_the_ways_measured_in_their_order():
    row = {"tcp_connections": 1, "median_ms": 55.0, "p90_ms": 60.0, "wall_s": 1.7}
    text = render(parse_args(["--calls", "30"]), {WAYS[3]: row, WAYS[0]: row})
    lines = text.splitlines()
    assert lines[0].startswith("30 sequential POST /uploads")
    assert [line.split()[0] for line in lines[3:]] == ["gthread", "nginx"]
