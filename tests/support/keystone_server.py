"""A real Keystone v3 (PyPI ``keystone``) for tests: sqlite and fernet keys in a temporary
directory, gunicorn on a free 127.0.0.1 port, and the embedded Swift behind it.

:func:`keystone_cloud` is the whole cloud as a context manager: Keystone bootstrapped with an
admin, a service user for Swift's ``authtoken``, an embedded Swift whose proxy takes Keystone
tokens, its ``object-store`` endpoints in the catalog, and a project with a user in a domain of
its own (not ``Default``), who holds the ``member`` role there. Every process stops on the way
out, also when a test fails. :meth:`KeystoneServer.sibling` serves the same database with other
settings (a short token lifetime) from a second gunicorn.

Swift's ``authtoken`` keeps no token cache here (it keeps one for 300 s by default), so a token
revoked in Keystone is refused by Swift at once, as a cloud shows it after its cache time.
Keystone itself caches in memory (its in-process invalidation on revocation included): without
that, each token validation took about 0.2 s.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests
from cryptography.fernet import Fernet

from app.embedded.node import EmbeddedSwift, KeystoneAuthtoken, free_port
from tests.support.servers import BIN, ROOT, terminate

REGION = "RegionOne"
ADMIN = "admin"
SWIFT_SERVICE_USER = "swift"
DOMAIN = "uploads-domain"
PROJECT = "uploads-project"
USER = "alice"
ROLE = "member"
READER_ROLE = "reader"
TOKEN_REQUEST = re.compile(r'"POST /v3/auth/tokens[ ?]')


def keystone_conf(data_dir: Path, expiration: int) -> str:
    return (
        "[DEFAULT]\n"
        "debug = false\n"
        "use_stderr = true\n"
        "[database]\n"
        f"connection = sqlite:///{data_dir / 'keystone.db'}\n"
        "[token]\n"
        "provider = fernet\n"
        f"expiration = {expiration}\n"
        "[fernet_tokens]\n"
        f"key_repository = {data_dir / 'fernet-keys'}\n"
        "[fernet_receipts]\n"
        f"key_repository = {data_dir / 'fernet-keys'}\n"
        "[credential]\n"
        f"key_repository = {data_dir / 'credential-keys'}\n"
        "[cache]\n"
        "enabled = true\n"
        "backend = dogpile.cache.memory\n"
        # bcrypt's fewest rounds: every login checks a password hash.
        "[identity]\n"
        "password_hash_rounds = 4\n"
    )


def write_key_repository(directory: Path) -> None:
    """What ``keystone-manage fernet_setup`` (``credential_setup``) writes, without its two
    seconds of start-up each: key 0 staged, key 1 primary, readable by their owner only."""
    directory.mkdir(mode=0o700)
    for index in (0, 1):
        path = directory / str(index)
        path.write_bytes(Fernet.generate_key())
        path.chmod(0o600)


@dataclass(frozen=True)
class UncachedAuthtoken(KeystoneAuthtoken):
    """Swift's ``authtoken`` that asks Keystone about every token (``token_cache_time = -1``)."""

    def filters(self) -> str:
        section = "[filter:authtoken]\n"
        text = super().filters()
        assert section in text
        return text.replace(section, section + "token_cache_time = -1\n", 1)


