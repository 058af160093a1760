"""One data directory is one store: a second embedded Swift on it refuses; the first works on."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
import requests

from app.embedded.node import free_port
from tests.support.processes import wait_gone
from tests.support.servers import BIN, ROOT

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("ST_", "API_TOKENS"))}


@pytest.fixture
def first_store(tmp_path):
    """``upload-signer storage`` on free ports; its ST_* lines once it is healthy."""
    data_dir = tmp_path / "data" / "swift"
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "upload-signer"), "storage", "--data-dir", str(data_dir), f"--port={port}"],
        cwd=ROOT, env=CLEAN_ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        credentials: dict[str, str] = {}
        while len(credentials) < 3:  # printed only once the store answers an authenticated HEAD
            line = process.stdout.readline()
            if not line:
                pytest.fail(f"the first store exited with status {process.wait()}")
            name, _, value = line.strip().partition("=")
            credentials[name] = value
        yield process, data_dir, port, credentials
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()
        assert wait_gone(data_dir) == []


def _assert_still_serves(credentials: dict[str, str]) -> None:
    auth = requests.get(
        credentials["ST_AUTH"],
        headers={"X-Auth-User": credentials["ST_USER"], "X-Auth-Key": credentials["ST_KEY"]},
        timeout=10,
    )
    assert auth.status_code == 200, auth.status_code
    url, token = auth.headers["X-Storage-Url"], {"X-Auth-Token": auth.headers["X-Auth-Token"]}
    assert requests.put(f"{url}/still", headers=token, timeout=10).status_code in (201, 202)
    put = requests.put(f"{url}/still/object", data=b"first", headers=token, timeout=10)
    assert put.status_code == 201, put.status_code
    assert requests.get(f"{url}/still/object", headers=token, timeout=10).content == b"first"


def _second(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "upload-signer"), *command], cwd=ROOT, env=CLEAN_ENV,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_a_second_storage_on_the_same_data_dir_refuses_and_the_first_keeps_working(first_store):
    process, data_dir, port, credentials = first_store
    rings = {p.name: p.read_bytes() for p in (data_dir / "etc").glob("*.ring.gz")}
    result = _second(["storage", "--data-dir", str(data_dir), f"--port={free_port()}"])
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert str(data_dir) in lines[0]
    assert f"pid {process.pid}" in lines[0] and f"http://127.0.0.1:{port}" in lines[0]
    assert {p.name: p.read_bytes() for p in (data_dir / "etc").glob("*.ring.gz")} == rings
    _assert_still_serves(credentials)


def test_a_second_dev_on_the_same_data_dir_refuses_and_the_first_keeps_working(first_store):
    process, data_dir, port, credentials = first_store
    ports = [f"--{name}-port={free_port()}" for name in ("api", "frontend", "storage")]
    result = _second(["dev", "--data-dir", str(data_dir.parent), "--workers=1", *ports])
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("upload-signer dev: ") and str(data_dir) in lines[0]
    assert f"pid {process.pid}" in lines[0] and f"http://127.0.0.1:{port}" in lines[0]
    _assert_still_serves(credentials)


def test_the_lock_goes_with_the_store(first_store, tmp_path):
    """Once the first store stops, the same data directory starts again."""
    process, data_dir, _, _ = first_store
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0
    port = free_port()
    second = subprocess.Popen(
        [str(BIN / "upload-signer"), "storage", "--data-dir", str(data_dir), f"--port={port}"],
        cwd=ROOT, env=CLEAN_ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert second.stdout.readline().startswith("ST_AUTH=")
        assert (data_dir / "lock").read_text().split() == [
            str(second.pid),
            f"http://127.0.0.1:{port}",
        ]
    finally:
        second.send_signal(signal.SIGINT)
        try:
            second.wait(30)
        except subprocess.TimeoutExpired:
            second.kill()
            second.wait()
        second.stdout.close()
