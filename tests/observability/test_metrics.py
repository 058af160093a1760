"""/metrics: what it counts in one process, and that counts add up across gunicorn workers."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from app.embedded.node import free_port
from app.web.runtime import Runtime
from tests.support.constants import TOKEN
from tests.support.servers import ApiServer


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, keyed by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(page: dict, name: str, **labels: str) -> float:
    return page.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return samples(response.get_data(as_text=True))


def test_a_signed_upload_is_counted_timed_and_its_urls_counted(client, sign):
    before = scrape(client)
    sign()
    after = scrape(client)
    labels = {"endpoint": "/uploads", "method": "POST"}
    assert (
        value(after, "upload_signer_http_requests_total", status="201", **labels)
        - value(before, "upload_signer_http_requests_total", status="201", **labels)
        == 1
    )
    count = "upload_signer_http_request_duration_seconds_count"
    assert value(after, count, **labels) - value(before, count, **labels) == 1
    for method in ("PUT", "GET"):
        signed = "upload_signer_urls_signed_total"
        assert value(after, signed, method=method) - value(before, signed, method=method) == 1


def test_failures_are_labelled_by_status_and_unknown_paths_by_one_label(client, auth):
    before = scrape(client)
    assert client.post("/uploads", json={}, headers=auth).status_code == 400
    assert client.post("/uploads", json={"filename": "a"}).status_code == 401
    for path in ("/nothing-here", "/another/unknown/path"):
        assert client.get(path).status_code == 404
    after = scrape(client)
    total = "upload_signer_http_requests_total"
    for status in ("400", "401"):
        delta = value(after, total, endpoint="/uploads", method="POST", status=status) - value(
            before, total, endpoint="/uploads", method="POST", status=status
        )
        assert delta == 1
    unmatched = {"endpoint": "<unmatched>", "method": "GET", "status": "404"}
    assert value(after, total, **unmatched) - value(before, total, **unmatched) == 2
    # Raw paths never become label values: a scanner cannot blow up the series count.
    assert not any("nothing-here" in str(key) for key in after)


def test_declared_counters_are_exported_from_the_start(client):
    page = scrape(client)
    names = {name for name, _ in page}
    for name in (
        "upload_signer_segmented_uploads_completed_total",
        "upload_signer_segmented_uploads_aborted_total",
        "upload_signer_storage_reauthentications_total",
    ):
        assert name in names


def test_unreachable_storage_counts_as_a_storage_error(env):
    dead = env | {"ST_AUTH": f"http://127.0.0.1:{free_port()}/auth/v1.0"}
    before = samples(create_app(env).test_client().get("/metrics").get_data(as_text=True))
    app = create_app(dead)
    after = samples(app.test_client().get("/metrics").get_data(as_text=True))
    name = "upload_signer_storage_errors_total"
    delta = value(after, name, operation="authenticate") - value(
        before, name, operation="authenticate"
    )
    assert delta >= 1


def test_an_expired_storage_token_is_renewed_and_counted(app, client):
    before = scrape(client)
    store = Runtime.of(app).storage.store
    store._conn.token = "AUTH_tk" + "0" * 32  # what Swift says to a token past its lifetime
    assert store.container_metadata("uploads") is not None  # swiftclient fetched a new token
    after = scrape(client)
    name = "upload_signer_storage_reauthentications_total"
    assert value(after, name) - value(before, name) == 1


# -- under gunicorn ----------------------------------------------------------------------------


def worker_pids(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {int(pid) for pid in children}


def remote_scrape(server: ApiServer) -> dict:
    response = requests.get(server.url + "/metrics", timeout=10)
    assert response.status_code == 200
    return samples(response.text)


def signed_uploads(page: dict) -> float:
    return value(
        page, "upload_signer_http_requests_total", endpoint="/uploads", method="POST", status="201"
    )


@pytest.fixture
def metrics_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "metrics"
    directory.mkdir()
    # Left by an earlier run: summed in (or unreadable) unless gunicorn clears it at start.
    (directory / "counter_999999.db").write_bytes(b"stale")
    return directory


def test_counts_add_up_across_workers_and_survive_a_dead_worker(swift, metrics_dir, tmp_path):
    env = swift.env | {"API_TOKENS": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}

    def sign(index: int) -> int:
        return requests.post(
            server.url + "/uploads",
            json={"filename": f"f{index}.txt"},
            headers={"Authorization": f"Bearer {TOKEN}", "Connection": "close"},
            timeout=10,
        ).status_code

    with ApiServer(env, workers=3, log_path=tmp_path / "gunicorn.log") as server:
        assert not (metrics_dir / "counter_999999.db").exists()
        # Which worker accepts a connection is the kernel's choice: one fast worker may take
        # them all one after the other. Concurrent batches, until several workers have answered.
        uploads, writers = 0, set()
        with ThreadPoolExecutor(6) as pool:
            while len(writers) < 2 and uploads < 600:
                assert set(pool.map(sign, range(uploads, uploads + 40))) == {201}
                uploads += 40
                writers = {path.stem.rsplit("_", 1)[1] for path in metrics_dir.glob("counter_*.db")}
        # Several workers answered and each wrote its own file ...
        assert len(writers) >= 2
        # ... yet every scrape, whichever worker answers it, sees all of them.
        for _ in range(6):
            page = remote_scrape(server)
            assert signed_uploads(page) == uploads
            assert value(page, "upload_signer_urls_signed_total", method="PUT") == uploads

        victim = min(worker_pids(server.process.pid))
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while victim in worker_pids(server.process.pid) or len(worker_pids(server.process.pid)) < 3:
            assert time.monotonic() < deadline, "gunicorn did not replace the killed worker"
            time.sleep(0.1)
        # A dead worker's requests happened: its counts stay in the sums.
        assert signed_uploads(remote_scrape(server)) == uploads


def test_without_a_directory_gunicorn_uses_a_private_one_and_removes_it(swift, tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = swift.env | {"API_TOKENS": TOKEN, "TMPDIR": str(scratch)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    with ApiServer(env, workers=2) as server:
        private = list(scratch.glob("upload-signer-metrics-*"))
        assert len(private) == 1
        requests.get(server.url + "/healthz", timeout=10)
        assert any(private[0].glob("*.db"))
        page = remote_scrape(server)
        assert (
            value(
                page,
                "upload_signer_http_requests_total",
                endpoint="/healthz",
                method="GET",
                status="200",
            )
            >= 1
        )
    assert not private[0].exists()