class KeystoneServer:
    """One Keystone data directory (database, keys) and the gunicorn serving it."""

    def __init__(self, data_dir: Path, expiration: int = 3600, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.expiration = expiration
        self.port = port or free_port()
        self.admin_password = secrets.token_urlsafe(16)
        self.process: subprocess.Popen | None = None
        self.conf_dir = data_dir / f"etc-{self.port}"
        self.access_log = data_dir / f"access-{self.port}.log"
        self.error_log = data_dir / f"error-{self.port}.log"
        self.started_in: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v3"

    def _write_conf(self) -> None:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "keystone.conf").write_text(keystone_conf(self.data_dir, self.expiration))

    def _manage(self, *args: str) -> None:
        result = subprocess.run(
            [str(BIN / "keystone-manage"), "--config-dir", str(self.conf_dir), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"keystone-manage {args[0]} failed: {result.stderr[-2000:]}")

    def bootstrap(self) -> None:
        """Database, fernet and credential keys, the admin and the identity endpoint."""
        self._write_conf()
        for repository in ("fernet-keys", "credential-keys"):
            write_key_repository(self.data_dir / repository)
        self._manage("db_sync")
        self._manage(
            "bootstrap",
            "--bootstrap-password",
            self.admin_password,
            "--bootstrap-region-id",
            REGION,
            "--bootstrap-public-url",
            self.url,
        )

    def start(self, timeout: float = 60) -> KeystoneServer:
        self._write_conf()
        begun = time.monotonic()
        log = open(self.error_log, "ab")  # noqa: SIM115 - owned by the child
        command = [str(BIN / "gunicorn"), "-b", f"127.0.0.1:{self.port}", "-w", "1"]
        # Started outside the repository, so that gunicorn does not read the API's gunicorn.conf.py.
        command += ["--access-logfile", str(self.access_log), "--pythonpath", str(ROOT)]
        if "--no-control-socket" in _gunicorn_options():
            command.append("--no-control-socket")
        self.process = subprocess.Popen(
            [*command, "tests.support.keystone_wsgi:application"],
            cwd=self.data_dir,
            env=os.environ | {"OS_KEYSTONE_CONFIG_DIR": str(self.conf_dir)},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Keystone exited: {self.error_tail()}")
            try:
                if requests.get(self.url, timeout=2).status_code == 200:
                    self.started_in = time.monotonic() - begun
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Keystone did not answer {self.url} in {timeout} s")

    def error_tail(self) -> str:
        return self.error_log.read_text(errors="replace")[-3000:] if self.error_log.exists() else ""

    def sibling(self, expiration: int) -> KeystoneServer:
        """Another gunicorn on the same database and keys, with another token lifetime."""
        other = KeystoneServer(self.data_dir, expiration)
        other.admin_password = self.admin_password
        return other

    def token_requests(self) -> int:
        """``POST /v3/auth/tokens`` so far, from the access log (gunicorn writes it per request)."""
        if not self.access_log.exists():
            return 0
        return len(TOKEN_REQUEST.findall(self.access_log.read_text(errors="replace")))

    def stop(self) -> None:
        terminate(self.process, timeout=15)
        self.process = None

    def __enter__(self) -> KeystoneServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _gunicorn_options() -> str:
    return subprocess.run(
        [str(BIN / "gunicorn"), "--help"], capture_output=True, text=True, check=False
    ).stdout


class Admin:
    """Keystone's REST API with the bootstrap admin's token (no python-keystoneclient needed)."""

    def __init__(self, url: str, password: str) -> None:
        self.url = url
        answer = requests.post(
            f"{url}/auth/tokens",
            json=password_auth(ADMIN, password, {"domain": {"id": "default"}}, ADMIN),
            timeout=10,
        )
        answer.raise_for_status()
        self.headers = {"X-Auth-Token": answer.headers["X-Subject-Token"]}

    def call(self, method: str, path: str, **json: object) -> dict:
        answer = requests.request(
            method, self.url + path, headers=self.headers, json=json or None, timeout=10
        )
        if not answer.ok:
            raise RuntimeError(f"Keystone {method} {path}: {answer.status_code} {answer.text}")
        return answer.json() if answer.content else {}

    def find(self, kind: str, name: str) -> str:
        return self.call("GET", f"/{kind}?name={name}")[kind][0]["id"]


def password_auth(user: str, password: str, user_domain: dict, project: str) -> dict:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "password": password} | user_domain},
            },
            "scope": {"project": {"name": project} | user_domain},
        }
    }


@dataclass
class Cloud:
    """What the tests use: Keystone, the Swift behind it, and the non-default domain's user."""

    keystone: KeystoneServer
    swift: EmbeddedSwift
    domain_id: str
    project_id: str
    user_id: str
    password: str
    application_credential: tuple[str, str] = ("", "")
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def storage_url(self) -> str:
        """The public object-store endpoint of the user's project."""
        return f"{self.swift.url}/v1/AUTH_{self.project_id}"

    @property
    def internal_storage_url(self) -> str:
        return f"http://localhost:{self.swift.port}/v1/AUTH_{self.project_id}"

    def password_env(self, keystone: KeystoneServer | None = None) -> dict[str, str]:
        """``OS_*`` as an openrc of the user's domain gives them: domain IDs, not names."""
        return {
            "OS_AUTH_URL": (keystone or self.keystone).url,
            "OS_USERNAME": USER,
            "OS_PASSWORD": self.password,
            "OS_PROJECT_NAME": PROJECT,
            "OS_USER_DOMAIN_ID": self.domain_id,
            "OS_PROJECT_DOMAIN_ID": self.domain_id,
            "OS_REGION_NAME": REGION,
        }

    def application_credential_env(self, secret: str | None = None) -> dict[str, str]:
        cred_id, cred_secret = self.application_credential
        return {
            "OS_AUTH_URL": self.keystone.url,
            "OS_APPLICATION_CREDENTIAL_ID": cred_id,
            "OS_APPLICATION_CREDENTIAL_SECRET": secret or cred_secret,
            "OS_REGION_NAME": REGION,
        }

    def user_token(self) -> str:
        answer = requests.post(
            f"{self.keystone.url}/auth/tokens",
            json=password_auth(USER, self.password, {"domain": {"id": self.domain_id}}, PROJECT),
            timeout=10,
        )
        answer.raise_for_status()
        return answer.headers["X-Subject-Token"]

    def admin(self) -> Admin:
        return Admin(self.keystone.url, self.keystone.admin_password)

    def add_user(self, name: str, role: str) -> dict[str, str]:
        """A user of the project's domain with only ``role`` there; ``OS_*`` that log it in."""
        admin = self.admin()
        password = secrets.token_urlsafe(16)
        user_id = admin.call(
            "POST", "/users", user={"name": name, "password": password, "domain_id": self.domain_id}
        )["user"]["id"]
        role_id = admin.find("roles", role)
        admin.call("PUT", f"/projects/{self.project_id}/users/{user_id}/roles/{role_id}")
        return self.password_env() | {"OS_USERNAME": name, "OS_PASSWORD": password}

    def revoke(self, token: str) -> None:
        """Revokes ``token`` in Keystone (the admin API's ``DELETE /v3/auth/tokens``)."""
        admin = self.admin()
        answer = requests.delete(
            f"{self.keystone.url}/auth/tokens",
            headers=admin.headers | {"X-Subject-Token": token},
            timeout=10,
        )
        assert answer.status_code == 204, answer.text

    def swift_takes(self, token: str) -> bool:
        """Whether Swift accepts ``token`` for the user's account (a HEAD of it)."""
        answer = requests.head(self.storage_url, headers={"X-Auth-Token": token}, timeout=10)
        assert answer.status_code in (200, 204, 401), answer.status_code
        return answer.ok


