"""The command line as a user meets it: clear one-line errors, and no process left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import requests

from app.embedded.node import free_port
from tests.support.processes import servers_of, wait_gone
from tests.support.servers import BIN, ROOT, StorageServer

BAD_ENV = {"ST_AUTH": "http://127.0.0.1:1/auth/v1.0", "ST_USER": "a:b", "ST_KEY": "k"}


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ST_", "API_", "TEMPURL_"))}
    return env | extra


@pytest.mark.parametrize(
    "command",
    [
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-b", "127.0.0.1:0", "wsgi:app"],
        [sys.executable, "-c", "import wsgi"],
    ],
    ids=["gunicorn", "wsgi"],
)
def test_a_bad_setting_stops_start_up_with_one_line(command):
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=_clean_env(**BAD_ENV, API_TOKENS="x" * 16, TEMPURL_TTL="forever"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert lines == [
        "upload-signer: configuration error: TEMPURL_TTL must be a whole number, got 'forever'"
    ]


def test_storage_command_prints_credentials_and_stops_every_server(tmp_path):
    server = StorageServer(tmp_path / "data")
    env = server.start()
    try:
        assert set(env) == {"ST_AUTH", "ST_USER", "ST_KEY"}
        assert env["ST_AUTH"] == f"http://127.0.0.1:{server.port}/auth/v1.0"
        auth = requests.get(
            env["ST_AUTH"],
            headers={"X-Auth-User": env["ST_USER"], "X-Auth-Key": env["ST_KEY"]},
            timeout=10,
        )
        assert auth.status_code == 200
        assert len(servers_of(tmp_path / "data")) == 4
    finally:
        server.stop()
    assert wait_gone(tmp_path / "data") == []
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{server.port}/healthcheck", timeout=5)


def test_storage_servers_die_with_a_killed_storage_command(tmp_path):
    server = StorageServer(tmp_path / "data")
    server.start()
    try:
        assert len(servers_of(tmp_path / "data")) == 4
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        assert wait_gone(tmp_path / "data") == []
    finally:
        server.stop()


def test_storage_keeps_its_objects_and_credentials_across_restarts(tmp_path):
    port = free_port()
    with StorageServer(tmp_path / "data", port=port) as first:
        url = requests.get(
            first.env["ST_AUTH"],
            headers={"X-Auth-User": first.env["ST_USER"], "X-Auth-Key": first.env["ST_KEY"]},
            timeout=10,
        )
        token = {"X-Auth-Token": url.headers["X-Auth-Token"]}
        storage = url.headers["X-Storage-Url"]
        assert requests.put(f"{storage}/c", headers=token, timeout=10).status_code == 201
        assert (
            requests.put(f"{storage}/c/o", data=b"kept", headers=token, timeout=10).status_code
            == 201
        )
    with StorageServer(tmp_path / "data", port=port) as second:
        assert second.env == first.env
        auth = requests.get(
            second.env["ST_AUTH"],
            headers={"X-Auth-User": second.env["ST_USER"], "X-Auth-Key": second.env["ST_KEY"]},
            timeout=10,
        )
        token = {"X-Auth-Token": auth.headers["X-Auth-Token"]}
        assert requests.get(f"{storage}/c/o", headers=token, timeout=10).content == b"kept"


def test_storage_on_a_busy_port_fails_with_a_clear_message(tmp_path, swift):
    result = subprocess.run(
        [
            str(BIN / "upload-signer"),
            "storage",
            "--data-dir",
            str(tmp_path / "d"),
            "--port",
            str(swift.port),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 1
    assert (
        result.stderr
        == f"upload-signer storage: port {swift.port} on 127.0.0.1 is already in use\n"
    )
    assert result.stdout == ""
    assert wait_gone(tmp_path / "d") == []


def test_storage_rejects_a_bad_size():
    result = subprocess.run(
        [str(BIN / "upload-signer"), "storage", "--max-file-size", "lots"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "not a size" in result.stderr
