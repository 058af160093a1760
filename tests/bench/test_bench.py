"""The benchmark still runs: scenarios at toy sizes, checked for what they claim, not for speed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from bench import scenarios
from bench.stack import proxy_requests, start_api, start_swift
from bench.uploads import MIB


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    workdir = tmp_path_factory.mktemp("bench")
    node, credentials = start_swift(workdir / "swift")
    try:
        api = start_api(credentials, 2, workdir / "gunicorn.log")
        try:
            yield node, api, workdir
        finally:
            api.stop()
    finally:
        node.stop()


def test_direct_and_proxied_uploads_both_store_while_the_probe_runs(stack):
    node, api, _ = stack
    before = proxy_requests(node)
    result = scenarios.responsiveness(
        api, count=2, size=4 * MIB, rate=MIB, window=2, qps=40, period=1
    )
    # The probe's requests were split between streaming and paused uploads, both well sampled.
    assert result["idle"]["requests"] >= 10 and result["direct"]["requests"] >= 10
    assert result["proxied"]["requests"] >= 30
    for mode in ("idle", "direct", "proxied"):
        assert result[mode]["failures"] == 0
    assert result["direct"]["upload_statuses"] == ["201", "201"]
    assert result["proxied"]["upload_statuses"] == ["201", "201"]
    # Both kinds of upload reached Swift: auth + 2 PUTs each way at least.
    assert proxy_requests(node) - before >= 4


def test_growth_rows_measure_signing_and_both_upload_paths(stack):
    _, api, _ = stack
    (row,) = scenarios.growth(api, [MIB], qps=20, window=1)
    assert row["size_mib"] == 1
    assert row["sign_failures"] == 0
    assert row["direct"]["status"] == row["proxied"]["status"] == "201"
    assert row["direct"]["peak_worker_rss_mib"] > 10
    assert row["api_rss_after_mib"]["workers_total"] > row["direct"]["peak_worker_rss_mib"] / 2


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is installed by `make bench` only")
def test_signing_run_makes_no_storage_request(stack):
    node, api, _ = stack
    result = scenarios.signing(api, node, rounds=1, seconds=1, connections=2, warmup=1)
    assert result["storage_requests_during_signing"] == 0
    assert result["uploads"]["errors"] == result["trivial"]["errors"] == 0
    assert result["uploads"]["requests"] > 0 and result["ratio"] > 0


def test_bench_endpoints_are_not_in_the_app(app):
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert not any(rule.startswith("/bench") for rule in rules)
