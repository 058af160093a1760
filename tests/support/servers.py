"""Real servers for tests: the embedded Swift and the API under gunicorn, on free ports.

Each is a subprocess that is always stopped, even when a test fails (fixtures use ``with``).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from app.embedded.node import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def terminate(process: subprocess.Popen | None, timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if it does not exit in time."""
    if process and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class StorageServer:
    """``upload-signer storage`` as a user runs it; can be stopped and started again."""

    def __init__(self, data_dir: Path, port: int | None = None, max_file_size: int | None = None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.max_file_size = max_file_size
        self.process: subprocess.Popen | None = None
        self.env: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> dict[str, str]:
        if importlib.util.find_spec("swift") is None:
            raise RuntimeError(
                f"the embedded Swift needs the swift package in {sys.prefix} "
                "(the `embedded` extra, which `make` installs)"
            )
        command = [
            str(BIN / "upload-signer"),
            "storage",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
        ]
        if self.max_file_size:
            command += ["--max-file-size", str(self.max_file_size)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
        env = {}
        deadline = time.monotonic() + timeout
        while len(env) < 3 and time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                self.stop()
                raise RuntimeError(f"storage did not start: {self.process.stderr.read()[-2000:]}")
            name, _, value = line.strip().partition("=")
            if name in ("ST_AUTH", "ST_USER", "ST_KEY"):
                env[name] = value
        self.env = env
        return env

    def stop(self) -> None:
        terminate(self.process)
        if self.process:
            for stream in (self.process.stdout, self.process.stderr):
                if stream:
                    stream.close()
        self.process = None

    def __enter__(self) -> StorageServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class ApiServer:
    """The API under gunicorn with the repository's gunicorn.conf.py, as production runs it."""

    def __init__(self, env: dict[str, str], workers: int = 2, log_path: Path | None = None):
        self.port = free_port()
        self.env = env
        self.workers = workers
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30, wait_ready: bool = True) -> ApiServer:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-c",
                "gunicorn.conf.py",
                "-b",
                f"127.0.0.1:{self.port}",
                "-w",
                str(self.workers),
                "wsgi:app",
            ],
            cwd=ROOT,
            env=os.environ | self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if log is not subprocess.DEVNULL:
            log.close()
        deadline = time.monotonic() + timeout
        path = "/readyz" if wait_ready else "/healthz"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                if requests.get(self.url + path, timeout=2).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"API did not answer {path} in {timeout} s")

    def stop(self) -> None:
        terminate(self.process)
        self.process = None

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