@contextlib.contextmanager
def keystone_cloud(data_dir: Path) -> Iterator[Cloud]:
    """Keystone and a Keystone-authenticated embedded Swift, both stopped on the way out."""
    if not (BIN / "keystone-manage").exists():
        raise RuntimeError(f"a real Keystone needs the keystone package in {sys.prefix}")
    timings: dict[str, float] = {}
    begun = time.monotonic()
    keystone = KeystoneServer(data_dir / "keystone")
    keystone.data_dir.mkdir(parents=True, exist_ok=True)
    keystone.bootstrap()
    timings["bootstrap"] = time.monotonic() - begun
    with contextlib.ExitStack() as stack:
        stack.enter_context(keystone)
        timings["keystone start"] = keystone.started_in or 0.0
        admin = Admin(keystone.url, keystone.admin_password)
        # Swift's service user, which validates the tokens the proxy receives.
        service_password = secrets.token_urlsafe(16)
        service_project = admin.call("POST", "/projects", project={"name": "service"})
        swift_user = admin.call(
            "POST",
            "/users",
            user={"name": SWIFT_SERVICE_USER, "password": service_password},
        )
        admin_role = admin.find("roles", ADMIN)
        admin.call(
            "PUT",
            f"/projects/{service_project['project']['id']}/users/{swift_user['user']['id']}"
            f"/roles/{admin_role}",
        )
        swift = EmbeddedSwift(
            data_dir / "swift",
            port=free_port(),
            keystone=UncachedAuthtoken(keystone.url, SWIFT_SERVICE_USER, service_password),
        )
        # Started at once: its port is free now, and the catalog below names it.
        swift_begun = time.monotonic()
        stack.callback(swift.stop)
        swift.start()
        timings["swift start"] = time.monotonic() - swift_begun
        service = admin.call(
            "POST", "/services", service={"type": "object-store", "name": "swift"}
        )["service"]
        # The same proxy under two names, so a test can tell which endpoint a call took.
        for interface, host in (("public", "127.0.0.1"), ("internal", "localhost")):
            admin.call(
                "POST",
                "/endpoints",
                endpoint={
                    "service_id": service["id"],
                    "interface": interface,
                    "region_id": REGION,
                    "url": f"http://{host}:{swift.port}/v1/AUTH_$(project_id)s",
                },
            )
        # The user of the tests: in a domain of its own, so only domain IDs (or names) find it.
        domain_id = admin.call("POST", "/domains", domain={"name": DOMAIN})["domain"]["id"]
        project_id = admin.call(
            "POST", "/projects", project={"name": PROJECT, "domain_id": domain_id}
        )["project"]["id"]
        password = secrets.token_urlsafe(16)
        user_id = admin.call(
            "POST", "/users", user={"name": USER, "password": password, "domain_id": domain_id}
        )["user"]["id"]
        role = admin.find("roles", ROLE)
        admin.call("PUT", f"/projects/{project_id}/users/{user_id}/roles/{role}")
        timings["users and catalog"] = (
            time.monotonic() - begun - timings["bootstrap"] - timings["swift start"]
        )

        cloud = Cloud(keystone, swift, domain_id, project_id, user_id, password, timings=timings)
        token = cloud.user_token()
        credential = requests.post(
            f"{keystone.url}/users/{user_id}/application_credentials",
            headers={"X-Auth-Token": token},
            json={"application_credential": {"name": "upload-signer"}},
            timeout=10,
        )
        credential.raise_for_status()
        body = credential.json()["application_credential"]
        cloud.application_credential = (body["id"], body["secret"])
        timings["total"] = time.monotonic() - begun
        yield cloud
