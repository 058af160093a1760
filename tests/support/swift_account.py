"""The embedded Swift as the object store behind a mocked identity service (Rackspace, Keystone).

An identity service hands out a token and the account's storage URLs. :class:`SwiftAccount`
gives the real ones of an embedded Swift: a token its tempauth issues, its public storage URL and
an internal one through :class:`~tests.support.servicenet.ServiceNet`. What the store then did is
read back from Swift itself: account and container headers with a real request, and each call
from the proxy's access log (who called, which method and path, which token, what status).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import unquote
from urllib.request import Request, urlopen

import requests
import requests_mock

from tests.support.servers import StorageServer
from tests.support.servicenet import SOURCE, ServiceNet

USER_AGENT = "upload-signer-tests"  # the tests' own requests, left out of calls()
PUBLIC_CLIENT = "127.0.0.1"
SERVICENET_CLIENT = SOURCE
TOKEN_SHOWN = 16  # proxy-logging's reveal_sensitive_prefix: the rest of a token is not logged


def _local(method: str, url: str, headers: dict[str, str] | None = None) -> Any:
    """urllib, not requests: a test's requests-mock must neither see nor answer these calls."""
    headers = {"User-Agent": USER_AGENT} | (headers or {})
    request = Request(url, method=method, headers=headers)  # noqa: S310 - http on 127.0.0.1
    try:
        return urlopen(request, timeout=10)  # noqa: S310
    except HTTPError as answer:  # an answer all the same, with its status and headers
        return answer


@dataclass(frozen=True)
class Call:
    """One request as the Swift proxy logged it."""

    client: str
    method: str
    path: str  # unquoted, with its query string
    status: int
    token: str  # the first TOKEN_SHOWN characters, or "" when the request had none

    @property
    def outcome(self) -> str:
        """``"2xx"`` for any success (an account HEAD is 200 or 204), else the status."""
        return "2xx" if 200 <= self.status < 300 else str(self.status)

    def used(self, token: str) -> bool:
        return bool(self.token) and self.token == shown(token)


def _parse(line: str) -> Call | None:
    # "proxy-server: client remote date method path protocol status referer agent token ..."
    fields = line.split(" ")
    if len(fields) < 11 or fields[0] != "proxy-server:" or not fields[7].isdigit():
        return None
    if not fields[6].startswith("HTTP/") or unquote(fields[9]) == USER_AGENT:
        return None
    if fields[1] == "-":
        return None  # a subrequest of the proxy's own (account info for TempURL, SLO segments)
    token = "" if fields[10] == "-" else fields[10].removesuffix("...")
    return Call(fields[1], fields[4], unquote(fields[5]), int(fields[7]), token)


