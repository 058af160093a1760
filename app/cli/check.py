"""``upload-signer check``: diagnose what keeps browsers from uploading, one line per step.

It reads the service's own configuration, authenticates, checks the container's CORS metadata,
the TempURL key and the cluster's digests, then does what a browser does: a CORS preflight per
configured origin, a TempURL PUT, a TempURL GET with ``filename=``, a FormPOST (where storage
offers it) that storage must refuse one byte over its size, and deletes its test objects.
It changes nothing else in storage unless ``--fix`` asks it to run the start-up preparation first.
It never prints a key, a token or a signed URL.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO
from urllib.parse import urlsplit

import requests

from ..settings.parsers import ConfigError
from ..settings.service import Settings
from ..settings.storage import KeystoneAuth, RackspaceAuth
from ..storage.factory import open_store
from ..storage.interface import ObjectStore, StorageError
from ..storage.preparation import CORS_ORIGIN_HEADER, desired_cors, prepare
from ..storage.signing import Signer, signer_for

TEST_PREFIX = ".upload-signer-check/"
TEST_BODY = b"upload-signer check\n"
TEST_FILENAME = "check report.txt"
TEST_TTL = 300  # the test URLs' lifetime; the object also deletes itself after this long
# Settings errors about who may call the API, which `check` reports and then goes past.
AUTH_ERRORS = ("API_TOKENS is not set", "AUTH_MODE includes")
# A placeholder that lets the rest of the settings load when no caller is configured.
STAND_IN_AUTH = {"API_TOKENS": "check-stand-in-" + "x" * 24, "AUTH_MODE": "token"}


class Failed(Exception):
    """A step failed; the message is the one line shown, with its fix."""


@dataclass
class Report:
    out: TextIO
    failures: int = 0
    skipped: list[str] = field(default_factory=list)  # what was not checked, and why

    def line(self, status: str, step: str, detail: str) -> None:
        print(f"{status:<4}  {step:<22} {detail}", file=self.out, flush=True)

    def step(self, step: str, action: Callable[[], str | None]) -> bool:
        try:
            detail = action()
        except (Failed, StorageError) as exc:
            self.failures += 1
            self.line("FAIL", step, str(exc))
            return False
        if detail is not None:
            self.line("ok", step, detail)
        return True

    def skip(self, step: str, why: str) -> None:
        self.skipped.append(step)
        self.line("skip", step, why)

    def warn(self, step: str, why: str) -> None:
        self.skipped.append(step)
        self.line("warn", step, why)


class Checker:
    def __init__(
        self, settings: Settings, store: ObjectStore, report: Report, http: requests.Session
    ) -> None:
        self.settings = settings
        self.store = store
        self.report = report
        self.http = http
        self.timeout = settings.storage_timeout
        self.key: str | None = None
        self.signer: Signer | None = None
        self.metadata: dict[str, dict[str, str]] = {}
        self.info: dict | None = None  # the cluster's GET /info, once read
        self.object_name = f"{TEST_PREFIX}{uuid.uuid4()}"

    # -- configuration and storage state -------------------------------------------------------
    def credentials(self) -> str:
        """The variables that hold the storage credentials in use."""
        auth = self.settings.storage
        if auth.provider == "rackspace":
            return "RACKSPACE_USERNAME and RACKSPACE_API_KEY"
        if auth.provider == "keystone-v3":
            return auth.credential_variables()
        return "ST_USER and ST_KEY"

    def authenticate(self) -> str:
        try:
            self.store.authenticate()
        except StorageError as exc:
            if "401" in str(exc) or "refused the credentials" in str(exc):
                raise Failed(f"{exc}: the credentials were refused; fix: check "
                             f"{self.credentials()}") from None  # fmt: skip
            raise
        auth = self.settings.storage
        detail = f"{auth.provider}, storage URL {self.store.public_url}"
        if self.store.own_url != self.store.public_url:
            detail += f" (own calls: {self.store.own_url})"
        region = self.store.region
        return detail + (f", region {region}" if region else "")

    @contextmanager
    def may(self, what: str) -> Iterator[None]:
        """A 403 inside becomes a failure naming the fix: the storage user holds no role that
        owns the account."""
        try:
            yield
        except StorageError as exc:
            if "403" in str(exc):
                raise Failed(
                    f"{exc}: the storage user may not {what}; fix: {self.role_fix()}"
                ) from None
            raise

    def role_fix(self) -> str:
        auth = self.settings.storage
        if isinstance(auth, RackspaceAuth):
            return "give the Rackspace user the Cloud Files role object-store:admin"
        if not isinstance(auth, KeystoneAuth):
            return "use a user that owns the account (tempauth: an .admin user)"
        command = f"openstack role add --user {auth.user_id or auth.username or '<user>'}"
        if auth.username and not auth.user_id:
            command += f" --user-domain {auth.user_domain_id or auth.user_domain_name}"
        command += f" --project {auth.project_id or auth.project_name or '<project>'}"
        if auth.project_name and not auth.project_id:
            command += f" --project-domain {auth.project_domain_id or auth.project_domain_name}"
        fix = (
            "give the Keystone user a role in Swift's keystoneauth operator_roles (member on "
            f"most clouds; reader is not one): `{command} member`"
        )
        if auth.uses_application_credential:
            fix += ", then create a new application credential (its roles are fixed when made)"
        return fix

    def fix(self) -> str:
        with self.may("prepare the containers and the TempURL key"):
            prepare(self.store, self.settings)  # exactly what the service does at start-up
        return "containers, CORS metadata and TempURL key are as the service sets them"

    def containers(self) -> tuple[str, ...]:
        """The upload container and the segments container."""
        return (self.settings.container, self.settings.segments_container)

    def container(self, name: str) -> str:
        with self.may(f"read {name!r}"):
            meta = self.store.container_metadata(name)
        if meta is None:
            raise Failed(
                f"container {name!r} does not exist; fix: `upload-signer check --fix` "
                "(or start the service once: it creates it)"
            )
        self.metadata[name] = meta
        return f"{name!r} exists"

    def cors_metadata(self, name: str) -> str | None:
        origins = self.settings.cors_origins
        if not origins:
            self.report.skip("container CORS", "CORS_ORIGINS is empty: no browser origin to allow")
            return None
        allowed = set(self.metadata[name].get(CORS_ORIGIN_HEADER.lower(), "").split())
        missing = [origin for origin in origins if origin not in allowed]
        if missing:
            current = " ".join(sorted(allowed)) or "none"
            raise Failed(
                f"{name!r}: {CORS_ORIGIN_HEADER} allows {current}, not {', '.join(missing)}; fix: "
                f"`upload-signer check --fix` (or: swift post -H "
                f"'{CORS_ORIGIN_HEADER}: {desired_cors(origins)[CORS_ORIGIN_HEADER]}' "
                f"{name})"
            )
        return f"{name!r} allows {', '.join(origins)}"

    def tempurl_key(self) -> str:
        with self.may("read the account's TempURL key"):
            key, key2 = self.store.tempurl_keys()
        secret = self.settings.tempurl_key
        configured = secret.get_secret_value() if secret else None
        if configured:
            if configured not in (key, key2):
                raise Failed(
                    "TEMPURL_KEY is not the account's Temp-URL-Key or Temp-URL-Key-2; "
                    "fix: `upload-signer check --fix` (sets it, keeping the old key as Key-2)"
                )
            self.key = configured
            return "TEMPURL_KEY is set on the account"
        if not key:
            raise Failed(
                "the account has no Temp-URL-Key; fix: `upload-signer check --fix` "
                "(or start the service once: it sets a derived key)"
            )
        self.key = key
        return "the account has a Temp-URL-Key" + (" and a Temp-URL-Key-2" if key2 else "")

    def digests(self) -> str | None:
        parts = urlsplit(self.store.public_url)
        url = f"{parts.scheme}://{parts.netloc}/info"
        try:
            response = self.http.get(url, timeout=self.timeout)
            info = response.json() if response.ok else None
        except (requests.RequestException, ValueError):
            info = None
        if not isinstance(info, dict):
            self.report.skip("cluster digests", "GET /info is not available on this cluster")
            return None
        self.info = info
        if "tempurl" not in info:
            raise Failed("the cluster has no tempurl middleware (GET /info lists none)")
        allowed = info["tempurl"].get("allowed_digests") or ["sha1", "sha256", "sha512"]
        digest = self.settings.tempurl_digest
        if digest not in allowed:
            raise Failed(
                f"TEMPURL_DIGEST={digest} is not allowed here ({', '.join(allowed)}); "
                f"fix: set TEMPURL_DIGEST to one of them"
            )
        deprecated = info["tempurl"].get("deprecated_digests") or []
        note = " (deprecated here)" if digest in deprecated else ""
        return f"{digest} is allowed{note} ({', '.join(allowed)})"

    # -- the round trip a browser makes ---------------------------------------------------------
    def make_signer(self) -> Signer:
        return signer_for(
            self.store, self.settings.container, self.key, self.settings.tempurl_digest
        )

    def preflight(self, origin: str) -> str:
        url = self.signer.sign("PUT", self.object_name, int(time.time()) + TEST_TTL)
        response = self._send(
            "OPTIONS",
            url,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        allowed = response.headers.get("Access-Control-Allow-Origin")
        if response.status_code != 200 or allowed not in (origin, "*"):
            raise Failed(
                f"the storage answered {response.status_code} to a browser's preflight from "
                f"{origin}: the browser would block the upload; fix: `upload-signer check --fix` "
                f"(puts {origin} in the container's {CORS_ORIGIN_HEADER})"
            )
        return f"{origin} may PUT"

    def put(self) -> str:
        url = self.signer.sign("PUT", self.object_name, int(time.time()) + TEST_TTL)
        headers = {"Content-Type": "text/plain", "X-Delete-After": str(TEST_TTL)}
        if self.settings.cors_origins:
            headers["Origin"] = self.settings.cors_origins[0]
        response = self._send("PUT", url, data=TEST_BODY, headers=headers)
        if response.status_code == 401:
            raise Failed(
                "the storage refused the signed PUT (401): the key or digest does not match the "
                "account's (a new key can take up to 60 s to apply on Rackspace: try again)"
            )
        if response.status_code != 201:
            raise Failed(f"the signed PUT got {response.status_code}, not 201")
        return f"{len(TEST_BODY)} bytes stored as {self.object_name}"

    def get(self) -> str:
        url = self.signer.sign(
            "GET", self.object_name, int(time.time()) + TEST_TTL, filename=TEST_FILENAME
        )
        response = self._send("GET", url)
        if response.status_code != 200 or response.content != TEST_BODY:
            raise Failed(f"the signed GET got {response.status_code} or other bytes")
        disposition = response.headers.get("Content-Disposition", "")
        if "check report.txt" not in disposition and "check%20report.txt" not in disposition:
            raise Failed("the signed GET ignored filename= (no Content-Disposition)")
        return "same bytes back, Content-Disposition: attachment with the file name"

    def form(self) -> str | None:
        """What a browser's form upload does: storage stores a file of the signed size and
        refuses one byte more (the service relies on it to cap single uploads)."""
        if self.info is None or "formpost" not in self.info:
            self.report.skip("FormPOST", "storage offers no FormPOST (GET /info): single uploads "
                             "are PUTs only, their size checked at completion")  # fmt: skip
            return None
        segments = self.settings.segments_container
        url, fields = self.signer.form(
            self.object_name + "/", int(time.time()) + TEST_TTL, len(TEST_BODY), 1, segments
        )
        fields["x_delete_after"] = str(TEST_TTL)
        origin = self.settings.cors_origins[:1]
        headers = {"Origin": origin[0]} if origin else {}

        def post(body: bytes) -> requests.Response:
            files = {"file": ("form", body, "text/plain")}
            return self._send("POST", url, data=list(fields.items()), files=files, headers=headers)

        try:
            stored = post(TEST_BODY)
            if stored.status_code == 401:
                raise Failed("the storage refused the signed form (401): the key or digest does "
                             "not match the account's")  # fmt: skip
            if stored.status_code != 201:
                raise Failed(f"the signed form got {stored.status_code}, not 201")
            if origin and stored.headers.get("Access-Control-Allow-Origin") not in (*origin, "*"):
                raise Failed(
                    f"the form's answer allows no browser from {origin[0]}: fix: "
                    "`upload-signer check --fix` (the segments container's CORS)"
                )
            over = post(TEST_BODY + b"!")
            if over.status_code != 400:
                raise Failed(f"the storage answered {over.status_code} to a file over the form's "
                             "max_file_size, not 400: it does not enforce it")  # fmt: skip
        finally:
            for entry in self.store.list_objects(segments, prefix=self.object_name + "/"):
                self.store.delete_object(segments, entry["name"])
        return f"{len(TEST_BODY)} bytes stored, one byte more refused (400)"

    def delete(self) -> str:
        self.store.delete_object(self.settings.container, self.object_name)
        return "test object deleted"

    def _send(self, method: str, url: str, **kwargs: object) -> requests.Response:
        try:
            return self.http.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            host = urlsplit(url).netloc
            raise Failed(f"{method} to {host} failed ({type(exc).__name__})") from None

    # -- all steps ------------------------------------------------------------------------------
    def run(self, fix: bool) -> None:
        report = self.report
        if not report.step("authenticate", self.authenticate):
            return
        if fix:
            report.step("fix", self.fix)
        container_ok = True
        for name in self.containers():
            if report.step("container", lambda name=name: self.container(name)):
                report.step("container CORS", lambda name=name: self.cors_metadata(name))
            else:
                container_ok = False
        key_ok = report.step("TempURL key", self.tempurl_key)
        report.step("cluster digests", self.digests)
        if not (container_ok and key_ok):
            report.skip("round trip", "needs the container and the TempURL key")
            return
        self.signer = self.make_signer()
        for origin in self.settings.cors_origins:
            report.step("CORS preflight", lambda origin=origin: self.preflight(origin))
        if report.step("TempURL PUT", self.put):
            report.step("TempURL GET", self.get)
            report.step("delete", self.delete)
        report.step("FormPOST", self.form)


def run_check(
    env: Mapping[str, str] | None = None, fix: bool = False, out: TextIO = sys.stdout
) -> int:
    """Run every step; 0 when all passed, 1 when one failed, 2 for a configuration error."""
    env = dict(os.environ if env is None else env)
    report = Report(out)
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        # Who may call is the service's business, not storage's: say so once, check storage.
        if not str(exc).startswith(AUTH_ERRORS):
            print(f"FAIL  {'configuration':<22} {exc}", file=out)
            return 2
        report.warn("configuration", f"{exc}; the service will not start without it "
                    "(storage is checked anyway)")  # fmt: skip
        try:
            settings = Settings.from_env(env | STAND_IN_AUTH)
        except ConfigError as again:
            print(f"FAIL  {'configuration':<22} {again}", file=out)
            return 2
    with requests.Session() as http:
        Checker(settings, open_store(settings), report, http).run(fix)
    if report.failures:
        print(f"{report.failures} check(s) failed", file=out)
        return 1
    if report.skipped:  # never claim what was not checked
        not_checked = ", ".join(dict.fromkeys(report.skipped))
        print(f"the checks that ran passed; not checked: {not_checked} (see above)", file=out)
        return 0
    print("all checks passed: browsers can upload", file=out)
    return 0
