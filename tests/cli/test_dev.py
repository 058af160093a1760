"""`upload-signer dev` (what `make run` starts): the whole stack up, usable, and fully stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from swiftclient.client import Connection

from app.embedded.node import free_port
from tests.support.processes import wait_gone
from tests.support.servers import BIN, ROOT


@pytest.fixture
def dev_stack(tmp_path):
    ports = {"api": free_port(), "frontend": free_port(), "storage": free_port()}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ST_", "API_TOKENS", "CORS_"))}
    options = [f"--{name}-port={port}" for name, port in ports.items()]
    process = subprocess.Popen(
        [
            str(BIN / "upload-signer"),
            "dev",
            "--data-dir",
            str(tmp_path / "data"),
            "--workers=1",
            *options,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        # Started as a shell's background job is (SIGINT ignored): Ctrl-C must stop it anyway.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        start_new_session=True,  # its own process group, which a failed stop kills whole
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "Ctrl-C stops everything." not in lines:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
        yield process, lines, ports
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # gunicorn too, not left orphaned
                process.wait()
        process.stdout.close()


def test_dev_prints_a_working_token_and_stops_everything_on_ctrl_c(dev_stack, tmp_path):
    process, lines, ports = dev_stack
    assert "Ctrl-C stops everything." in lines, lines
    printed = dict(line.split(":", 1) for line in lines if line.startswith(("API:", "Token:")))
    api, token = printed["API"].strip(), printed["Token"].strip()
    assert api == f"http://127.0.0.1:{ports['api']}", lines
    answer = requests.post(
        api + "/uploads",
        json={"filename": "dev.txt"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    assert answer["upload_url"].startswith(f"http://127.0.0.1:{ports['storage']}/v1/")
    assert requests.put(
        answer["upload_url"], data=b"dev", headers=answer["upload_headers"], timeout=10
    ).ok
    completed = requests.post(
        f"{api}/uploads/{answer['upload_id']}/complete",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert completed.status_code == 200
    assert requests.get(answer["download_url"], timeout=10).content == b"dev"

    page = next(line for line in lines if line.startswith("Frontend:")).split()[1]
    assert page == f"http://127.0.0.1:{ports['frontend']}/"
    assert "<html" in requests.get(page, timeout=10).text.lower()
    config = requests.get(page + "config.js", timeout=10).text
    assert f'"apiBase": "{api}"' in config and f'"token": "{token}"' in config

    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0
    assert wait_gone(tmp_path / "data") == []
    with pytest.raises(requests.ConnectionError):
        requests.get(api + "/healthz", timeout=5)


def test_the_printed_try_it_session_uploads_and_downloads_a_file(dev_stack, tmp_path):
    _, lines, _ = dev_stack
    start = lines.index("Try it from a shell (curl and jq):")
    session = "\n".join(lines[start + 1 : lines.index("Ctrl-C stops everything.")])
    # Printed lines lose their indentation to strip(); a continued line still ends in "\".
    work = tmp_path / "shell"
    work.mkdir()
    result = subprocess.run(["bash", "-e", "-c", session], cwd=work, capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (work / "hello-again.txt").read_text() == (work / "hello.txt").read_text()
    # The printed ST_* are the embedded store's: swiftclient (as `check` or the swift CLI)
    # logs in with them and finds the file just uploaded.
    storage = next(line for line in lines if line.startswith("Storage:")).split()[1:]
    st = dict(item.split("=", 1) for item in storage)
    assert sorted(st) == ["ST_AUTH", "ST_KEY", "ST_USER"], lines
    conn = Connection(authurl=st["ST_AUTH"], user=st["ST_USER"], key=st["ST_KEY"], retries=0)
    _, objects = conn.get_container("uploads")
    assert [entry["bytes"] for entry in objects] == [len((work / "hello.txt").read_bytes())]
    # The console holds the banner; the API's log lines (the requests just made) go to a file.
    log = next(line for line in lines if line.startswith("API log:")).split(None, 2)[2]
    assert '"method": "POST", "path": "/uploads", "status": 201' in Path(log).read_text()
    assert not any(line.startswith("{") for line in lines)


def test_half_a_set_of_storage_variables_is_refused_not_ignored(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ST_")}
    result = subprocess.run(
        [str(BIN / "upload-signer"), "dev", "--data-dir", str(tmp_path / "data")],
        cwd=ROOT, env=env | {"ST_AUTH": "http://127.0.0.1:9/auth/v1.0"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "ST_AUTH set but not ST_USER, ST_KEY" in result.stderr
    assert not (tmp_path / "data" / "swift").exists()  # no embedded store started instead


@pytest.mark.parametrize(
    ("api_tokens", "usable"),
    [
        ("plain-token-0123456789", "plain-token-0123456789"),
        ("alice:alice-token-0123456789,bob:bob-token-0123456789", "alice-token-0123456789"),
        ("alice:sha256:" + "a" * 64 + ",bob:bob-token-0123456789", "bob-token-0123456789"),
        ("alice:sha256:" + "a" * 64, None),
    ],
)
def test_dev_prints_a_token_a_client_can_send(api_tokens, usable):
    from app.settings.security import usable_token

    assert usable_token(api_tokens) == usable