class SwiftAccount:
    def __init__(self, server: StorageServer, servicenet: ServiceNet) -> None:
        self.server = server
        self.servicenet = servicenet
        self._log = Path(server.data_dir) / "logs" / "proxy.log"
        self.mark()
        self.account_path = "/v1/" + self._tempauth()["X-Storage-Url"].split("/v1/", 1)[1]

    @classmethod
    @contextmanager
    def started(cls, data_dir: Path, **options: object) -> Iterator[SwiftAccount]:
        """A Swift of its own (``StorageServer`` options), with ServiceNet, stopped after use."""
        with StorageServer(data_dir, **options) as server, ServiceNet(server.port) as servicenet:
            yield cls(server, servicenet)

    # -- what an identity service hands out -----------------------------------------------------
    @property
    def public_url(self) -> str:
        return self.server.url + self.account_path

    @property
    def internal_url(self) -> str:
        """The same account through ServiceNet."""
        return self.servicenet.url(self.account_path)

    def _tempauth(self) -> dict[str, str]:
        env = self.server.env
        credentials = {"X-Storage-User": env["ST_USER"], "X-Storage-Pass": env["ST_KEY"]}
        with _local("GET", env["ST_AUTH"], credentials) as answer:
            assert answer.status == 200, answer.status
            return dict(answer.headers)

    def token(self) -> str:
        """The token Swift's tempauth issues now (the same one until Swift restarts)."""
        return self._tempauth()["X-Auth-Token"]

    def revoke_tokens(self) -> None:
        """tempauth keeps its tokens in the proxy's memory: a restart revokes every one.

        calls() still has the calls before the restart, not those of Swift's own start-up.
        """
        earlier = self.calls()
        self.server.stop()
        self.server.start()
        self.mark()
        self._earlier = earlier

    # -- reading Swift back ---------------------------------------------------------------------
    def request(self, method: str, path: str = "", **kwargs: object) -> requests.Response:
        """A real request on the account (``path`` below it) with a valid token."""
        headers = {"X-Auth-Token": self.token(), "User-Agent": USER_AGENT}
        headers |= kwargs.pop("headers", None) or {}
        return requests.request(
            method, self.public_url + path, headers=headers, timeout=30, **kwargs
        )

    def account_headers(self) -> dict[str, str]:
        answer = self.request("HEAD")
        assert answer.ok, answer.status_code
        return {k.lower(): v for k, v in answer.headers.items()}

    def tempurl_keys(self) -> tuple[str | None, str | None]:
        headers = self.account_headers()
        key, key2 = (f"x-account-meta-temp-url-key{n}" for n in ("", "-2"))
        return headers.get(key), headers.get(key2)

    def tempurl_key(self) -> str:
        key, _ = self.tempurl_keys()
        assert key, "the account has no TempURL key"
        return key

    def container_headers(self, container: str) -> dict[str, str] | None:
        answer = self.request("HEAD", f"/{container}")
        if answer.status_code == 404:
            return None
        assert answer.ok, answer.status_code
        return {k.lower(): v for k, v in answer.headers.items()}

    def object_names(self, container: str) -> list[str]:
        answer = self.request("GET", f"/{container}", params={"format": "json"})
        assert answer.status_code == 200, answer.status_code
        return [entry["name"] for entry in json.loads(answer.text)]

    # -- the proxy's access log -----------------------------------------------------------------
    def mark(self) -> None:
        """calls() from now on."""
        self._offset = self._log.stat().st_size
        self._earlier: list[Call] = []

    def calls(self, timeout: float = 15) -> list[Call]:
        """The requests the proxy logged since mark(), the tests' own left out.

        The proxy writes a line once it has sent the answer, so a request of our own goes last
        and is waited for: every call answered before it is then in the log.
        """
        marker = f"{self.account_path}/tests-marker-{uuid.uuid4().hex}"
        with _local("HEAD", self.server.url + marker) as answer:
            assert answer.status == 401, answer.status  # it has no token
        deadline = time.monotonic() + timeout
        while True:
            with self._log.open(errors="replace") as log:
                log.seek(self._offset)
                text = log.read()
            if f" HEAD {marker}" in text:
                break
            assert time.monotonic() < deadline, f"the proxy log never showed {marker}"
            time.sleep(0.05)
        return self._earlier + [call for call in map(_parse, text.splitlines()) if call is not None]

    def token_calls(self, timeout: float = 15) -> list[Call]:
        """calls() that carried a token: the store's own account, container and object calls."""
        return [c for c in self.calls(timeout) if c.token]


def shown(token: str) -> str:
    """What the proxy log shows of ``token``."""
    return token[:TOKEN_SHOWN]


def never_issued_token() -> str:
    """A token in tempauth's form that this Swift never issued: it answers 401 to it."""
    return "AUTH_tk" + uuid.uuid4().hex


@contextmanager
def identity_mocked() -> Iterator[requests_mock.Mocker]:
    """requests-mock for the identity service only: every other request really goes out.

    Only to this machine: a request for any other host fails at once, so a store that picked the
    wrong catalog entry fails instead of reaching the Internet.
    """
    with requests_mock.Mocker(real_http=True) as mock:
        mock.register_uri(
            requests_mock.ANY,
            re.compile(r"^https?://(?!127\.0\.0\.1[:/])"),
            exc=requests.ConnectionError("no host but 127.0.0.1 in these tests"),
        )
        yield mock
