"""Configure, start and stop a real single-node Swift (account, container, object, proxy).

Everything lives under one data directory: configs and rings in ``etc/``, the device in
``srv/d1``, each server's log in ``logs/``. One data directory is one store: ``start`` takes an
exclusive lock on ``lock`` (holding the owner's pid and URL) before it writes a config or a ring,
so a second store on the same directory refuses instead of rewriting the rings under the first.
Credentials are generated once per data directory and kept, so objects, containers and the
account TempURL key survive a restart.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

BACKEND_KINDS = ("account", "container", "object")
RING_PART_POWER = 6
ACCOUNT = "local"
USER = "admin"


class EmbeddedSwiftError(RuntimeError):
    """The embedded store could not start; the message says why, with the failing server's log."""


@dataclass(frozen=True)
class Credentials:
    auth_url: str
    user: str
    key: str

    def as_env(self) -> dict[str, str]:
        return {"ST_AUTH": self.auth_url, "ST_USER": self.user, "ST_KEY": self.key}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


LOCK_FILE = "lock"


class DataDirInUse(EmbeddedSwiftError):
    """Another process runs a store on this data directory."""


def _lock_data_dir(data_dir: Path, url: str) -> int:
    """An exclusive flock on ``data_dir/lock``, with this process's pid and URL written in it.

    The lock goes with the descriptor: the kernel drops it when the process ends, however it ends,
    and Python's descriptors are not inherited by the server processes.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 4096, 0).decode(errors="replace").split()
        os.close(fd)
        pid, owner_url = [*holder, "?", "?"][:2]
        raise DataDirInUse(
            f"data directory {data_dir} is in use by another embedded Swift (pid {pid}, "
            f"{owner_url}): stop it, or give this one another data directory"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {url}\n".encode(), 0)
    return fd


def _load_secrets(path: Path) -> dict[str, str]:
    if path.exists():
        return json.loads(path.read_text())
    values = {"hash_suffix": secrets.token_hex(16), "admin_key": secrets.token_urlsafe(24)}
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


@dataclass(frozen=True)
class KeystoneAuthtoken:
    """A proxy that takes Keystone tokens (keystonemiddleware ``authtoken`` + ``keystoneauth``)
    instead of tempauth: the service user that validates tokens, and the roles that own an
    account (``AUTH_<project id>``)."""

    auth_url: str
    username: str
    password: str
    project_name: str = "service"
    domain_id: str = "default"
    operator_roles: str = "admin, member"

    def filters(self) -> str:
        return (
            "[filter:authtoken]\n"
            "paste.filter_factory = keystonemiddleware.auth_token:filter_factory\n"
            f"www_authenticate_uri = {self.auth_url}\n"
            f"auth_url = {self.auth_url}\n"
            "auth_type = password\n"
            "interface = public\n"
            f"username = {self.username}\n"
            f"password = {self.password}\n"
            f"project_name = {self.project_name}\n"
            f"user_domain_id = {self.domain_id}\n"
            f"project_domain_id = {self.domain_id}\n"
            # TempURL requests carry no token: keystoneauth decides, not authtoken.
            "delay_auth_decision = true\n\n"
            "[filter:keystoneauth]\nuse = egg:swift#keystoneauth\n"
            f"operator_roles = {self.operator_roles}\n\n"
        )


class EmbeddedSwift:
    def __init__(
        self,
        data_dir: Path,
        port: int = 8080,
        host: str = "127.0.0.1",
        max_file_size: int | None = None,
        keystone: KeystoneAuthtoken | None = None,
    ) -> None:
        """With ``keystone`` the proxy takes Keystone tokens and tempauth is not in it."""
        self.data_dir = data_dir.resolve()
        self.host = host
        self.port = port
        self.max_file_size = max_file_size
        self.keystone = keystone
        self.etc = self.data_dir / "etc"
        self.devices = self.data_dir / "srv"
        self.logs = self.data_dir / "logs"
        self.processes: dict[str, subprocess.Popen] = {}
        self.backend_ports: dict[str, int] = {}
        self._lock_fd: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- configuration -------------------------------------------------------------------
    def _write_configs(self, backend_ports: dict[str, int], values: dict[str, str]) -> None:
        constraints = ""
        if self.max_file_size is not None:
            constraints = f"[swift-constraints]\nmax_file_size = {self.max_file_size}\n"
        (self.etc / "swift.conf").write_text(
            "[swift-hash]\n"
            f"swift_hash_path_suffix = {values['hash_suffix']}\n\n"
            "[storage-policy:0]\nname = default\ndefault = yes\n\n" + constraints
        )
        common = (
            "[DEFAULT]\n"
            f"swift_dir = {self.etc}\n"
            f"devices = {self.devices}\n"
            "mount_check = false\n"
            f"bind_ip = {self.host}\n"
            "workers = 0\n"
            f"recon_cache_path = {self.data_dir / 'cache'}\n"
            "log_level = INFO\n"
        )
        for kind, port in backend_ports.items():
            (self.etc / f"{kind}-server.conf").write_text(
                f"{common}bind_port = {port}\n\n"
                f"[pipeline:main]\npipeline = {kind}-server\n\n"
                f"[app:{kind}-server]\nuse = egg:swift#{kind}\n"
            )
        if self.keystone is None:
            auth = "tempauth"
            auth_filters = (
                "[filter:tempauth]\nuse = egg:swift#tempauth\n"
                f"user_{ACCOUNT}_{USER} = {values['admin_key']} .admin\n\n"
            )
        else:
            auth, auth_filters = "authtoken keystoneauth", self.keystone.filters()
        (self.etc / "proxy-server.conf").write_text(
            f"{common}bind_port = {self.port}\n\n"
            "[pipeline:main]\n"
            "pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats"
            f" tempurl formpost {auth} copy slo dlo versioned_writes proxy-logging"
            " proxy-server\n\n"
            "[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n"
            # With one device, a single 507 would otherwise fail every object request for 60 s.
            "error_suppression_interval = 0\n\n"
            "[filter:cache]\npaste.filter_factory = app.embedded.memcache:filter_factory\n\n"
            + auth_filters
            + "".join(
                f"[filter:{name}]\nuse = egg:swift#{egg}\n\n"
                for name, egg in (
                    ("catch_errors", "catch_errors"),
                    ("gatekeeper", "gatekeeper"),
                    ("healthcheck", "healthcheck"),
                    ("proxy-logging", "proxy_logging"),
                    ("listing_formats", "listing_formats"),
                    ("tempurl", "tempurl"),
                    ("formpost", "formpost"),
                    ("copy", "copy"),
                    ("slo", "slo"),
                    ("dlo", "dlo"),
                    ("versioned_writes", "versioned_writes"),
                )
            )
        )

    def _build_rings(self, backend_ports: dict[str, int]) -> None:
        # In-process ring building takes ~0.25 s; nine swift-ring-builder calls take ~2.3 s.
        import swift.common.utils

        swift.common.utils.SWIFT_CONF_FILE = str(self.etc / "swift.conf")
        from swift.common.ring import RingBuilder

        for kind, port in backend_ports.items():
            builder = RingBuilder(RING_PART_POWER, 1, 1)
            builder.add_dev(
                {"id": 0, "region": 1, "zone": 1, "ip": self.host, "port": port}
                | {"device": "d1", "weight": 100}
            )
            builder.rebalance()
            builder.get_ring().save(str(self.etc / f"{kind}.ring.gz"))

    # -- lifecycle -----------------------------------------------------------------------
    def _check_port_free(self) -> None:
        # Swift binds with SO_REUSEPORT: a second proxy would silently share a busy port.
        with socket.socket() as sock:
            # SO_REUSEADDR still refuses a live listener, but not a port left in TIME_WAIT.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, self.port))
            except OSError:
                raise EmbeddedSwiftError(
                    f"port {self.port} on {self.host} is already in use"
                ) from None

    def start(self, timeout: float = 60.0) -> Credentials:
        if self._lock_fd is None:
            self._lock_fd = _lock_data_dir(self.data_dir, self.url)
        try:
            self._check_port_free()
        except BaseException:
            self._unlock()
            raise
        for directory in (self.etc, self.devices / "d1", self.logs, self.data_dir / "cache"):
            directory.mkdir(parents=True, exist_ok=True)
        values = _load_secrets(self.etc / "secrets.json")
        backend_ports = {kind: free_port(self.host) for kind in BACKEND_KINDS}
        self.backend_ports = backend_ports
        self._write_configs(backend_ports, values)
        self._build_rings(backend_ports)
        env = os.environ | {"UPLOAD_SIGNER_SWIFT_CONF": str(self.etc / "swift.conf")}
        try:
            for kind in (*BACKEND_KINDS, "proxy"):
                log = open(self.logs / f"{kind}.log", "ab")  # noqa: SIM115 - owned by the child
                conf = str(self.etc / f"{kind}-server.conf")
                self.processes[kind] = subprocess.Popen(
                    [sys.executable, "-m", "app.embedded.launch", kind, conf],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
                log.close()
            credentials = Credentials(
                f"{self.url}/auth/v1.0", f"{ACCOUNT}:{USER}", values["admin_key"]
            )
            self._wait_healthy(credentials, timeout)
        except BaseException:
            self.stop()
            raise
        return credentials

    def _wait_healthy(self, credentials: Credentials, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            self.raise_if_dead()
            if not all(self._accepts(port) for port in self.backend_ports.values()):
                last_error = "backend servers not listening yet"
                time.sleep(0.1)
                continue
            if self.keystone is not None:
                # No tempauth user to log in with: the proxy answering is enough.
                try:
                    if requests.get(f"{self.url}/healthcheck", timeout=2).ok:
                        return
                    last_error = "healthcheck not OK yet"
                except requests.RequestException as exc:
                    last_error = type(exc).__name__
                time.sleep(0.1)
                continue
            try:
                auth = requests.get(
                    credentials.auth_url,
                    headers={"X-Auth-User": credentials.user, "X-Auth-Key": credentials.key},
                    timeout=2,
                )
                if auth.ok:
                    account = requests.head(
                        auth.headers["X-Storage-Url"],
                        headers={"X-Auth-Token": auth.headers["X-Auth-Token"]},
                        timeout=2,
                    )
                    if account.ok:
                        return
                    last_error = f"account HEAD answered {account.status_code}"
                else:
                    last_error = f"auth answered {auth.status_code}"
            except requests.RequestException as exc:
                last_error = type(exc).__name__
            time.sleep(0.1)
        raise EmbeddedSwiftError(f"Swift did not become healthy in {timeout:.0f} s: {last_error}")

    def _accepts(self, port: int) -> bool:
        """The proxy answers 503 for a backend whose socket is not bound yet."""
        try:
            socket.create_connection((self.host, port), timeout=1).close()
            return True
        except OSError:
            return False

    def raise_if_dead(self) -> None:
        for kind, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.logs / f"{kind}.log").read_text(errors="replace")[-2000:]
                raise EmbeddedSwiftError(
                    f"Swift {kind} server exited with status {process.returncode}:\n{tail}"
                )

    def stop(self, timeout: float = 10.0) -> None:
        # Each server called setsid(), so each one is signalled on its own.
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            # The file stays: removing it would let a waiting process lock a file nobody sees.
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Credentials:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
